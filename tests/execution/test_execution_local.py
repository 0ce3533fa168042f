"""The local engine with the real controller and real work; the efficiency feedback rule."""

from __future__ import annotations

import logging
import math
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator

import local_engine_kinds  # the test directory is on sys.path (and on the workers')
import pytest

from suanwang.control.controller import Controller
from suanwang.control.ports import SystemClock
from suanwang.execution import EfficiencyFeedback, LocalEngine, RunRecord, local, local_pool
from suanwang.measure.compute import DEFAULT_EFFICIENCY, EfficiencyTable, WorkloadClass
from suanwang.model import Estimate, Placement, Task, TaskSpec, TaskState
from suanwang.scenario import loads_scenario
from suanwang.scheduling import ClusterState, Scheduler, builtin_profiles

NETWORK = """
version: 1
name: pair
sites:
  - {id: users, tier: terminal, geo: {lat_deg: 31.2, lon_deg: 121.5}}
  - {id: dc, tier: edge, region: CN-SH, geo: {lat_deg: 31.3, lon_deg: 121.4}}
nodes:
  - {id: a, site: dc, cpu_cores: 4, mem_gib: 8, cpu_peak_gflops: {fp32: 200, fp64: 100}}
  - {id: b, site: dc, cpu_cores: 4, mem_gib: 8, cpu_peak_gflops: {fp32: 200, fp64: 100}}
links:
  - {id: up, a: users, b: dc, bandwidth_mbps: 1000, latency_ms: 1}
"""

WAIT_S = 60.0
LONG_GFLOP = 25.0  # about a second of matmul on one core here
DIE = "local_engine_kinds:die"  # user functions of the helper module next to this one
DIE_LATER = "local_engine_kinds:die_later"
NAP = "local_engine_kinds:nap"
NAP_MARKED = "local_engine_kinds:nap_marked"
DIED = "worker process died (pid "


