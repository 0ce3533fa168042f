"""The live market: leases steer placements, finished runs are metered once, periods bill."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from suanwang.bootstrap import journal_for
from suanwang.control.ports import ManualClock
from suanwang.control.stores import Principal, Role
from suanwang.execution import AgentDispatch
from suanwang.market import Dimension, Offer, Want
from suanwang.model import TaskSpec, TaskState
from suanwang.scenario import load_builtin
from suanwang.scheduling import resolve_profile
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.service.market import FUNDS_EXHAUSTED, NotYoursError
from suanwang.storage import Stores
from suanwang.storage.market import open_market

DAY_S = 86_400.0
START_S = 10 * DAY_S  # period 10 of one-day periods
ACME = Principal("alice", "acme", frozenset({Role.CONSUMER}))
BETA = Principal("bob", "beta", frozenset({Role.CONSUMER}))
SPEC = TaskSpec(work_gflop=5.0, cpu_cores=2.0, mem_gib=4.0, ingress_site="term-futian")


@pytest.fixture
def plane(stores: Stores) -> Iterator[tuple[ControlPlane, ManualClock]]:
    clock = ManualClock(START_S)
    plane = ControlPlane(
        stores,
        journal_for(stores),
        load_builtin("metro-edge"),
        resolve_profile("cats-joint"),
        dispatch=AgentDispatch,
        clock=clock,
        agents=AgentPolicy(require_agent=False),
        market=open_market(stores, DAY_S, Decimal("0.10")),
    )
    plane.start()
    yield plane, clock
    plane.stop()


def hospital_nodes(plane: ControlPlane) -> list[str]:
    nodes = plane.live.controller.state.topology.nodes
    return sorted(node_id for node_id, node in nodes.items() if node.owner == "hospital")


def run(plane: ControlPlane, clock: ManualClock, who: Principal, seconds: float) -> str:
    """Submit SPEC for ``who``, run it ``seconds`` on its node; returns the node."""
    task = plane.submit(who, SPEC).result(30).task
    assert task.placement is not None
    node = task.placement.node_id
    plane.report(who, node, task.id, finished=False, ok=True, reason="").result(30)
    clock.advance(seconds)
    done = plane.report(who, node, task.id, finished=True, ok=True, reason="ok").result(30)
    assert done.state is TaskState.COMPLETED
    return node


def test_a_leased_node_runs_its_tenants_work_only_and_usage_is_billed_once(
    plane: tuple[ControlPlane, ManualClock],
) -> None:
    live, clock = plane
    market = live.market
    assert market is not None
    leased = hospital_nodes(live)[0]
    offer = Offer("hosp-1", "hospital", "node.day", 1, Decimal("40.00"), "CN-GD-SZ")
    with pytest.raises(NotYoursError, match="not owned by tenant 'factory'"):
        market.offer("factory", offer, [leased])
    market.offer("hospital", offer, [leased])
    market.store.deposit("acme", Decimal("100.00"))
    (lease,) = market.order("L1", Want("acme", "node.day", 1, Decimal("50.00")))
    assert lease.node_ids == (leased,)
    assert live.live.controller.state.leases.tenant_of(leased) == "acme"

    assert run(live, clock, ACME, 3600.0) == leased
    assert run(live, clock, BETA, 50.0) != leased
    acme = market.store.usage_events(10, "acme")
    assert sorted((e.dimension, e.quantity, e.provider) for e in acme) == [
        (Dimension.CORE_SECONDS, 7200.0, "hospital"),
        (Dimension.GFLOP, 5.0, "hospital"),
        (Dimension.MEMORY_GIB_SECONDS, 14400.0, "hospital"),
        (Dimension.NETWORK_GB, 0.0, "hospital"),
        (Dimension.TASKS, 1.0, "hospital"),
    ]

    bills = {bill.tenant: bill for bill in market.close(10)}
    assert sorted(bills) == ["acme", "beta"]
    acme_bill = bills["acme"]
    assert [s.lease_id for s in acme_bill.leases] == ["L1"]
    (settled,) = acme_bill.leases
    assert (settled.charge, settled.payout, settled.fee) == (
        Decimal("40.00"),
        Decimal("36.00"),
        Decimal("4.00"),
    )
    assert acme_bill.invoice.total > 0
    assert acme_bill.total == acme_bill.invoice.total + Decimal("40.00")
    assert bills["beta"].leases == ()
    assert {line.provider for line in bills["beta"].invoice.lines} != {"hospital"}
    # A closed period stays closed, and its bills read back the same.
    with pytest.raises(ValueError, match="period 10 is already closed"):
        market.close(10)
    assert market.bills(10, "acme") == [acme_bill]
    assert market.store.balance("acme") == Decimal("60.00")


def test_a_run_reported_twice_is_metered_once_and_a_lease_without_funds_ends(
    plane: tuple[ControlPlane, ManualClock],
) -> None:
    live, clock = plane
    market = live.market
    assert market is not None
    leased = hospital_nodes(live)[0]
    market.offer("hospital", Offer("h", "hospital", "node.day", 1, Decimal("40.00"), "X"), [leased])
    market.store.deposit("acme", Decimal("40.00"))
    market.order("L1", Want("acme", "node.day", 1, Decimal("40.00")))
    run(live, clock, ACME, 10.0)
    (task,) = live.stores.tasks.list(limit=10).tasks
    market.note_runs(task, 0)  # every run of it again (a replayed report)
    market.flush()
    tasks_line = [
        e for e in market.store.usage_events(10, "acme") if e.dimension is Dimension.TASKS
    ]
    assert len(tasks_line) == 1
    market.close(10)  # the held 40.00 pays period 10
    market.close(11)  # nothing left for period 11: the lease ends, the node is free again
    (lease,) = market.store.leases("acme")
    assert lease.end_reason == FUNDS_EXHAUSTED
    assert live.live.controller.state.leases.tenant_of(leased) is None
