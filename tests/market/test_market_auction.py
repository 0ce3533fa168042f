"""The call market: McAfee's rule on hand-checked rounds, and its properties on random ones.

The LP optimum is computed independently with HiGHS (``scipy.optimize.linprog``) over the
orders as given, so the closed form the module uses is checked, not assumed.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from suanwang.market import Clearing, Order, clear

D = Decimal


def _orders(prefix: str, prices: list[int], units: list[int] | None = None) -> list[Order]:
    units = units or [1] * len(prices)
    return [
        Order(f"{prefix}{i}", u, D(p).scaleb(-2))
        for i, (p, u) in enumerate(zip(prices, units, strict=False))
    ]


def _lp_welfare(bids: list[Order], asks: list[Order]) -> Decimal:
    """max sum(b x) - sum(s y), sum x = sum y, 0 <= x <= units, by an LP solver."""
    if not bids or not asks:
        return D("0.00")
    b = [float(o.price) for o in bids]
    s = [float(o.price) for o in asks]
    c = np.array([-v for v in b] + s)
    equality = np.array([[1.0] * len(b) + [-1.0] * len(s)])
    bounds = [(0, o.units) for o in bids + asks]
    result = linprog(c, A_eq=equality, b_eq=[0.0], bounds=bounds, method="highs")
    assert result.status == 0
    assert result.fun is not None
    return D(str(round(-result.fun, 2))).quantize(D("0.01"))


def test_all_efficient_units_trade_at_the_midpoint_when_it_fits() -> None:
    bids = _orders("b", [1000, 800, 600, 200])
    asks = _orders("s", [100, 300, 500, 900])
    result = clear(bids, asks)
    assert (result.units, result.efficient_units, result.reduced) == (3, 3, False)
    assert result.buyer_price == result.seller_price == D("5.50")  # (2 + 9) / 2
    assert [(t.buyer, t.seller) for t in result.trades] == [
        ("b0", "s0"),
        ("b1", "s1"),
        ("b2", "s2"),
    ]
    assert result.welfare == result.optimal_welfare == D("15.00")
    assert result.platform_surplus == 0


def test_trade_reduction_drops_the_marginal_pair_and_never_runs_a_deficit() -> None:
    result = clear(_orders("b", [1000, 800, 600]), _orders("s", [100, 300, 500]))
    assert (result.units, result.reduced) == (2, True)
    assert (result.buyer_price, result.seller_price) == (D("6.00"), D("5.00"))
    assert result.platform_surplus == D("2.00")
    assert result.welfare == D("14.00")
    assert result.optimal_welfare == D("15.00")
    assert result.efficiency == pytest.approx(14 / 15)


def test_orders_of_several_units_fill_across_the_other_side() -> None:
    result = clear([Order("b", 5, D("4.00"))], [Order("s", 3, D("1.00")), Order("t", 4, D("2.00"))])
    # k = 5; no sixth bid unit, so the fifth pair is reduced away.
    assert result.efficient_units == 5
    assert result.units == 4
    assert [(t.seller, t.units) for t in result.trades] == [("s", 3), ("t", 1)]
    assert result.paid_by("b") == D("16.00")
    assert result.received_by("s") == D("6.00")


def test_nothing_trades_when_every_bid_is_below_every_ask() -> None:
    result = clear(_orders("b", [100, 50]), _orders("s", [200]))
    assert result.trades == ()
    assert result.units == 0
    assert result.buyer_price is None
    assert result.efficiency == 1.0
    assert clear([], []).units == 0


def test_equal_prices_keep_arrival_order() -> None:
    bids = [Order("late", 1, D("5.00")), Order("early", 1, D("5.00"))]
    bids = [bids[1], bids[0]]  # "early" is given first
    result = clear(bids, _orders("s", [100, 200, 300]))
    assert result.trades[0].buyer == "early"


@pytest.mark.parametrize(
    ("order", "field"),
    [
        (Order("b", 1, D("1.005")), "bids[0].price"),
        (Order("b", 1, D("-1")), "bids[0].price"),
        (Order("b", 0, D("1")), "bids[0].units"),
        (Order("b", 1, 1.5), "bids[0].price"),  # type: ignore[arg-type]
        (Order("b", 1, D("NaN")), "bids[0].price"),
    ],
)
def test_bad_orders_are_refused_naming_the_field(order: Order, field: str) -> None:
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        clear([order], [])


_prices = st.lists(st.integers(min_value=1, max_value=10_000), min_size=0, max_size=30)
_units = st.integers(min_value=1, max_value=6)


@st.composite
def _book(draw: st.DrawFn) -> tuple[list[Order], list[Order]]:
    bid_prices, ask_prices = draw(_prices), draw(_prices)
    bids = _orders("b", bid_prices, [draw(_units) for _ in bid_prices])
    asks = _orders("s", ask_prices, [draw(_units) for _ in ask_prices])
    return bids, asks


def _check_round(bids: list[Order], asks: list[Order], result: Clearing) -> None:
    bought: dict[str, int] = {}
    sold: dict[str, int] = {}
    for trade in result.trades:
        bought[trade.buyer] = bought.get(trade.buyer, 0) + trade.units
        sold[trade.seller] = sold.get(trade.seller, 0) + trade.units
    assert sum(bought.values()) == sum(sold.values()) == result.units
    for order in bids:
        assert bought.get(order.trader, 0) <= order.units
        if bought.get(order.trader):
            assert result.buyer_price is not None
            assert result.buyer_price <= order.price
    for order in asks:
        assert sold.get(order.trader, 0) <= order.units
        if sold.get(order.trader):
            assert result.seller_price is not None
            assert result.seller_price >= order.price
    assert result.platform_surplus >= 0
    paid = sum((result.paid_by(t) for t in bought), D(0))
    received = sum((result.received_by(t) for t in sold), D(0))
    assert paid - received == result.platform_surplus
    assert result.units >= result.efficient_units - 1


@settings(max_examples=200, deadline=None)
@given(_book())
def test_rounds_are_rational_deficit_free_and_near_the_lp_optimum(
    book: tuple[list[Order], list[Order]],
) -> None:
    bids, asks = book
    result = clear(bids, asks)
    _check_round(bids, asks, result)
    assert result.optimal_welfare == _lp_welfare(bids, asks)
    assert result.welfare <= result.optimal_welfare
    if result.efficient_units:
        lost_at_most = result.optimal_welfare / result.efficient_units
        assert result.optimal_welfare - result.welfare <= lost_at_most


def _utility(result: Clearing, trader: str, value: Decimal, buyer: bool) -> Decimal:
    if buyer:
        units = sum(t.units for t in result.trades if t.buyer == trader)
        return units * value - result.paid_by(trader)
    units = sum(t.units for t in result.trades if t.seller == trader)
    return result.received_by(trader) - units * value


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(1, 2_000), min_size=1, max_size=12, unique=True),
    st.lists(st.integers(1, 2_000), min_size=1, max_size=12, unique=True),
    st.integers(0, 23),
    st.integers(1, 2_000),
    st.booleans(),
)
def test_no_trader_of_one_unit_gains_by_misreporting(
    bid_prices: list[int], ask_prices: list[int], who: int, lie: int, buyer: bool
) -> None:
    bids, asks = _orders("b", bid_prices), _orders("s", ask_prices)
    side = bids if buyer else asks
    index = who % len(side)
    truth = side[index]
    honest = _utility(clear(bids, asks), truth.trader, truth.price, buyer)
    side[index] = Order(truth.trader, 1, D(lie).scaleb(-2))
    lying = _utility(clear(bids, asks), truth.trader, truth.price, buyer)
    assert lying <= honest
