"""The market over HTTP: a provider offers, a consumer leases, its run is metered and billed.

Billing periods are one day on a manual clock that starts in period 10; the platform keeps a
tenth of every lease settlement; usage is rated under the built-in plan.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_support import CPU_TASK, Api, make_settings, seed_principals

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note on httpx
    from fastapi.testclient import TestClient

from suanwang.api import create_app
from suanwang.control.ports import ManualClock
from suanwang.control.stores import Principal, Role
from suanwang.service.plane import ControlPlane

DAY_S = 86_400.0
START_S = 10 * DAY_S  # inside period 10
RUN_S = 36_000.0  # ten hours on the leased node
ORDER = {"lease_id": "L1", "unit": "node.day", "units": 1, "max_price": "50.00"}


@pytest.fixture
def market(tmp_path: Path) -> Iterator[tuple[Api, ManualClock]]:
    clock = ManualClock(START_S)
    settings = make_settings(tmp_path, market_period_s=DAY_S, market_fee_rate=Decimal("0.10"))
    tokens = seed_principals(settings)
    with TestClient(create_app(settings, clock)) as client:
        api = Api(client, settings, tokens)
        api.add_principal(Principal("hosp", "hospital", frozenset({Role.PROVIDER})))
        yield api, clock


def plane_of(api: Api) -> ControlPlane:
    plane: ControlPlane = api.client.app.state.plane  # type: ignore[attr-defined]
    return plane


def hospital_nodes(api: Api) -> list[str]:
    nodes = plane_of(api).live.controller.state.topology.nodes
    return sorted(node_id for node_id, node in nodes.items() if node.owner == "hospital")


def offer(api: Api, who: str, **fields: Any) -> Any:
    body = {"offer_id": "hosp-1", "unit": "node.day", "price": "40.00", **fields}
    return api.call(who, "POST", "/v1/market/offers", json=body)


def run_task(api: Api, clock: ManualClock, who: str, seconds: float) -> str:
    """Submit CPU_TASK for ``who`` and run it ``seconds`` through its node's agent."""
    task = api.submit(who)
    node = task["placement"]["node_id"]
    agent = f"agent-{node}"
    if agent not in api.tokens:
        api.add_principal(Principal(agent, "ops", frozenset({Role.AGENT}), frozenset({node})))
    path = f"/v1/tasks/{task['id']}/report"
    started = {"node_id": node, "event": "started", "reason": "ok"}
    assert api.call(agent, "POST", path, json=started).status_code == 200
    clock.advance(seconds)
    finished = {"node_id": node, "event": "finished", "reason": "ok"}
    assert api.call(agent, "POST", path, json=finished).status_code == 200
    return str(node)


