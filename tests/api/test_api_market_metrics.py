"""The market's series on /metrics after a real lease, runs and a period close."""

from __future__ import annotations

import pytest
from api_support import CPU_TASK, Api
from prometheus_client.parser import text_string_to_metric_families
from test_api_market import DAY_S, ORDER, RUN_S, hospital_nodes, market, offer, run_task

from suanwang.control.ports import ManualClock

__all__ = ["market"]  # the fixture, imported to be used here

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(api: Api) -> Samples:
    """Every sample of a /metrics page by (name, sorted labels)."""
    page = api.call("ops", "GET", "/metrics")
    assert page.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(page.text)
        for sample in family.samples
    }


def usage(found: Samples, dimension: str, detail: str = "") -> float:
    labels = (("detail", detail), ("dimension", dimension))
    return found[("suanwang_market_usage_total", labels)]


def test_trades_revenue_and_usage_by_dimension(market: tuple[Api, ManualClock]) -> None:
    api, clock = market
    before = samples(api)
    assert ("suanwang_market_leases_started_total", (("rental", "on-demand"),)) not in before
    assert before[("suanwang_market_fees_total", ())] == 0.0

    assert offer(api, "hosp", node_ids=[hospital_nodes(api)[0]]).status_code == 201
    deposit = {"tenant": "acme", "amount": "100.00"}
    assert api.call("ops", "POST", "/v1/market/deposits", json=deposit).status_code == 201
    assert api.call("alice", "POST", "/v1/market/orders", json=ORDER).status_code == 201
    run_task(api, clock, "alice", RUN_S)
    clock.advance(DAY_S)
    assert api.call("ops", "POST", "/v1/market/periods/10/close").status_code == 200

    after = samples(api)
    on_demand = (("rental", "on-demand"),)
    assert after[("suanwang_market_leases_started_total", on_demand)] == 1.0
    assert after[("suanwang_market_leases_active", on_demand)] == 1.0
    assert after[("suanwang_market_revenue_total", (("provider", "hospital"),))] == 36.0
    assert after[("suanwang_market_fees_total", ())] == 4.0
    assert usage(after, "core-s") == RUN_S * CPU_TASK["cpu_cores"]
    assert usage(after, "tasks") == 1.0
    assert usage(samples(api), "tasks") == 1.0  # a scrape again counts nothing twice

    run_task(api, clock, "bob", 60.0)
    assert api.call("alice", "DELETE", "/v1/market/leases/L1", params={"reason": "done"})
    later = samples(api)
    assert usage(later, "tasks") == 2.0
    assert usage(later, "core-s") == pytest.approx((RUN_S + 60.0) * CPU_TASK["cpu_cores"])
    assert later[("suanwang_market_leases_started_total", on_demand)] == 1.0
    assert later[("suanwang_market_leases_active", on_demand)] == 0.0
