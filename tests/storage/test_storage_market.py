"""The MarketStore contract (book, leases, accounts, usage), run against every adapter."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from suanwang.market import (
    Dimension,
    Ingest,
    InsufficientFundsError,
    NoFillError,
    Offer,
    UsageConflictError,
    UsageEvent,
    Want,
    builtin_plan,
    invoices,
)
from suanwang.market.posted import Rental
from suanwang.market.store import (
    LeaseRecord,
    MarketConflictError,
    MarketNotFoundError,
    MarketStore,
)
from suanwang.storage import Stores
from suanwang.storage.market import open_market

DAY_S = 86_400.0
FEE = Decimal("0.10")
NOW_S = 1_000.0


def _market(stores: Stores) -> MarketStore:
    return open_market(stores, DAY_S, FEE)


def _offer(offer_id: str = "o1", units: int = 2, price: str = "30.00", **kw: object) -> Offer:
    return Offer(
        offer_id, kw.pop("provider", "prov-a"), "node.day", units, Decimal(price), "CN-GD", **kw
    )  # type: ignore[arg-type]


def _event(
    run: str, dim: Dimension, qty: float, ended_s: float = NOW_S, **kw: object
) -> UsageEvent:
    return UsageEvent(
        run,
        str(kw.get("tenant", "acme")),
        "prov-a",
        dim,
        qty,
        ended_s,
        str(kw.get("detail", "")),
        bool(kw.get("sla_met", True)),
    )


def test_every_adapter_implements_the_port(stores: Stores) -> None:
    assert isinstance(_market(stores), MarketStore)


def test_a_purchase_binds_nodes_holds_funds_and_never_sells_a_node_twice(stores: Stores) -> None:
    market = _market(stores)
    market.list_offer(_offer("cheap", 2, "30.00"), ["n1", "n2"], NOW_S)
    market.list_offer(_offer("dear", 2, "50.00", provider="prov-b"), ["n3", "n4"], NOW_S + 1)
    assert market.deposit("acme", Decimal("200.00")) == Decimal("200.00")
    leases = market.buy("L", Want("acme", "node.day", 3, Decimal("60.00")), NOW_S + 2)
    assert leases == (
        LeaseRecord(
            "L/1",
            "acme",
            "prov-a",
            "cheap",
            2,
            Decimal("30.00"),
            Rental.ON_DEMAND,
            ("n1", "n2"),
            NOW_S + 2,
        ),
        LeaseRecord(
            "L/2",
            "acme",
            "prov-b",
            "dear",
            1,
            Decimal("50.00"),
            Rental.ON_DEMAND,
            ("n3",),
            NOW_S + 2,
        ),
    )
    assert market.balance("acme") == Decimal("90.00")
    assert market.held("L/1") == Decimal("60.00")
    assert [(b.offer.offer_id, b.sold) for b in market.book()] == [("cheap", 2), ("dear", 1)]
    market.deposit("beta", Decimal("500.00"))
    with pytest.raises(NoFillError, match="1 of 2 units"):
        market.buy("M", Want("beta", "node.day", 2, Decimal("60.00")), NOW_S + 3)
    assert market.balance("beta") == Decimal("500.00")  # a failed purchase holds nothing
    (other,) = market.buy("M", Want("beta", "node.day", 1, Decimal("60.00")), NOW_S + 3)
    assert other.node_ids == ("n4",)
    assert market.leases("acme", active_only=True) == list(leases)
    assert [lease.lease_id for lease in market.leases()] == ["L/1", "L/2", "M"]


def test_refusals_name_what_is_wrong(stores: Stores) -> None:
    market = _market(stores)
    market.list_offer(_offer(), ["n1", "n2"], NOW_S)
    with pytest.raises(MarketConflictError, match="offer_id"):
        market.list_offer(_offer(), ["n5", "n6"], NOW_S)
    with pytest.raises(MarketConflictError, match=r"node_ids: \['n2'\]"):
        market.list_offer(_offer("o2"), ["n2", "n7"], NOW_S)
    with pytest.raises(ValueError, match="node_ids: 1 nodes for 2 units"):
        market.list_offer(_offer("o3"), ["n8"], NOW_S)
    with pytest.raises(InsufficientFundsError, match=r"costs 30\.00"):
        market.buy("L", Want("poor", "node.day", 1, Decimal("40.00")), NOW_S)
    market.deposit("acme", Decimal("100.00"))
    market.buy("L", Want("acme", "node.day", 1, Decimal("40.00")), NOW_S)
    with pytest.raises(MarketConflictError, match="lease_id"):
        market.buy("L", Want("acme", "node.day", 1, Decimal("40.00")), NOW_S)
    with pytest.raises(ValueError, match="reason"):
        market.end_lease("L", " ", NOW_S)
    with pytest.raises(MarketNotFoundError):
        market.end_lease("nope", "done", NOW_S)


def test_settlement_pays_provider_and_fee_once_per_period_and_ending_refunds(
    stores: Stores,
) -> None:
    market = _market(stores)
    market.list_offer(_offer("o1", 2, "33.33"), ["n1", "n2"], NOW_S)
    market.deposit("acme", Decimal("100.00"))
    (lease,) = market.buy("L", Want("acme", "node.day", 2, Decimal("40.00")), NOW_S)
    first = market.settle("L", 0)
    assert (first.charge, first.payout, first.fee) == (
        Decimal("66.66"),
        Decimal("59.99"),
        Decimal("6.67"),
    )
    assert market.settle("L", 0) == first  # settling a period again changes nothing
    assert market.settlements(0) == [first]
    assert market.settlements(1) == []
    assert market.held("L") == Decimal("0.00")
    assert market.balance("acme") == Decimal("33.34")
    with pytest.raises(InsufficientFundsError):
        market.settle("L", 1)  # 66.66 due, 33.34 left: no lease runs for free
    ended = market.end_lease("L", "funds exhausted", NOW_S + 5)
    assert (ended.ended_s, ended.end_reason, ended.active) == (NOW_S + 5, "funds exhausted", False)
    assert market.book()[0].sold == 0
    assert market.payouts() == {"prov-a": Decimal("59.99")}
    assert market.fees() == Decimal("6.67")
    total = market.balance("acme") + sum(market.payouts().values()) + market.fees()
    assert total == Decimal("100.00")  # money conserved to the cent
    assert lease.amount == Decimal("66.66")


def test_usage_is_metered_once_per_key_and_a_replay_changes_no_invoice(stores: Stores) -> None:
    market = _market(stores)
    batch = [
        _event("r1", Dimension.CORE_SECONDS, 3600.0),
        _event("r1", Dimension.TASKS, 1.0),
        _event("r2", Dimension.ACCELERATOR_SECONDS, 1800.0, detail="gpu"),
        _event("r3", Dimension.CORE_SECONDS, 7200.0, tenant="beta", sla_met=False),
    ]
    assert market.ingest(batch) == [Ingest.ACCEPTED] * 4
    plan = builtin_plan()
    before = invoices(market.usage_lines(0), 0, plan)
    assert market.ingest(batch) == [Ingest.DUPLICATE] * 4
    assert market.ingest(batch[:1] + batch[:1]) == [Ingest.DUPLICATE] * 2
    assert invoices(market.usage_lines(0), 0, plan) == before
    assert [e.key for e in market.usage_events(0, "acme")] == [
        "r1/core-s",
        "r1/tasks",
        "r2/accelerator-s/gpu",
    ]
    assert market.usage_events(0) == sorted(batch, key=lambda e: e.key)


def test_a_conflicting_event_refuses_its_whole_batch(stores: Stores) -> None:
    market = _market(stores)
    market.ingest([_event("r1", Dimension.CORE_SECONDS, 10.0)])
    fresh = _event("r9", Dimension.CORE_SECONDS, 5.0)
    with pytest.raises(UsageConflictError, match="r1/core-s"):
        market.ingest([fresh, _event("r1", Dimension.CORE_SECONDS, 11.0)])
    with pytest.raises(UsageConflictError, match="r9/core-s"):
        market.ingest([fresh, _event("r9", Dimension.CORE_SECONDS, 6.0)])
    with pytest.raises(ValueError, match="quantity"):
        market.ingest([_event("r8", Dimension.CORE_SECONDS, -1.0)])
    assert [e.key for e in market.usage_events(0)] == ["r1/core-s"]


def test_late_usage_goes_to_the_first_open_period(stores: Stores) -> None:
    market = _market(stores)
    market.ingest([_event("r1", Dimension.CORE_SECONDS, 10.0, ended_s=100.0)])
    assert market.closed_through() == -1
    market.close_period(0)
    assert market.closed_through() == 0
    with pytest.raises(ValueError, match="already closed"):
        market.close_period(0)
    outcome = market.ingest([_event("r2", Dimension.CORE_SECONDS, 4.0, ended_s=200.0)])
    assert outcome == [Ingest.LATE]
    (line,) = market.usage_lines(1)
    assert (line.late, line.quantity, line.keys) == (True, 4.0, [])
    assert [(ln.quantity, ln.late) for ln in market.usage_lines(0)] == [(10.0, False)]


def test_the_books_survive_a_restart(open_stores: Callable[[], Stores]) -> None:
    first = open_stores()
    if first.engine is None:
        pytest.skip("the in-memory market keeps nothing across a restart")
    market = _market(first)
    market.list_offer(_offer(), ["n1", "n2"], NOW_S)
    market.deposit("acme", Decimal("100.00"))
    market.buy("L", Want("acme", "node.day", 1, Decimal("40.00")), NOW_S)
    market.ingest([_event("r1", Dimension.CORE_SECONDS, 10.0)])
    again = _market(open_stores())
    assert [lease.node_ids for lease in again.leases(active_only=True)] == [("n1",)]
    assert again.balance("acme") == Decimal("70.00")
    assert again.ingest([_event("r1", Dimension.CORE_SECONDS, 10.0)]) == [Ingest.DUPLICATE]
