"""The market's events feed over HTTP, read back with the ``cloudevents`` package.

A provider offers a node, acme leases it and runs a task there, globex runs one elsewhere, and
period 10 closes: the feed holds the lease's start and settlement, both runs' usage and the
close, as CloudEvents with stable, unique ids, paged by a cursor.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from api_support import CPU_TASK, Api
from cloudevents.core.formats.json import JSONFormat
from test_api_market import DAY_S, ORDER, RUN_S, hospital_nodes, market, offer, run_task

from suanwang.control.ports import ManualClock

__all__ = ["market"]  # the fixture, imported to be used here

BATCH = "application/cloudevents-batch+json"


def read_all(api: Api, who: str, limit: int) -> Iterator[Any]:
    """Every event ``who`` sees, page by page of ``limit``, parsed by the cloudevents package."""
    after = ""
    for _ in range(100):  # far more pages than the feed holds
        page = api.call(who, "GET", "/v1/market/events", params={"after": after, "limit": limit})
        assert page.status_code == 200, page.text
        assert page.headers["content-type"] == BATCH
        items = page.json()
        assert len(items) <= limit
        for item in items:
            yield JSONFormat().read(None, json.dumps(item))
        if not items:
            assert page.headers["x-next-cursor"] == (after or page.headers["x-next-cursor"])
            return
        after = page.headers["x-next-cursor"]
    raise AssertionError("the feed did not end")


@pytest.fixture
def traded(market: tuple[Api, ManualClock]) -> Api:
    api, clock = market
    leased = hospital_nodes(api)[0]
    assert offer(api, "hosp", node_ids=[leased]).status_code == 201
    deposit = {"tenant": "acme", "amount": "100.00"}
    assert api.call("ops", "POST", "/v1/market/deposits", json=deposit).status_code == 201
    assert api.call("alice", "POST", "/v1/market/orders", json=ORDER).status_code == 201
    assert run_task(api, clock, "alice", RUN_S) == leased
    assert run_task(api, clock, "bob", 60.0) != leased
    clock.advance(DAY_S)
    assert api.call("ops", "POST", "/v1/market/periods/10/close").status_code == 200
    return api


def test_the_feed_holds_usage_leases_and_the_close_with_stable_ids(traded: Api) -> None:
    events = list(read_all(traded, "ops", limit=3))
    ids = [event.get_id() for event in events]
    assert len(ids) == len(set(ids))
    assert [e.get_id() for e in read_all(traded, "ops", limit=1000)] == ids
    types = [event.get_type() for event in events]
    assert types[0] == "net.suanwang.lease.started"
    assert types[-2:] == ["net.suanwang.lease.settled", "net.suanwang.period.closed"]
    assert {"net.suanwang.usage.core-s", "net.suanwang.usage.gib-s"} <= set(types)
    times = [event.get_time() for event in events]
    assert times == sorted(times)  # newest last

    usage = [e for e in events if e.get_type() == "net.suanwang.usage.core-s"]
    acme = next(e for e in usage if e.get_data()["tenant"] == "acme")  # type: ignore[index]
    data = acme.get_data()
    assert isinstance(data, dict)
    assert data["value"] == RUN_S * CPU_TASK["cpu_cores"]
    assert (data["unit"], data["provider"]) == ("core-s", "hospital")
    assert acme.get_id() == f"{data['run_id']}/core-s"
    assert acme.get_subject() == f"run/{data['run_id']}"
    settled = next(e for e in events if e.get_type() == "net.suanwang.lease.settled")
    assert settled.get_id() == "lease/L1/settled/10"
    figures = settled.get_data()
    assert isinstance(figures, dict)
    assert {k: figures[k] for k in ("tenant", "period", "charge", "payout", "fee")} == {
        "tenant": "acme",
        "period": 10,
        "charge": "40.00",
        "payout": "36.00",
        "fee": "4.00",
    }


def test_a_consumer_sees_only_its_tenants_events(traded: Api) -> None:
    everyone = list(read_all(traded, "ops", limit=100))
    alice = list(read_all(traded, "alice", limit=100))
    bob = list(read_all(traded, "bob", limit=100))
    tenants = {
        e.get_data()["tenant"]  # type: ignore[index]
        for e in everyone
        if e.get_type().startswith("net.suanwang.usage.")
    }
    assert tenants == {"acme", "globex"}
    for mine, tenant in ((alice, "acme"), (bob, "globex")):
        assert mine, tenant
        for event in mine:
            data = event.get_data()
            assert isinstance(data, dict)
            assert event.get_type() == "net.suanwang.period.closed" or data["tenant"] == tenant
    assert "lease/L1/started" in {e.get_id() for e in alice}
    assert "lease/L1/started" not in {e.get_id() for e in bob}


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"after": "not-a-cursor"}, "after: 'not-a-cursor' is not a cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 5000}, "limit"),
    ],
)
def test_a_malformed_cursor_or_limit_is_refused(
    traded: Api, params: dict[str, Any], named: str
) -> None:
    refused = traded.call("alice", "GET", "/v1/market/events", params=params)
    assert refused.status_code == 422
    assert named in refused.text
