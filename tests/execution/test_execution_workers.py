"""The maximum run time of a task: the agent's worker pool kills the one process past it; the
local engine stops the task inside its worker. Other tasks run on in both."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future

import pytest

from suanwang.execution import LocalEngine
from suanwang.execution.kinds import Work, WorkOutcome
from suanwang.execution.workers import RunCancelled, RunTimeExceeded, WorkerDied, WorkerPool
from suanwang.model import Estimate, Placement, Task, TaskSpec, TaskState

ENDLESS = TaskSpec(work_gflop=1e15, task_type="matmul")
SMALL = TaskSpec(work_gflop=0.05, task_type="matmul")
LIMIT_S = 1.0
WAIT_S = 60.0


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool(2)
    assert workers.wait_ready(WAIT_S)
    yield workers
    workers.shutdown()


def test_a_task_past_its_limit_is_killed_and_the_others_run_on(pool: WorkerPool) -> None:
    endless = pool.submit("endless", "matmul", Work.of("endless", ENDLESS), LIMIT_S)
    started = time.monotonic()
    small = [pool.submit(f"s{i}", "matmul", Work.of(f"s{i}", SMALL)) for i in range(5)]
    for future in small:
        assert future.result(WAIT_S).compute_s >= 0.0
    with pytest.raises(RunTimeExceeded, match="past its maximum run time of 1 s"):
        endless.result(WAIT_S)
    assert LIMIT_S <= time.monotonic() - started < LIMIT_S + 5.0
    replaced = pool.replaced
    assert replaced >= 1
    after = pool.submit("after", "matmul", Work.of("after", SMALL))  # a fresh process took over
    assert after.result(WAIT_S).compute_s >= 0.0


def test_a_worker_that_dies_fails_only_its_task(pool: WorkerPool) -> None:
    spec = TaskSpec(work_gflop=0.01, task_type="os:_exit")
    with pytest.raises((WorkerDied, Exception)):
        pool.submit("exit", "os:_exit", Work.of("exit", spec)).result(WAIT_S)
    assert pool.submit("ok", "matmul", Work.of("ok", SMALL)).result(WAIT_S).compute_s >= 0.0


def test_shutdown_cancels_what_waits() -> None:
    workers = WorkerPool(1)
    assert workers.wait_ready(WAIT_S)
    running = workers.submit("long", "matmul", Work.of("long", ENDLESS))
    waiting: Future[WorkOutcome] = workers.submit("next", "matmul", Work.of("next", SMALL))
    workers.shutdown()
    assert waiting.cancelled()
    with pytest.raises(WorkerDied):
        running.result(WAIT_S)


class _Reports:
    def __init__(self) -> None:
        self.finished: dict[str, tuple[bool, str]] = {}
        self._changed = threading.Condition()

    def task_started(self, task_id: str) -> None:
        return None

    def task_finished(self, task_id: str, ok: bool, reason: str) -> None:
        with self._changed:
            self.finished[task_id] = (ok, reason)
            self._changed.notify_all()

    def wait(self, *task_ids: str) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: set(task_ids) <= set(self.finished), WAIT_S)


def _scheduled(task_id: str, spec: TaskSpec, tenant: str) -> Task:
    task = Task.submit(task_id, spec, tenant, 0.0)
    placement = Placement(task_id, "a", ("dc",), estimate=Estimate(compute_ms=10.0))
    return task.transition(TaskState.SCHEDULED, 0.0, "placed on a", placement)


def test_the_local_engine_stops_a_task_at_its_tenants_maximum_run_time() -> None:
    reports = _Reports()
    engine = LocalEngine(["a"], max_workers=2, max_run_s=30.0, max_run_s_by_tenant={"slow": 1.0})
    engine.attach(reports)
    try:
        started = time.monotonic()
        engine.start(_scheduled("endless", ENDLESS, "slow"))
        engine.start(_scheduled("small", SMALL, "fast"))
        assert reports.wait("endless", "small")
        assert time.monotonic() - started < 1.0 + 10.0
        ok, reason = reports.finished["endless"]
        assert not ok
        assert "past its maximum run time of 1 s" in reason
        assert reports.finished["small"][0]
        engine.start(_scheduled("after", SMALL, "slow"))  # the worker lives on
        assert reports.wait("after")
        assert reports.finished["after"][0]
        assert engine.pools_replaced == 0
    finally:
        engine.close()


def test_cancel_kills_the_running_tasks_process_and_drops_a_queued_one() -> None:
    workers = WorkerPool(1)
    try:
        assert workers.wait_ready(WAIT_S)
        running = workers.submit("long", "matmul", Work.of("long", ENDLESS))
        queued = workers.submit("next", "matmul", Work.of("next", SMALL))
        assert workers.cancel("next") is None
        with pytest.raises(RunCancelled, match="task next cancelled"):
            queued.result(WAIT_S)
        deadline_s = time.monotonic() + WAIT_S
        while not running.running() and time.monotonic() < deadline_s:
            time.sleep(0.01)
        pid = workers.cancel("long")
        assert pid is not None
        with pytest.raises(RunCancelled, match=f"task long cancelled \\(pid {pid}\\)"):
            running.result(WAIT_S)
        assert workers.cancel("long") is None  # gone already
        assert workers.replaced == 1
        after = workers.submit("after", "matmul", Work.of("after", SMALL))
        assert after.result(WAIT_S).compute_s >= 0.0
    finally:
        workers.shutdown()
