"""The twin's market mode: a day of call-market rounds on a built-in scenario."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from suanwang.scenario import resolve_scenario
from suanwang.twin.market_day import (
    MarketDayConfig,
    MarketDayError,
    bidding_share,
    day_data,
    market_day,
)


def test_a_day_reports_prices_welfare_and_efficiency_per_round() -> None:
    scenario = resolve_scenario("metro-edge")
    day = market_day(scenario, MarketDayConfig(rounds=24, seed=3))
    priced = [n for n in scenario.topology.nodes.values() if n.price_per_hour > 0]
    assert len(day.rounds) == 24
    assert day.providers == len({n.owner for n in priced})
    for r in day.rounds:
        c = r.clearing
        assert r.asks == len(priced)
        assert r.hour == r.round
        assert c.welfare <= c.optimal_welfare
        assert c.platform_surplus >= 0  # the mechanism never runs a deficit
        if c.efficient_units:
            # The trade reduction leaves at most the marginal unit out.
            assert c.units >= c.efficient_units - 1
            assert c.efficiency >= (c.efficient_units - 1) / c.efficient_units
            assert c.buyer_price is not None
            assert c.seller_price is not None
            assert c.buyer_price >= c.seller_price
    assert day.welfare == sum((r.clearing.welfare for r in day.rounds), Decimal("0"))
    assert 0.99 <= day.efficiency <= 1.0
    quiet, busy = day.rounds[4], day.rounds[16]  # 04:00 and 16:00
    assert busy.bids > quiet.bids
    assert busy.clearing.buyer_price is not None
    assert quiet.clearing.buyer_price is not None
    assert busy.clearing.buyer_price > quiet.clearing.buyer_price  # demand raises the price
    assert busy.clearing.units >= quiet.clearing.units


def test_a_seed_gives_one_day_and_another_seed_another() -> None:
    scenario = resolve_scenario("metro-edge")
    config = MarketDayConfig(rounds=6, consumers=80, seed=7)
    first = day_data(market_day(scenario, config))
    assert day_data(market_day(scenario, config)) == first
    other = day_data(market_day(scenario, dataclasses.replace(config, seed=8)))
    assert other != first
    assert first["consumers"] == 80


def test_bidding_follows_the_day() -> None:
    assert bidding_share(4.0) == pytest.approx(0.2)
    assert bidding_share(16.0) == pytest.approx(1.0)
    assert bidding_share(4.0) < bidding_share(10.0) < bidding_share(16.0)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"rounds": 0}, "rounds: 0 is not 1 to 1440"),
        ({"consumers": 0}, "consumers: 0"),
        ({"markup": float("nan")}, "markup: nan"),
    ],
)
def test_bad_settings_name_the_field(fields: dict[str, float], named: str) -> None:
    with pytest.raises(MarketDayError, match=named):
        MarketDayConfig(**fields)  # type: ignore[arg-type]


def test_a_scenario_without_prices_is_refused() -> None:
    scenario = resolve_scenario("metro-edge")
    nodes = [dataclasses.replace(n, price_per_hour=0.0) for n in scenario.topology.nodes.values()]
    free = dataclasses.replace(scenario, topology=scenario.topology.updated(*nodes))
    with pytest.raises(MarketDayError, match="no node has a price_per_hour"):
        market_day(free, MarketDayConfig())
