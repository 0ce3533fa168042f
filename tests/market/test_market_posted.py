"""Posted-price fills: cheapest eligible first, all or nothing, nothing sold twice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.market import NoFillError, Offer, Rental, Want, fill_posted
from suanwang.model import TrustLevel

D = Decimal
GPU = "gpu-a100.hour"


def _offers() -> list[Offer]:
    return [
        Offer("o1", "p1", GPU, 4, D("3.00"), "CN-GZ"),
        Offer("o2", "p2", GPU, 4, D("2.00"), "CN-NM", TrustLevel.UNTRUSTED),
        Offer("o3", "p3", GPU, 8, D("2.50"), "CN-GZ"),
        Offer("o4", "p4", "cpu.core-hour", 64, D("0.05"), "CN-GZ"),
        Offer("o5", "p5", GPU, 8, D("1.00"), "CN-GZ", rental=Rental.INTERRUPTIBLE),
    ]


def test_cheapest_eligible_offers_fill_first() -> None:
    fills = fill_posted(Want("t", GPU, 10, D("5.00")), _offers())
    assert [(f.offer_id, f.units) for f in fills] == [("o2", 4), ("o3", 6)]
    assert sum(f.amount for f in fills) == D("23.00")


def test_region_trust_and_rental_class_limit_the_offers() -> None:
    fills = fill_posted(Want("t", GPU, 6, D("5.00"), frozenset({"CN-GZ"})), _offers())
    assert [(f.offer_id, f.units) for f in fills] == [("o3", 6)]
    trusted = fill_posted(Want("t", GPU, 10, D("5.00"), min_trust=TrustLevel.BASIC), _offers())
    assert "o2" not in {f.offer_id for f in trusted}
    cheap = fill_posted(Want("t", GPU, 8, D("1.00"), rental=Rental.INTERRUPTIBLE), _offers())
    assert [f.offer_id for f in cheap] == ["o5"]


def test_units_already_sold_are_not_sold_again() -> None:
    fills = fill_posted(Want("t", GPU, 4, D("5.00")), _offers(), sold={"o2": 4, "o3": 6})
    assert [(f.offer_id, f.units) for f in fills] == [("o3", 2), ("o1", 2)]


@pytest.mark.parametrize(
    ("want", "reason"),
    [
        (Want("t", "npu.hour", 1, D("9.00")), "0 of 1 units are for sale of unit 'npu.hour'"),
        (
            Want("t", GPU, 9, D("9.00"), frozenset({"CN-NM"})),
            "4 of 9 units are for sale in regions",
        ),
        (Want("t", GPU, 13, D("9.00"), min_trust=TrustLevel.BASIC), "12 of 13 units .* trust"),
        (Want("t", GPU, 5, D("2.00")), "4 of 5 units are for sale at <= 2.00 a unit"),
    ],
)
def test_a_request_that_cannot_fill_names_the_limit(want: Want, reason: str) -> None:
    with pytest.raises(NoFillError, match=reason):
        fill_posted(want, _offers())


def test_malformed_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="units"):
        fill_posted(Want("t", GPU, 0, D("1.00")), _offers())
    with pytest.raises(ValueError, match="max_price"):
        fill_posted(Want("t", GPU, 1, D("1.001")), _offers())


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 10), st.integers(1, 500)), min_size=1, max_size=8),
    st.lists(st.tuples(st.integers(1, 12), st.integers(1, 500)), max_size=30),
)
def test_no_capacity_is_sold_twice_over_any_sequence_of_requests(
    offers_spec: list[tuple[int, int]], wants: list[tuple[int, int]]
) -> None:
    offers = [
        Offer(f"o{i}", f"p{i}", GPU, units, D(cents).scaleb(-2), "CN-GZ")
        for i, (units, cents) in enumerate(offers_spec)
    ]
    sold: dict[str, int] = {}
    for units, cents in wants:
        want = Want("t", GPU, units, D(cents).scaleb(-2))
        try:
            fills = fill_posted(want, offers, sold)
        except NoFillError:
            eligible = sum(
                o.units - sold.get(o.offer_id, 0) for o in offers if o.price <= want.max_price
            )
            assert eligible < units
            continue
        assert sum(f.units for f in fills) == units
        assert all(f.price <= want.max_price for f in fills)
        for fill in fills:
            sold[fill.offer_id] = sold.get(fill.offer_id, 0) + fill.units
        assert all(sold.get(o.offer_id, 0) <= o.units for o in offers)
