"""Usage is never lost to a crash between a run's commit and its flush: the next start meters
it again, once (a run already metered is a duplicate)."""

from __future__ import annotations

from decimal import Decimal

from market_support import ACME, DAY_S, SPEC, START_S, UnreachableUsage, make_plane

from suanwang.control.ports import ManualClock
from suanwang.market import Dimension
from suanwang.model import TaskState
from suanwang.service import ControlPlane
from suanwang.storage import Stores
from suanwang.storage.market import open_market


def run_to_completion(plane: ControlPlane, clock: ManualClock, seconds: float) -> str:
    task = plane.submit(ACME, SPEC).result(30).task
    assert task.placement is not None
    node = task.placement.node_id
    plane.report(ACME, node, task.id, finished=False, ok=True, reason="").result(30)
    clock.advance(seconds)
    done = plane.report(ACME, node, task.id, finished=True, ok=True, reason="ok").result(30)
    assert done.state is TaskState.COMPLETED
    return task.id


def test_usage_left_unflushed_by_a_crash_is_metered_once_at_the_next_start(
    stores: Stores,
) -> None:
    clock = ManualClock(START_S)
    store = open_market(stores, DAY_S, Decimal("0.10"))
    first = make_plane(stores, clock, UnreachableUsage(store))  # type: ignore[arg-type]
    task_id = run_to_completion(first, clock, 100.0)
    assert first.market is not None
    assert first.market.flush() == 0  # kept pending: the store is away
    first.stop()  # the pending events go with this plane, as with a crash
    assert store.usage_events(10, "acme") == []

    second = make_plane(stores, clock, store)
    try:
        events = store.usage_events(10, "acme")
        assert {e.run_id.split("@")[0] for e in events} == {task_id}
        assert sorted((e.dimension, e.quantity) for e in events) == [
            (Dimension.CORE_SECONDS, 200.0),
            (Dimension.GFLOP, 5.0),
            (Dimension.MEMORY_GIB_SECONDS, 400.0),
            (Dimension.NETWORK_GB, 0.0),
            (Dimension.TASKS, 1.0),
        ]
        assert second.market is not None
        assert second.market.recover(stores.tasks) == 0  # already metered: duplicates only
    finally:
        second.stop()
    assert len(store.usage_events(10, "acme")) == 5


def test_a_run_lost_before_its_period_closed_is_billed_late_in_the_next(
    stores: Stores,
) -> None:
    clock = ManualClock(START_S)
    store = open_market(stores, DAY_S, Decimal("0.10"))
    first = make_plane(stores, clock, UnreachableUsage(store))  # type: ignore[arg-type]
    run_to_completion(first, clock, 100.0)
    first.stop()
    store.close_period(10)  # billed without the lost run
    clock.advance(DAY_S)
    second = make_plane(stores, clock, store)
    second.stop()
    assert store.usage_events(10) == []
    lines = store.usage_lines(11)
    assert {(line.tenant, line.late) for line in lines} == {("acme", True)}
    core = [line for line in lines if line.dimension is Dimension.CORE_SECONDS]
    assert [line.quantity for line in core] == [200.0]