class Recorder:
    """Reports with their order; waits are bounded."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []
        self.peak_running = 0
        self._running = 0
        self._changed = threading.Condition()

    def task_started(self, task_id: str) -> None:
        with self._changed:
            self.events.append(("started", task_id))
            self._running += 1
            self.peak_running = max(self.peak_running, self._running)
            self._changed.notify_all()

    def task_finished(self, task_id: str, ok: bool, reason: str) -> None:
        with self._changed:
            if ("started", task_id) in self.events:
                self._running -= 1
            self.events.append(("finished", task_id, str(ok), reason))
            self._changed.notify_all()

    def of(self, task_id: str) -> list[tuple[str, ...]]:
        with self._changed:
            return [e for e in self.events if e[1] == task_id]

    def wait(self, done: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
        with self._changed:
            return self._changed.wait_for(done, timeout_s)

    def finished(self, task_id: str, timeout_s: float = WAIT_S) -> bool:
        return self.wait(lambda: any(e[0] == "finished" for e in self.of(task_id)), timeout_s)


def scheduled(task_id: str, spec: TaskSpec, node: str = "a", compute_ms: float = 10.0) -> Task:
    task = Task.submit(task_id, spec, "", 0.0)
    placement = Placement(task_id, node, ("dc",), estimate=Estimate(compute_ms=compute_ms))
    return task.transition(TaskState.SCHEDULED, 0.0, f"placed on {node}", placement)


def job(work_gflop: float, task_type: str = "matmul") -> TaskSpec:
    return TaskSpec(work_gflop=work_gflop, task_type=task_type)


@pytest.fixture
def one_worker() -> Iterator[tuple[LocalEngine, Recorder]]:
    recorder = Recorder()
    engine = LocalEngine(["a"], max_workers=1)
    engine.attach(recorder)
    yield engine, recorder
    engine.close()


class Completions:
    """A controller listener that counts final states."""

    def __init__(self) -> None:
        self.final: dict[str, Task] = {}
        self._changed = threading.Condition()

    def task_changed(self, task: Task, cause: str) -> None:
        with self._changed:
            if task.state.is_terminal:
                self.final[task.id] = task
                self._changed.notify_all()

    def wait(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.final) >= count, WAIT_S)


def test_controller_runs_real_work_on_local_workers():
    topology = loads_scenario(NETWORK, "yaml").topology
    feedback = EfficiencyFeedback(min_samples=2)
    lock = threading.RLock()  # the controller is not thread-safe: reports and calls take turns
    listener = Completions()
    local = LocalEngine(topology.nodes, max_workers=2, on_record=feedback.observe_record, lock=lock)
    with local:
        scheduler = Scheduler(builtin_profiles()["least-loaded"], ClusterState(topology))
        controller = Controller(scheduler, local, SystemClock(), listener=listener)
        kinds = ["matmul", "transcode", "inference"]
        with lock:
            for i in range(6):
                spec = TaskSpec(work_gflop=0.05, task_type=kinds[i % 3], ingress_site="users")
                controller.submit(f"t{i}", spec)
        assert listener.wait(6)
        with lock:
            assert controller.active == 0
    assert {t.state for t in listener.final.values()} == {TaskState.COMPLETED}
    assert all(t.history[-1].reason.startswith("completed on ") for t in listener.final.values())
    records = {r.task_id: r for r in local.records()}
    assert set(records) == {f"t{i}" for i in range(6)}
    for task_id, record in records.items():
        assert record.ok
        assert record.node_id == listener.final[task_id].placement.node_id  # type: ignore[union-attr]
        assert record.estimated_compute_ms > 0
        assert record.measured_compute_ms is not None
        assert record.measured_compute_ms > 0
        assert record.wall_ms >= record.measured_compute_ms
        assert record.ran_on.startswith("pid ")
        assert isinstance(record.result, dict)
        assert record.result["flop"] > 0
    gap = feedback.gaps()[("cpu", WorkloadClass.INFERENCE)]
    assert gap.samples == 6
    assert feedback.table() != DEFAULT_EFFICIENCY


def test_waiting_tasks_start_only_when_the_worker_frees(one_worker):
    engine, recorder = one_worker
    for i in range(3):
        engine.start(scheduled(f"t{i}", job(0.2)))
    assert recorder.wait(lambda: len(recorder.events) == 6)
    assert recorder.peak_running == 1
    assert [e[:2] for e in recorder.events] == [
        (what, f"t{i}") for i in range(3) for what in ("started", "finished")
    ]


def test_cancelling_a_waiting_task_keeps_it_from_running(one_worker):
    engine, recorder = one_worker
    engine.start(scheduled("first", job(1.0)))
    engine.start(scheduled("waiting", job(0.1)))
    engine.cancel("waiting")
    engine.cancel("waiting")  # idempotent
    assert recorder.finished("first")
    # One worker, first in first out: once a task started after it has run, the cancelled
    # one would have run too.
    engine.start(scheduled("after", job(0.05)))
    assert recorder.finished("after")
    assert recorder.of("waiting") == []
    assert [r.task_id for r in engine.records()] == ["first", "after"]
    assert engine.running == 0


def test_cancelling_a_running_task_silences_it_and_frees_its_worker(one_user_worker):
    engine, recorder = one_user_worker
    local_engine_kinds.begun_mark("long").unlink(missing_ok=True)
    engine.start(scheduled("long", job(1.0, task_type=NAP_MARKED)))
    assert recorder.wait(lambda: recorder.of("long") == [("started", "long")])
    assert wait_until(local_engine_kinds.begun_mark("long").exists)  # its work is under way
    engine.cancel("long")
    engine.start(scheduled("next", job(0.05)))
    assert recorder.finished("next")  # ran once the cancelled work let go of the worker
    assert recorder.of("long") == [("started", "long")]
    engine.start(scheduled("long", job(0.05)))  # started again after the cancel
    assert recorder.finished("long")
    assert [e[0] for e in recorder.of("long")] == ["started", "started", "finished"]


def test_tasks_that_cannot_run_here_fail_with_a_reason(one_worker):
    engine, recorder = one_worker
    engine.start(scheduled("elsewhere", job(0.01), node="z"))
    engine.start(scheduled("user", job(0.01, task_type="builtins:repr")))
    assert recorder.finished("elsewhere")
    assert recorder.finished("user")
    assert recorder.of("elsewhere") == [
        ("finished", "elsewhere", "False", "node z is not served by this engine")
    ]
    (event,) = recorder.of("user")
    assert event[2] == "False"
    assert "allow_user_functions" in event[3]
    unplaced = Task.submit("unplaced", job(1.0), "", 0.0)
    with pytest.raises(ValueError, match="no placement"):
        engine.start(unplaced)


def test_user_functions_run_when_allowed_and_their_errors_are_reported():
    recorder = Recorder()
    with LocalEngine(["a"], max_workers=1, allow_user_functions=True) as engine:
        engine.attach(recorder)
        engine.start(scheduled("repr", job(1.0, task_type="builtins:repr")))
        engine.start(scheduled("broken", job(1.0, task_type="builtins:divmod")))
        assert recorder.finished("repr")
        assert recorder.finished("broken")
        records = {r.task_id: r for r in engine.records()}
    assert records["repr"].ok
    assert isinstance(records["repr"].result, str)
    assert records["repr"].result.startswith("Work(work_gflop=1.0")
    assert not records["broken"].ok
    assert records["broken"].reason.startswith("TypeError")
    assert records["broken"].measured_compute_ms is None


def test_a_closed_engine_refuses_work():
    engine = LocalEngine(["a", "b", "a"], max_workers=1)
    assert engine.inventory() == ("a", "b")
    engine.close()
    engine.close()
    with pytest.raises(ValueError, match="closed"):
        engine.start(scheduled("late", job(0.01)))


# ----------------------------------------------------------------------------- dying workers


def wait_until(done: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(autouse=True, scope="module")
def _begun_marks() -> Iterator[None]:
    """Remove the folder of the workers' "work begun" marks after this module."""
    yield
    shutil.rmtree(local_engine_kinds.begun_mark("any").parent, ignore_errors=True)


