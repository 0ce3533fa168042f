"""Usage is never lost to a crash between a run's commit and its flush: the next start meters
it again, once (a run already metered is a duplicate)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from suanwang.bootstrap import journal_for
from suanwang.control.ports import ManualClock
from suanwang.control.stores import Principal, Role, StoreUnavailableError
from suanwang.execution import AgentDispatch
from suanwang.market import Dimension, Ingest, UsageEvent
from suanwang.market.store import MarketStore
from suanwang.model import TaskSpec, TaskState
from suanwang.scenario import load_builtin
from suanwang.scheduling import resolve_profile
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.storage import Stores, open_store
from suanwang.storage.market import open_market

DAY_S = 86_400.0
START_S = 10 * DAY_S
ACME = Principal("alice", "acme", frozenset({Role.CONSUMER}))
SPEC = TaskSpec(work_gflop=5.0, cpu_cores=2.0, mem_gib=4.0, ingress_site="term-futian")


class UnreachableUsage:
    """The market store, with usage ingest failing as if the database were away."""

    def __init__(self, inner: MarketStore) -> None:
        self.inner = inner
        self.period_s = inner.period_s

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def ingest(self, events: Sequence[UsageEvent]) -> list[Ingest]:
        raise StoreUnavailableError("usage table unreachable")


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    with open_store(f"sqlite:///{tmp_path / 'plane.db'}") as opened:
        yield opened


def make_plane(stores: Stores, clock: ManualClock, market: MarketStore) -> ControlPlane:
    plane = ControlPlane(
        stores,
        journal_for(stores),
        load_builtin("metro-edge"),
        resolve_profile("cats-joint"),
        dispatch=AgentDispatch,
        clock=clock,
        agents=AgentPolicy(require_agent=False),
        market=market,
    )
    plane.start()
    return plane


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
