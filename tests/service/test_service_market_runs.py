"""Every run is metered once in the live plane: a run cut short by a lost node or a restart
is billed for the time it held its node, after the commit that ends it, and ``recover``
meters one a crash left unflushed, once."""

from __future__ import annotations

from decimal import Decimal

from market_support import ACME, DAY_S, SPEC, START_S, UnreachableUsage, make_plane

from suanwang.control.ports import ManualClock
from suanwang.control.stores import Principal, Role
from suanwang.market import Dimension
from suanwang.market.metering import runs_of
from suanwang.market.store import MarketStore
from suanwang.model import Task
from suanwang.scenario import load_builtin
from suanwang.service import ControlPlane
from suanwang.storage import Stores
from suanwang.storage.market import open_market

ADMIN = Principal("root", "operator", frozenset({Role.ADMIN}))


def start_running(plane: ControlPlane, clock: ManualClock) -> Task:
    task = plane.submit(ACME, SPEC).result(30).task
    assert task.placement is not None
    clock.advance(1.0)
    node = task.placement.node_id
    return plane.report(ACME, node, task.id, finished=False, ok=True, reason="").result(30)


def cores_by_run(store: MarketStore) -> dict[str, float]:
    return {
        e.run_id: e.quantity
        for e in store.usage_events(10, "acme")
        if e.dimension is Dimension.CORE_SECONDS
    }


def tasks_events(store: MarketStore) -> int:
    return sum(1 for e in store.usage_events(10, "acme") if e.dimension is Dimension.TASKS)


def test_a_node_lost_mid_run_bills_that_run_and_the_next_one_once_each(stores: Stores) -> None:
    clock = ManualClock(START_S)
    store = open_market(stores, DAY_S, Decimal("0.10"))
    plane = make_plane(stores, clock, store)
    try:
        running = start_running(plane, clock)
        assert running.placement is not None
        first_node = running.placement.node_id
        clock.advance(30.0)
        plane.set_node(ADMIN, first_node, up=False, reason="lost").result(30)
        # Billed at the commit that ended it: 2 cores for 30 s, no work, no credit.
        assert list(cores_by_run(store).values()) == [60.0]
        cut = store.usage_events(10, "acme")
        assert {e.dimension for e in cut} == {
            Dimension.CORE_SECONDS,
            Dimension.MEMORY_GIB_SECONDS,
            Dimension.TASKS,
        }
        assert all(e.sla_met for e in cut)
        owner = load_builtin("metro-edge").topology.nodes[first_node].owner
        assert {e.provider for e in cut} == {owner}
        moved = plane.tasks.get(running.id)
        assert moved is not None
        assert moved.placement is not None
        assert moved.placement.node_id != first_node
        node = moved.placement.node_id
        plane.report(ACME, node, running.id, finished=False, ok=True, reason="").result(30)
        clock.advance(10.0)
        plane.report(ACME, node, running.id, finished=True, ok=True, reason="ok").result(30)
        assert sorted(cores_by_run(store).values()) == [20.0, 60.0]
        assert tasks_events(store) == 2
        assert plane.market is not None
        assert plane.market.recover(stores.tasks) == 0  # both stored already
    finally:
        plane.stop()


def test_a_crash_before_a_cut_short_run_was_flushed_is_recovered_once(stores: Stores) -> None:
    clock = ManualClock(START_S)
    store = open_market(stores, DAY_S, Decimal("0.10"))
    first = make_plane(stores, clock, UnreachableUsage(store))  # type: ignore[arg-type]
    running = start_running(first, clock)
    assert running.placement is not None
    clock.advance(50.0)
    first.set_node(ADMIN, running.placement.node_id, up=False, reason="lost").result(30)
    first.stop()  # the run's end is committed, its usage was never stored
    assert store.usage_events(10, "acme") == []

    second = make_plane(stores, clock, store)
    try:
        assert list(cores_by_run(store).values()) == [100.0]  # the task is still active
        assert second.market is not None
        assert second.market.recover(stores.tasks) == 0
    finally:
        second.stop()
    assert tasks_events(store) == 1


def test_a_restart_that_re_queues_a_running_task_bills_its_run_until_then(
    stores: Stores,
) -> None:
    clock = ManualClock(START_S)
    store = open_market(stores, DAY_S, Decimal("0.10"))
    first = make_plane(stores, clock, store)
    running = start_running(first, clock)
    first.stop()  # the server goes away with the run on its node
    clock.advance(20.0)
    second = make_plane(stores, clock, store)
    try:
        resumed = stores.tasks.get(running.id)
        assert resumed is not None
        assert any(step.reason == "controller restarted" for step in resumed.history)
        (run,) = runs_of(resumed)
        assert (run.started_s, run.ended_s) == (START_S + 1.0, START_S + 21.0)
        assert cores_by_run(store) == {run.run_id: 40.0}
        assert second.market is not None
        assert second.market.recover(stores.tasks) == 0  # a second look counts nothing again
    finally:
        second.stop()
    assert tasks_events(store) == 1