@pytest.fixture
def one_user_worker() -> Iterator[tuple[LocalEngine, Recorder]]:
    recorder = Recorder()
    engine = LocalEngine(["a"], max_workers=1, allow_user_functions=True)
    engine.attach(recorder)
    yield engine, recorder
    engine.close()


@pytest.fixture
def two_user_workers() -> Iterator[tuple[LocalEngine, Recorder]]:
    recorder = Recorder()
    engine = LocalEngine(["a"], max_workers=2, allow_user_functions=True)
    engine.attach(recorder)
    yield engine, recorder
    engine.close()


def test_a_dying_worker_fails_what_its_pool_held_and_a_fresh_pool_takes_over(
    two_user_workers, caplog
):
    engine, recorder = two_user_workers
    caplog.set_level(logging.WARNING, logger=local.__name__)
    engine.start(scheduled("sleeper", job(WAIT_S, task_type=NAP)))
    assert recorder.wait(lambda: recorder.of("sleeper") == [("started", "sleeper")])
    engine.start(scheduled("killer", job(0.01, task_type=DIE)))
    engine.start(scheduled("queued", job(0.05)))  # both workers are taken: it waits
    for task_id in ("killer", "sleeper", "queued"):
        assert recorder.finished(task_id)
    code = f"exit code {local_engine_kinds.EXIT_CODE}"
    for task_id in ("killer", "sleeper"):  # in the pool when it broke, each failed once
        started, (what, _, ok, reason) = recorder.of(task_id)
        assert started == ("started", task_id)
        assert (what, ok) == ("finished", "False")
        assert reason.startswith(DIED)
        assert code in reason
        assert "the task may have killed it" in reason
    assert [e[:3] for e in recorder.of("queued")] == [
        ("started", "queued"),
        ("finished", "queued", "True"),
    ]
    engine.start(scheduled("after", job(0.05)))
    assert recorder.finished("after")
    assert recorder.of("after")[-1][2] == "True"
    assert engine.pools_replaced == 1
    assert engine.running == 0
    records = {r.task_id: r for r in engine.records()}
    assert not records["killer"].ok
    assert records["killer"].measured_compute_ms is None
    assert records["after"].ok
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "replaced it with a fresh pool" in warnings[0].getMessage()
    assert code in warnings[0].getMessage()


