"""Reverse auctions: lowest quote wins and is paid the second; truthful for providers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.market import Quote, award

D = Decimal


def test_lowest_quote_wins_and_is_paid_the_second_lowest() -> None:
    quotes = [Quote("a", D("90.00"), 1.0), Quote("b", D("70.00"), 2.0), Quote("c", D("80.00"), 3.0)]
    result = award(D("100.00"), 10.0, quotes)
    assert result is not None
    assert (result.provider, result.quoted, result.paid) == ("b", D("70.00"), D("80.00"))


def test_a_single_quote_is_paid_the_maximum_and_late_or_dear_quotes_do_not_count() -> None:
    quotes = [
        Quote("a", D("60.00"), 1.0),
        Quote("b", D("50.00"), 11.0),
        Quote("c", D("101.00"), 2.0),
    ]
    result = award(D("100.00"), 10.0, quotes)
    assert result is not None
    assert (result.provider, result.paid) == ("a", D("100.00"))
    assert award(D("10.00"), 10.0, quotes) is None


def test_ties_go_to_the_earlier_quote() -> None:
    result = award(D("9.00"), 5.0, [Quote("late", D("5.00"), 2.0), Quote("early", D("5.00"), 1.0)])
    assert result is not None
    assert result.provider == "early"
    assert result.paid == D("5.00")


def test_bad_prices_are_named() -> None:
    with pytest.raises(ValueError, match=r"quotes\[1\]\.price"):
        award(D("9.00"), 5.0, [Quote("a", D("5.00"), 1.0), Quote("b", D("5.001"), 1.0)])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(1, 1_000), min_size=1, max_size=10),
    st.integers(0, 9),
    st.integers(1, 1_200),
    st.integers(1, 1_200),
)
def test_no_provider_gains_by_misquoting_its_cost(
    costs: list[int], who: int, lie: int, ceiling: int
) -> None:
    index = who % len(costs)

    def profit(quoted: list[int]) -> Decimal:
        quotes = [Quote(f"p{i}", D(c).scaleb(-2), float(i)) for i, c in enumerate(quoted)]
        result = award(D(ceiling).scaleb(-2), 100.0, quotes)
        if result is None or result.provider != f"p{index}":
            return D(0)
        assert result.quoted <= result.paid <= D(ceiling).scaleb(-2)
        return result.paid - D(costs[index]).scaleb(-2)

    lying = list(costs)
    lying[index] = lie
    assert profit(lying) <= profit(costs)