def test_offer_lease_run_close_and_bill_over_http(market: tuple[Api, ManualClock]) -> None:
    api, clock = market
    leased = hospital_nodes(api)[0]
    foreign = offer(api, "prov", node_ids=[leased])
    assert foreign.status_code == 403
    assert leased in foreign.json()["detail"]
    listed = offer(api, "hosp", node_ids=[leased])
    assert listed.status_code == 201, listed.text
    assert {k: listed.json()[k] for k in ("provider", "region", "trust", "price", "sold")} == {
        "provider": "hospital",
        "region": "CN-GD",
        "trust": "verified",
        "price": "40.00",
        "sold": 0,
    }
    (book,) = api.call("alice", "GET", "/v1/market/offers").json()
    assert (book["offer_id"], book["node_ids"]) == ("hosp-1", [leased])

    broke = api.call("alice", "POST", "/v1/market/orders", json=ORDER)
    assert broke.status_code == 409
    assert "'acme'" in broke.json()["detail"]
    assert "40.00" in broke.json()["detail"]
    deposit = {"tenant": "acme", "amount": "100.00"}
    paid = api.call("ops", "POST", "/v1/market/deposits", json=deposit)
    assert paid.json() == {"tenant": "acme", "balance": "100.00"}
    bought = api.call("alice", "POST", "/v1/market/orders", json=ORDER)
    assert bought.status_code == 201, bought.text
    (lease,) = bought.json()
    assert (lease["node_ids"], lease["amount"], lease["active"]) == ([leased], "40.00", True)
    sold_out = api.call("alice", "POST", "/v1/market/orders", json={**ORDER, "lease_id": "L2"})
    assert sold_out.status_code == 409
    assert "0 of 1 units are for sale" in sold_out.json()["detail"]

    assert run_task(api, clock, "alice", RUN_S) == leased
    assert api.submit("bob")["placement"]["node_id"] != leased

    assert [x["lease_id"] for x in api.call("alice", "GET", "/v1/market/leases").json()] == ["L1"]
    assert [x["lease_id"] for x in api.call("hosp", "GET", "/v1/market/leases").json()] == ["L1"]
    assert api.call("bob", "GET", "/v1/market/leases").json() == []
    refused = api.call("bob", "DELETE", "/v1/market/leases/L1", params={"reason": "mine now"})
    assert refused.status_code == 404
    assert "'L1'" in refused.json()["detail"]

    not_yet = api.call("ops", "POST", "/v1/market/periods/11/close")
    assert not_yet.status_code == 422
    assert "period: 11 has not begun" in not_yet.json()["detail"]
    clock.advance(DAY_S)  # period 10 is over
    closed = api.call("ops", "POST", "/v1/market/periods/10/close")
    assert closed.status_code == 200, closed.text
    assert sorted(b["tenant"] for b in closed.json()) == ["acme"]
    again = api.call("ops", "POST", "/v1/market/periods/10/close")
    assert again.status_code == 409
    assert "already closed" in again.json()["detail"]

    bill = api.call("alice", "GET", "/v1/market/bills/10").json()
    amounts = {line["dimension"]: line["amount"] for line in bill["lines"]}
    quantities = {line["dimension"]: line["quantity"] for line in bill["lines"]}
    assert quantities["core-s"] == RUN_S * CPU_TASK["cpu_cores"]
    assert quantities["gib-s"] == RUN_S * CPU_TASK["mem_gib"]
    assert {line["provider"] for line in bill["lines"]} == {"hospital"}
    # By hand, under the built-in plan: 36,000 core-s x 0.0000138889 = 0.500000 -> 0.50;
    # 18,000 GiB-s x 0.0000013889 = 0.0250002 -> 0.03; one task x 0.001 -> 0.00; GFLOP and
    # GB moved are free or none. The lease: one day at 40.00, of which 4.00 is the fee.
    assert (amounts["core-s"], amounts["gib-s"], amounts["tasks"]) == ("0.50", "0.03", "0.00")
    assert (bill["usage"], bill["credits"], bill["closed"]) == ("0.53", "0.00", True)
    assert bill["leases"] == [
        {"lease_id": "L1", "charge": "40.00", "payout": "36.00", "fee": "4.00"}
    ]
    assert bill["total"] == "40.53"
    assert api.call("ops", "GET", "/v1/market/bills/10", params={"tenant": "acme"}).json() == bill
    prying = api.call("bob", "GET", "/v1/market/bills/10", params={"tenant": "acme"})
    assert prying.status_code == 403
    own = api.call("bob", "GET", "/v1/market/bills/10").json()
    assert (own["tenant"], own["leases"], own["total"]) == ("globex", [], "0.00")

    assert api.call("hosp", "GET", "/v1/market/payouts").json() == {
        "payouts": {"hospital": "36.00"},
        "fees": None,
    }
    assert api.call("ops", "GET", "/v1/market/payouts").json()["fees"] == "4.00"
    ended = api.call("alice", "DELETE", "/v1/market/leases/L1", params={"reason": "done"})
    assert ended.status_code == 200, ended.text
    assert (ended.json()["active"], ended.json()["end_reason"]) == (False, "done")
    assert plane_of(api).live.controller.state.leases.tenant_of(leased) is None

    audit = api.call("admin", "GET", "/v1/audit", params={"limit": 1000}).json()
    trail = [(e["action"], e["target"]) for e in audit if e["action"].startswith("market.")]
    assert trail == [
        ("market.offer", "offer:hosp-1"),
        ("market.deposit", "account:acme"),
        ("market.lease.start", "lease:L1"),
        ("market.lease.settle", "lease:L1"),
        ("market.period.close", "period:10"),
        ("market.lease.end", "lease:L1"),
    ]