def test_a_cancelled_task_whose_worker_dies_reports_nothing(two_user_workers):
    engine, recorder = two_user_workers
    local_engine_kinds.begun_mark("doomed").unlink(missing_ok=True)
    engine.start(scheduled("doomed", job(1.0, task_type=DIE_LATER)))
    assert recorder.wait(lambda: recorder.of("doomed") == [("started", "doomed")])
    # In a worker (its work has begun there): the cancel cannot stop it.
    assert wait_until(local_engine_kinds.begun_mark("doomed").exists)
    engine.cancel("doomed")
    assert wait_until(lambda: engine.pools_replaced == 1)
    engine.start(scheduled("next", job(0.05)))
    assert recorder.finished("next")
    assert recorder.of("doomed") == [("started", "doomed")]
    assert [r.task_id for r in engine.records()] == ["next"]
    assert engine.running == 0


def test_a_worker_killed_while_idle_is_replaced_at_the_next_start(one_worker):
    engine, recorder = one_worker
    engine.start(scheduled("first", job(0.05)))
    assert recorder.finished("first")
    (record,) = engine.records()
    pid = int(record.ran_on.removeprefix("pid "))
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not process_exists(pid))  # reaped: the pool knows it broke
    engine.start(scheduled("second", job(0.05)))
    assert recorder.finished("second")
    assert [e[:3] for e in recorder.of("second")] == [
        ("started", "second"),
        ("finished", "second", "True"),
    ]
    assert engine.pools_replaced == 1


def test_pools_that_keep_breaking_are_replaced_after_a_wait(monkeypatch, caplog):
    monkeypatch.setattr(local_pool, "FREE_REPLACEMENTS", 1)
    monkeypatch.setattr(local_pool, "BACKOFF_FIRST_S", 1.0)
    caplog.set_level(logging.WARNING, logger=local.__name__)
    recorder = Recorder()
    with LocalEngine(["a"], max_workers=1, allow_user_functions=True) as engine:
        engine.attach(recorder)
        for task_id in ("k1", "k2"):
            engine.start(scheduled(task_id, job(0.01, task_type=DIE)))
        engine.start(scheduled("after", job(0.05)))
        assert recorder.finished("k2")
        broke = time.monotonic()
        assert engine.pools_replaced == 1  # the second pool completed nothing: wait
        assert recorder.finished("after")
        assert time.monotonic() - broke >= 0.9
        assert engine.pools_replaced == 2
    for task_id in ("k1", "k2"):
        assert recorder.of(task_id)[-1][2] == "False"
        assert recorder.of(task_id)[-1][3].startswith(DIED)
    assert recorder.of("after")[-1][2] == "True"
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "starts in 1.0 s" in errors[0]


def test_close_works_with_a_broken_pool(two_user_workers):
    engine, recorder = two_user_workers
    engine.start(scheduled("killer", job(0.01, task_type=DIE)))
    assert recorder.finished("killer")
    engine.close()
    engine.close()
    with pytest.raises(ValueError, match="closed"):
        engine.start(scheduled("late", job(0.01)))


# ----------------------------------------------------------------------------- feedback


