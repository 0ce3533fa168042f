"""Usage by dimension and the invoice listing over HTTP (``routes/market_usage.py``).

acme leases the hospital's node and runs ten hours on it in period 10; globex runs a minute
elsewhere in period 11. Periods are one day on a manual clock.
"""

from __future__ import annotations

import pytest
from api_support import CPU_TASK, Api
from test_api_market import DAY_S, ORDER, RUN_S, hospital_nodes, market, offer, run_task

from suanwang.control.ports import ManualClock

__all__ = ["market"]  # the fixture, imported to be used here


@pytest.fixture
def billed(market: tuple[Api, ManualClock]) -> Api:
    api, clock = market
    assert offer(api, "hosp", node_ids=[hospital_nodes(api)[0]]).status_code == 201
    deposit = {"tenant": "acme", "amount": "100.00"}
    assert api.call("ops", "POST", "/v1/market/deposits", json=deposit).status_code == 201
    assert api.call("alice", "POST", "/v1/market/orders", json=ORDER).status_code == 201
    run_task(api, clock, "alice", RUN_S)
    clock.advance(DAY_S)
    assert api.call("ops", "POST", "/v1/market/periods/10/close").status_code == 200
    run_task(api, clock, "bob", 60.0)
    return api


def test_usage_sums_a_period_by_dimension_for_its_tenant(billed: Api) -> None:
    usage = billed.call("alice", "GET", "/v1/market/usage", params={"period": 10}).json()
    assert (usage["tenant"], usage["period"], usage["closed"]) == ("acme", 10, True)
    assert (usage["start_s"], usage["end_s"]) == (10 * DAY_S, 11 * DAY_S)
    by = {d["dimension"]: d for d in usage["dimensions"]}
    assert by["core-s"]["quantity"] == RUN_S * CPU_TASK["cpu_cores"]
    assert by["core-s"]["providers"] == {"hospital": RUN_S * CPU_TASK["cpu_cores"]}
    assert by["tasks"]["quantity"] == 1.0
    now = billed.call("alice", "GET", "/v1/market/usage").json()
    assert (now["period"], now["closed"], now["dimensions"]) == (11, False, [])
    everyone = billed.call("ops", "GET", "/v1/market/usage").json()
    assert everyone["tenant"] is None
    assert {d["dimension"] for d in everyone["dimensions"]} >= {"core-s", "tasks"}
    bob = billed.call("bob", "GET", "/v1/market/usage").json()
    assert bob["tenant"] == "globex"
    assert next(d for d in bob["dimensions"] if d["dimension"] == "tasks")["quantity"] == 1.0
    prying = billed.call("bob", "GET", "/v1/market/usage", params={"tenant": "acme"})
    assert prying.status_code == 403
    assert "'acme'" in prying.json()["detail"]


def test_invoices_list_the_periods_with_charges_newest_first(billed: Api) -> None:
    (invoice,) = billed.call("alice", "GET", "/v1/market/invoices").json()
    bill = billed.call("alice", "GET", "/v1/market/bills/10").json()
    assert invoice == bill
    assert (invoice["period"], invoice["closed"], invoice["total"]) == (10, True, "40.53")
    (open_one,) = billed.call("bob", "GET", "/v1/market/invoices").json()
    assert (open_one["tenant"], open_one["period"], open_one["closed"]) == ("globex", 11, False)
    assert billed.call("bob", "GET", "/v1/market/invoices", params={"last": 1}).json()
    staff = billed.call("ops", "GET", "/v1/market/invoices", params={"tenant": "acme"}).json()
    assert staff == [invoice]
    too_far = billed.call("alice", "GET", "/v1/market/invoices", params={"last": 0})
    assert too_far.status_code == 422
    assert "last" in too_far.text
