"""Periodic call market for one standard unit: a double auction with McAfee's trade reduction.

A round collects bids (buyers: units wanted, the most they pay a unit) and asks (sellers:
units offered, the least they take a unit) and clears them at once. Units are ranked as one
stream per side: bids by price down, asks by price up, ties by arrival (the order given).
The efficient quantity ``k`` is the largest with the ``k``-th bid unit at or above the
``k``-th ask unit. Then (McAfee 1992):

* if the midpoint ``p`` of the ``(k+1)``-th bid and ask units lies between the ``k``-th ask
  and bid, all ``k`` units trade at ``p``: efficient and budget-balanced;
* otherwise the ``k``-th units are left out (the trade reduction): ``k - 1`` units trade,
  buyers pay the ``k``-th bid, sellers receive the ``k``-th ask, the platform keeps the
  difference; never a deficit.

What it gives up: no double auction is at once efficient, truthful, individually rational
and budget-balanced (Myerson-Satterthwaite). This one is truthful for traders of one unit
(bidding the true value is a dominant strategy), individually rational (a buyer never pays
above its bid, a seller never receives below its ask) and never runs a deficit, and gives up
efficiency: at most one unit of the efficient ``k`` is not traded, so the round's welfare is
at least ``(k - 1) / k`` of the optimum. A trader of several units may gain by shading its
bid on the marginal unit (demand reduction); the tests check truthfulness for one unit.

``optimal_welfare`` is the LP optimum of the round: for one homogeneous good, trading the
``k`` highest bid units against the ``k`` lowest ask units solves the LP
``max sum(b x) - sum(s y)`` subject to ``sum x = sum y`` and ``0 <= x, y <= units``
(checked against an LP solver in the tests). Prices are whole cents, kept as integers inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from suanwang.market.money import money, round_cents

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Order:
    """A bid or an ask of one round: ``units`` of the market's standard unit.

    Attributes:
        trader: Who bids or asks (a tenant or a provider id); named in the trades.
        units: Whole units wanted (a bid) or offered (an ask), at least 1.
        price: Per unit, whole cents: the most a buyer pays, the least a seller takes.
    """

    trader: str
    units: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class Trade:
    """Units moving from one seller to one buyer in a round, at the round's two prices."""

    buyer: str
    seller: str
    units: int


@dataclass(frozen=True, slots=True)
class Clearing:
    """The outcome of one round.

    Attributes:
        trades: Who buys how many units from whom.
        units: Units traded (sum over ``trades``).
        buyer_price: What a buyer pays a unit (``None`` when nothing trades).
        seller_price: What a seller receives a unit; equal to ``buyer_price`` unless reduced.
        reduced: Whether the trade reduction left the marginal unit out.
        efficient_units: ``k``, the units an efficient allocation trades.
        welfare: Sum over traded units of (bid - ask), at the traders' reported prices.
        optimal_welfare: The LP-optimal welfare of the round (the ``k`` efficient units).
        platform_surplus: Buyers' payments minus sellers' receipts (never negative).
    """

    trades: tuple[Trade, ...]
    units: int
    buyer_price: Decimal | None
    seller_price: Decimal | None
    reduced: bool
    efficient_units: int
    welfare: Decimal
    optimal_welfare: Decimal
    platform_surplus: Decimal

    @property
    def efficiency(self) -> float:
        """Welfare over the optimum (1.0 when the optimum is zero: nothing could trade)."""
        if self.optimal_welfare == 0:
            return 1.0
        return float(self.welfare / self.optimal_welfare)

    def paid_by(self, trader: str) -> Decimal:
        """What ``trader`` pays as a buyer this round (zero when it bought nothing)."""
        units = sum(t.units for t in self.trades if t.buyer == trader)
        return (self.buyer_price or Decimal(0)) * units

    def received_by(self, trader: str) -> Decimal:
        """What ``trader`` receives as a seller this round (zero when it sold nothing)."""
        units = sum(t.units for t in self.trades if t.seller == trader)
        return (self.seller_price or Decimal(0)) * units


