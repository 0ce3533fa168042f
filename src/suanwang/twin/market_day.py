"""The twin's market mode: a day of call-market rounds between providers and consumers.

Every node of the scenario with a price is one unit its owner asks for each round, at its
cost: the node's price per hour times the round's hours. Consumers hold a value per unit (drawn
once, log-normal around ``markup`` times the median cost) that moves a little each round; a
consumer bids in a round with a probability that follows the day (lowest at 04:00, highest at
16:00). Each round clears with ``market.auction.clear`` (McAfee's double auction with trade
reduction) and reports its prices, welfare, the LP-optimal welfare and their ratio.

Traders report truthfully: for traders of one unit, as here, that is a dominant strategy of the
mechanism, so the figures are what the mechanism gives at equilibrium. Seeded: one seed, one
day, on any machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

from suanwang.market.auction import Clearing, Order, clear
from suanwang.model import Scenario

HOURS_PER_DAY = 24.0
CENT = Decimal("0.01")
VALUE_SIGMA = 0.5
"""Spread of the consumers' values (log-normal sigma)."""

ROUND_NOISE = 0.1
"""How much a consumer's value moves from round to round (relative, normal)."""

QUIET_SHARE = 0.2
"""Share of consumers bidding at the quietest hour; all of them bid at the busiest."""


class MarketDayError(ValueError):
    """A market day that cannot be run: no priced node, or a setting out of range."""


@dataclass(frozen=True, slots=True)
class MarketDayConfig:
    """How the day runs.

    Attributes:
        rounds: Call-market rounds in the day (24: one an hour), 1 to 1,440.
        consumers: Consumers; None gives one and a half per unit offered.
        markup: Consumers' median value over the providers' median cost, > 0.
        seed: Seed of the values and of who bids.
    """

    rounds: int = 24
    consumers: int | None = None
    markup: float = 1.2
    seed: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.rounds <= 1440:
            raise MarketDayError(f"rounds: {self.rounds!r} is not 1 to 1440")
        if self.consumers is not None and self.consumers < 1:
            raise MarketDayError(f"consumers: {self.consumers!r} is not a count >= 1")
        if not (math.isfinite(self.markup) and self.markup > 0):
            raise MarketDayError(f"markup: {self.markup!r} is not a positive number")


@dataclass(frozen=True, slots=True)
class MarketRound:
    """One round's outcome.

    Attributes:
        round: Its number, from 0.
        hour: The hour of the day it clears at (its start).
        bids: Consumers bidding (one unit each).
        asks: Units offered (one a node).
        clearing: The auction's outcome (trades, prices, welfare, optimum, surplus).
    """

    round: int
    hour: float
    bids: int
    asks: int
    clearing: Clearing


@dataclass(frozen=True, slots=True)
class MarketDay:
    """A day of rounds, with its totals."""

    rounds: tuple[MarketRound, ...]
    consumers: int
    providers: int

    @property
    def welfare(self) -> Decimal:
        """Welfare over the day."""
        return sum((r.clearing.welfare for r in self.rounds), Decimal("0.00"))

    @property
    def optimal_welfare(self) -> Decimal:
        """The LP-optimal welfare over the day (the sum of the rounds' optima)."""
        return sum((r.clearing.optimal_welfare for r in self.rounds), Decimal("0.00"))

    @property
    def efficiency(self) -> float:
        """The day's welfare over its optimum (1.0 when nothing could trade)."""
        best = self.optimal_welfare
        return 1.0 if best == 0 else float(self.welfare / best)

    @property
    def units(self) -> int:
        """Units traded over the day."""
        return sum(r.clearing.units for r in self.rounds)

    @property
    def platform_surplus(self) -> Decimal:
        """What the trade reductions left to the platform over the day."""
        return sum((r.clearing.platform_surplus for r in self.rounds), Decimal("0.00"))


def _cents(value: float) -> Decimal:
    """A positive amount rounded to a cent (at least one cent)."""
    return max(Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_EVEN), CENT)


def bidding_share(hour: float) -> float:
    """Share of consumers bidding at ``hour``: ``QUIET_SHARE`` at 04:00, 1.0 at 16:00."""
    wave = 0.5 - 0.5 * math.cos(2.0 * math.pi * (hour - 4.0) / HOURS_PER_DAY)
    return QUIET_SHARE + (1.0 - QUIET_SHARE) * wave


def market_day(scenario: Scenario, config: MarketDayConfig) -> MarketDay:
    """Run the day (see the module docstring).

    Raises:
        MarketDayError: the scenario has no node with a price.
    """
    hours = HOURS_PER_DAY / config.rounds
    priced = sorted(
        (node for node in scenario.topology.nodes.values() if node.price_per_hour > 0),
        key=lambda node: node.id,
    )
    if not priced:
        raise MarketDayError(f"scenario {scenario.name!r}: no node has a price_per_hour")
    asks = [Order(node.owner, 1, _cents(node.price_per_hour * hours)) for node in priced]
    costs = np.array([float(a.price) for a in asks])
    count = config.consumers or max(1, round(1.5 * len(asks)))
    rng = np.random.default_rng(config.seed)
    median = config.markup * float(np.median(costs))
    values = median * rng.lognormal(0.0, VALUE_SIGMA, count)
    rounds = []
    for number in range(config.rounds):
        hour = number * hours
        bidding = rng.random(count) < bidding_share(hour)
        moved = values * np.maximum(rng.normal(1.0, ROUND_NOISE, count), 0.01)
        bids = [Order(f"consumer-{i}", 1, _cents(float(moved[i]))) for i in np.flatnonzero(bidding)]
        rounds.append(MarketRound(number, hour, len(bids), len(asks), clear(bids, asks)))
    return MarketDay(tuple(rounds), count, len({node.owner for node in priced}))


def day_data(day: MarketDay) -> dict[str, object]:
    """The day as plain data: per round and in total (money as decimal strings)."""

    def money(amount: Decimal | None) -> str | None:
        return None if amount is None else f"{amount:.2f}"

    return {
        "consumers": day.consumers,
        "providers": day.providers,
        "rounds": [
            {
                "round": r.round,
                "hour": r.hour,
                "bids": r.bids,
                "asks": r.asks,
                "units": r.clearing.units,
                "efficient_units": r.clearing.efficient_units,
                "buyer_price": money(r.clearing.buyer_price),
                "seller_price": money(r.clearing.seller_price),
                "reduced": r.clearing.reduced,
                "welfare": money(r.clearing.welfare),
                "optimal_welfare": money(r.clearing.optimal_welfare),
                "efficiency": r.clearing.efficiency,
                "platform_surplus": money(r.clearing.platform_surplus),
            }
            for r in day.rounds
        ],
        "units": day.units,
        "welfare": money(day.welfare),
        "optimal_welfare": money(day.optimal_welfare),
        "efficiency": day.efficiency,
        "platform_surplus": money(day.platform_surplus),
    }