def test_feedback_moves_a_cell_after_enough_samples():
    feedback = EfficiencyFeedback(alpha=0.5, min_samples=3)
    base = DEFAULT_EFFICIENCY.efficiency("cpu", WorkloadClass.DENSE)
    for _ in range(2):
        assert feedback.observe("cpu", WorkloadClass.DENSE, 100.0, 200.0)
    assert feedback.table() == DEFAULT_EFFICIENCY  # too few samples yet
    assert feedback.observe("cpu", WorkloadClass.DENSE, 100.0, 400.0)
    gap = feedback.gaps()[("cpu", WorkloadClass.DENSE)]
    # EMA with alpha 0.5 over ratios 2, 2, 4 and implied efficiencies base/2, base/2, base/4.
    assert gap.samples == 3
    assert gap.ratio == pytest.approx(3.0)
    assert gap.efficiency == pytest.approx(base * (0.5 * 0.5 + 0.5 * 0.25))
    table = feedback.table()
    assert table.efficiency("cpu", WorkloadClass.DENSE) == pytest.approx(gap.efficiency)
    assert table.efficiency("gpu", WorkloadClass.DENSE) == DEFAULT_EFFICIENCY.efficiency(
        "gpu", WorkloadClass.DENSE
    )


def test_feedback_clamps_outliers_and_keeps_the_table_valid():
    feedback = EfficiencyFeedback(alpha=1.0, min_samples=1, ratio_bounds=(0.1, 10.0))
    feedback.observe("cpu", WorkloadClass.SPARSE, 1.0, 1e6)  # ratio clamped to 10
    sparse = DEFAULT_EFFICIENCY.efficiency("cpu", WorkloadClass.SPARSE)
    assert feedback.table().efficiency("cpu", WorkloadClass.SPARSE) == pytest.approx(sparse / 10)
    feedback.observe("cpu", WorkloadClass.SPARSE, 1e6, 1.0)  # 10x faster than a full device
    assert feedback.table().efficiency("cpu", WorkloadClass.SPARSE) == 1.0


def test_feedback_reads_against_the_table_the_estimate_used():
    used = EfficiencyTable.from_mapping({"cpu": {"inference": 0.8}})
    feedback = EfficiencyFeedback(min_samples=1)
    feedback.observe("cpu", WorkloadClass.INFERENCE, 10.0, 20.0, used=used)
    assert feedback.table().efficiency("cpu", WorkloadClass.INFERENCE) == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("estimated_ms", "measured_ms"),
    [(0.0, 5.0), (5.0, 0.0), (-1.0, 5.0), (math.inf, 5.0), (5.0, math.nan)],
)
def test_feedback_skips_samples_without_two_positive_times(estimated_ms, measured_ms):
    feedback = EfficiencyFeedback()
    assert not feedback.observe("cpu", WorkloadClass.DENSE, estimated_ms, measured_ms)
    assert feedback.gaps() == {}


def test_feedback_skips_failed_runs_and_checks_its_arguments():
    failed = RunRecord(
        "t", "a", "matmul", "cpu", WorkloadClass.DENSE, 10.0, None, 1.0, False, "boom", "", None
    )
    assert not EfficiencyFeedback().observe_record(failed)
    with pytest.raises(ValueError, match="unknown device"):
        EfficiencyFeedback().observe("tpu", WorkloadClass.DENSE, 1.0, 1.0)
    for bad in ({"alpha": 0.0}, {"min_samples": 0}, {"ratio_bounds": (2.0, 3.0)}):
        with pytest.raises(ValueError, match="must"):
            EfficiencyFeedback(**bad)  # type: ignore[arg-type]


def test_a_record_feeds_the_cell_of_its_device_and_class():
    cold = RunRecord(
        "c", "a", "matmul", "cpu", WorkloadClass.DENSE, 10.0, 20.0, 25.0, True, "", "pid 1", None
    )
    feedback = EfficiencyFeedback(min_samples=1)
    assert feedback.observe_record(cold)
    assert set(feedback.gaps()) == {("cpu", WorkloadClass.DENSE)}