class _Side:
    """One side's unit stream: orders in rank order, their cumulative units and cent prices."""

    def __init__(self, orders: Sequence[Order], descending: bool, label: str) -> None:
        cents = np.array([_cents(o, i, label) for i, o in enumerate(orders)], dtype=np.int64)
        units = np.array([_units(o, i, label) for i, o in enumerate(orders)], dtype=np.int64)
        # A stable sort keeps arrival order among equal prices (time priority).
        order = np.argsort(-cents if descending else cents, kind="stable")
        self.orders = [orders[int(i)] for i in order]
        self.cents: IntArray = cents[order]
        self.cumulative: IntArray = np.cumsum(units[order])
        self.total = int(self.cumulative[-1]) if len(orders) else 0

    def price_of_unit(self, unit: int) -> int:
        """Cent price of the ``unit``-th unit (1-based) of the stream."""
        return int(self.cents[int(np.searchsorted(self.cumulative, unit, side="left"))])

    def value_of_first(self, units: int) -> int:
        """Sum of the cent prices of the first ``units`` units."""
        if units <= 0:
            return 0
        last = int(np.searchsorted(self.cumulative, units, side="left"))
        whole = self.cumulative[:last]
        full = int(np.dot(np.diff(whole, prepend=0), self.cents[:last])) if last else 0
        taken = units - (int(whole[-1]) if last else 0)
        return full + taken * int(self.cents[last])


def clear(bids: Sequence[Order], asks: Sequence[Order]) -> Clearing:
    """Clear one round of the call market (module docstring: the rule and what it gives up).

    Raises ``ValueError`` naming the order (``bids[3].price``) for a price that is not whole
    cents or negative, or a count of units below 1. Time: O(n log n) in the orders, however
    many units each holds.
    """
    buy = _Side(bids, descending=True, label="bids")
    sell = _Side(asks, descending=False, label="asks")
    k = _efficient_units(buy, sell)
    optimal = buy.value_of_first(k) - sell.value_of_first(k)
    if k == 0:
        return _nothing(k, optimal)
    traded, buyer_cents, seller_cents, reduced = _prices(buy, sell, k)
    if traded == 0:
        return _nothing(k, optimal)
    welfare = buy.value_of_first(traded) - sell.value_of_first(traded)
    buyer_price = round_cents(Decimal(buyer_cents) / 200) if not reduced else _dec(buyer_cents)
    seller_price = buyer_price if not reduced else _dec(seller_cents)
    return Clearing(
        trades=tuple(_match(buy, sell, traded)),
        units=traded,
        buyer_price=buyer_price,
        seller_price=seller_price,
        reduced=reduced,
        efficient_units=k,
        welfare=_dec(welfare),
        optimal_welfare=_dec(optimal),
        platform_surplus=(buyer_price - seller_price) * traded,
    )


def _efficient_units(buy: _Side, sell: _Side) -> int:
    """Largest ``k`` with bid unit ``k`` >= ask unit ``k`` (their difference only falls)."""
    low, high = 0, min(buy.total, sell.total)
    while low < high:  # bounded: ~log2(units) halvings
        mid = (low + high + 1) // 2
        if buy.price_of_unit(mid) >= sell.price_of_unit(mid):
            low = mid
        else:
            high = mid - 1
    return low


def _prices(buy: _Side, sell: _Side, k: int) -> tuple[int, int, int, bool]:
    """(units traded, buyer price, seller price, reduced); the unreduced price is 2x cents."""
    b_k, s_k = buy.price_of_unit(k), sell.price_of_unit(k)
    if k < buy.total and k < sell.total:
        twice_p = buy.price_of_unit(k + 1) + sell.price_of_unit(k + 1)
        if 2 * s_k <= twice_p <= 2 * b_k:
            return k, twice_p, twice_p, False
    return k - 1, b_k, s_k, True


def _match(buy: _Side, sell: _Side, units: int) -> list[Trade]:
    """Pair the first ``units`` bid units with the first ``units`` ask units, in rank order."""
    trades: list[Trade] = []
    i = j = 0
    left_b = buy.orders[0].units if buy.orders else 0
    left_s = sell.orders[0].units if sell.orders else 0
    remaining = units
    while remaining > 0:  # bounded: each pass uses up an order on one side
        n = min(left_b, left_s, remaining)
        trades.append(Trade(buy.orders[i].trader, sell.orders[j].trader, n))
        remaining -= n
        left_b -= n
        left_s -= n
        if left_b == 0 and remaining:
            i += 1
            left_b = buy.orders[i].units
        if left_s == 0 and remaining:
            j += 1
            left_s = sell.orders[j].units
    return trades


def _nothing(k: int, optimal: int) -> Clearing:
    zero = Decimal("0.00")
    return Clearing((), 0, None, None, k > 0, k, zero, _dec(optimal), zero)


def _dec(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _cents(order: Order, index: int, label: str) -> int:
    price = money(order.price, f"{label}[{index}].price")
    return int(price * 100)


def _units(order: Order, index: int, label: str) -> int:
    if isinstance(order.units, bool) or not isinstance(order.units, int) or order.units < 1:
        raise ValueError(f"{label}[{index}].units: {order.units!r} is not a whole count >= 1")
    return order.units
