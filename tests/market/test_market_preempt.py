"""Pre-emption of interruptible leases: only outbid ones, cheapest first, only as many as needed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from suanwang.market import Lease, Rental, preempt_for

D = Decimal


def _leases() -> list[Lease]:
    return [
        Lease("l1", "a", "o1", 2, D("1.00"), Rental.INTERRUPTIBLE, 10.0),
        Lease("l2", "b", "o1", 2, D("1.00"), Rental.INTERRUPTIBLE, 20.0),
        Lease("l3", "c", "o1", 4, D("0.50"), Rental.INTERRUPTIBLE, 5.0),
        Lease("l4", "d", "o1", 4, D("0.10"), Rental.ON_DEMAND, 1.0),
        Lease("l5", "e", "o1", 4, D("3.00"), Rental.INTERRUPTIBLE, 1.0),
        Lease("l6", "f", "o2", 4, D("0.10"), Rental.INTERRUPTIBLE, 1.0),
    ]


def _ids(result: object) -> list[str]:
    assert result is not None
    return [lease.lease_id for lease in result.leases]  # type: ignore[attr-defined]


def test_cheapest_outbid_leases_go_first_newest_first_on_ties() -> None:
    kw = {"price": D("2.00"), "leases": _leases(), "now_s": 100.0, "notice_s": 30.0}
    result = preempt_for("o1", units_needed=5, free_units=0, **kw)  # type: ignore[arg-type]
    assert _ids(result) == ["l3", "l2"]
    assert result is not None
    assert result.units == 6
    assert result.ends_at_s == 130.0


def test_free_capacity_pre_empts_nothing_and_too_little_pre_empts_none() -> None:
    kw = {"price": D("2.00"), "leases": _leases(), "now_s": 0.0, "notice_s": 0.0}
    assert _ids(preempt_for("o1", units_needed=3, free_units=3, **kw)) == []  # type: ignore[arg-type]
    # On-demand l4 and the dearer l5 are never taken: 8 units at most can be freed.
    assert preempt_for("o1", units_needed=9, free_units=0, **kw) is None  # type: ignore[arg-type]


def test_bad_figures_are_refused() -> None:
    with pytest.raises(ValueError, match="units_needed"):
        preempt_for("o1", units_needed=0, free_units=0, price=D(1), leases=[], now_s=0, notice_s=0)
