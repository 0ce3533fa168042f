"""``suanwang twin market``: a day of call-market rounds in the twin (``twin.market_day``).

Providers ask for their nodes at cost, consumers bid their values, each round clears with
the double auction with trade reduction; the table shows each round's price, units traded,
welfare and efficiency (welfare over the LP optimum), then the day's totals. ``-o wide`` adds
the sellers' price, the optimum and the platform's surplus; ``-o json|yaml`` the same as data.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Group

from suanwang.cli.common import bad_input_exits
from suanwang.cli.output import AsJson, Kind, Output, chosen, emit, whole_table


def _hour(hour: float) -> str:
    whole = int(hour)
    return f"{whole:02d}:{round((hour - whole) * 60):02d}"


def _price(price: str | None) -> str:
    return "-" if price is None else price


def market_day_view(day: dict[str, Any], wide: bool = False) -> Group:
    """One row per round (price, units, welfare, efficiency), then the day's totals."""
    columns: list[tuple[str, Kind]] = [("round", "number"), ("hour", "id"), ("bids", "number")]
    columns += [("asks", "number"), ("traded", "number"), ("price", "number")]
    if wide:
        columns += [("seller", "number"), ("optimum", "number"), ("surplus", "number")]
    columns += [("welfare", "number"), ("efficiency", "number")]
    rows = []
    for r in day["rounds"]:
        row = [str(r["round"]), _hour(r["hour"]), f"{r['bids']:,}", f"{r['asks']:,}"]
        row += [f"{r['units']:,}", _price(r["buyer_price"])]
        if wide:
            row += [_price(r["seller_price"]), r["optimal_welfare"], r["platform_surplus"]]
        rows.append([*row, r["welfare"], f"{r['efficiency']:.4f}"])
    rounds = whole_table(columns, rows, title="call-market rounds")
    sums: list[tuple[str, Kind]] = [("consumers", "number"), ("providers", "number")]
    sums += [("traded", "number"), ("welfare", "number"), ("optimum", "number")]
    sums += [("efficiency", "number"), ("surplus", "number")]
    total = [f"{day['consumers']:,}", f"{day['providers']:,}", f"{day['units']:,}"]
    total += [day["welfare"], day["optimal_welfare"], f"{day['efficiency']:.4f}"]
    summary = whole_table(sums, [[*total, day["platform_surplus"]]], title="the day")
    return Group(rounds, summary)


def twin_market(
    scenario: Annotated[str, typer.Argument(help="A built-in name or a scenario file.")],
    *,
    rounds: Annotated[int, typer.Option(min=1, max=1440, help="Rounds in the day.")] = 24,
    consumers: Annotated[
        int | None, typer.Option(min=1, help="Consumers (default: 1.5 per unit offered).")
    ] = None,
    markup: Annotated[
        float, typer.Option(min=0.01, help="Consumers' median value over the median cost.")
    ] = 1.2,
    seed: Annotated[int, typer.Option("--seed", "-s", min=0, help="Seed of values and bids.")] = 1,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """A day of call-market rounds: prices, welfare and efficiency per round and in total."""
    from suanwang.scenario import ScenarioError, resolve_scenario  # noqa: PLC0415
    from suanwang.twin.market_day import (  # noqa: PLC0415
        MarketDayConfig,
        MarketDayError,
        day_data,
        market_day,
    )

    with bad_input_exits(ScenarioError, MarketDayError):
        config = MarketDayConfig(rounds=rounds, consumers=consumers, markup=markup, seed=seed)
        day = market_day(resolve_scenario(scenario), config)
    emit(day_data(day), chosen(fmt, as_json), market_day_view)