def test_a_lease_without_funds_for_the_next_period_ends_at_its_close(
    market: tuple[Api, ManualClock],
) -> None:
    api, clock = market
    leased = hospital_nodes(api)[0]
    assert offer(api, "hosp", node_ids=[leased]).status_code == 201
    api.call("ops", "POST", "/v1/market/deposits", json={"tenant": "acme", "amount": "40.00"})
    assert api.call("alice", "POST", "/v1/market/orders", json=ORDER).status_code == 201
    clock.advance(2 * DAY_S)
    assert api.call("ops", "POST", "/v1/market/periods/10/close").status_code == 200
    assert api.call("ops", "POST", "/v1/market/periods/11/close").status_code == 200
    (lease,) = api.call("alice", "GET", "/v1/market/leases").json()
    assert (lease["active"], lease["end_reason"]) == (False, "funds exhausted")
    audit = api.call("admin", "GET", "/v1/audit", params={"limit": 1000}).json()
    ends = [e["detail"] for e in audit if e["action"] == "market.lease.end"]
    assert ends == ["funds exhausted"]


@pytest.mark.parametrize(
    ("fields", "status", "named"),
    [
        ({"node_ids": ["no-such-node"]}, 422, "no-such-node"),
        ({"price": "-1.00"}, 422, "price: '-1.00' is negative"),
        ({"price": 40.5}, 422, "price: 40.5 is a number (float)"),
        ({"price": 40}, 422, "price: 40 is a number (int)"),
        ({"price": "40.001"}, 422, "not a whole number of cents"),
        ({"price": "1e30"}, 422, "price: '1e30' is above 1000000000000.00"),
        ({"price": "2000000000000"}, 422, "is above 1000000000000.00"),
        ({"rental": "forever"}, 422, "body.rental"),
    ],
)
def test_bad_offers_are_named(
    market: tuple[Api, ManualClock], fields: dict[str, Any], status: int, named: str
) -> None:
    api, _ = market
    body = {"node_ids": hospital_nodes(api)[:1], **fields}
    refused = offer(api, "hosp", **body)
    assert refused.status_code == status
    assert named in refused.json()["detail"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"max_price": 50.0}, "max_price: 50.0 is a number (float)"),
        ({"units": 0}, "body.units"),
        ({"min_trust": "total"}, "min_trust: 'total' is not one of"),
        ({"tenant": "globex"}, "a consumer buys for its own tenant"),
    ],
)
def test_bad_orders_are_named(
    market: tuple[Api, ManualClock], fields: dict[str, Any], named: str
) -> None:
    api, _ = market
    refused = api.call("alice", "POST", "/v1/market/orders", json={**ORDER, **fields})
    assert refused.status_code in (403, 422)
    assert named in refused.json()["detail"]


def test_bad_periods_deposits_and_roles(market: tuple[Api, ManualClock]) -> None:
    api, _ = market
    for period in ("-1", "ten"):
        response = api.call("alice", "GET", f"/v1/market/bills/{period}")
        assert response.status_code == 422
        assert "path.period" in response.json()["detail"]
    money = api.call("ops", "POST", "/v1/market/deposits", json={"tenant": "acme", "amount": 1.5})
    assert money.status_code == 422
    assert "amount: 1.5 is a number (float)" in money.json()["detail"]
    deposit = {"tenant": "acme", "amount": "1000.00"}
    assert api.call("alice", "POST", "/v1/market/deposits", json=deposit).status_code == 403
    assert api.call("alice", "POST", "/v1/market/periods/9/close").status_code == 403
    assert api.call("alice", "POST", "/v1/market/offers", json={}).status_code == 403
    no_reason = api.call("alice", "DELETE", "/v1/market/leases/L1")
    assert no_reason.status_code == 422
    assert "query.reason" in no_reason.json()["detail"]


def test_a_server_without_a_market_answers_503(
    market: tuple[Api, ManualClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, _ = market
    monkeypatch.setattr(plane_of(api), "market", None)
    response = api.call("alice", "GET", "/v1/market/offers")
    assert response.status_code == 503
    assert "no market" in response.json()["detail"]
