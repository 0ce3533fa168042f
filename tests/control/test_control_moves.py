"""Make-before-break: draining a node moves its long-running services without a break."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.control.controller import Controller
from suanwang.control.ports import EngineReports, ManualClock
from suanwang.model import Task, TaskSpec, TaskState
from suanwang.scenario import loads_scenario
from suanwang.scheduling import ClusterState, Scheduler, builtin_profiles

NETWORK = """
version: 1
name: trio
sites:
  - {id: users, tier: terminal, geo: {lat_deg: 31.2, lon_deg: 121.5}}
  - {id: dc-a, tier: edge, region: CN-SH, geo: {lat_deg: 31.3, lon_deg: 121.4}}
  - {id: dc-b, tier: edge, region: CN-SH, geo: {lat_deg: 31.1, lon_deg: 121.6}}
nodes:
  - {id: a, site: dc-a, cpu_cores: 2, mem_gib: 8, cpu_peak_gflops: {fp32: 800}}
  - {id: b, site: dc-b, cpu_cores: 2, mem_gib: 8, cpu_peak_gflops: {fp32: 400}}
  - {id: c, site: dc-b, cpu_cores: 1, mem_gib: 8, cpu_peak_gflops: {fp32: 300}}
links:
  - {id: to-a, a: users, b: dc-a, bandwidth_mbps: 1000, latency_ms: 1}
  - {id: to-b, a: users, b: dc-b, bandwidth_mbps: 1000, latency_ms: 2}
"""

JOB = TaskSpec(work_gflop=10, cpu_cores=1, mem_gib=1, ingress_site="users")
SERVICE = dataclasses.replace(JOB, long_running=True)


class Engine:
    """Keeps the runs it was given until the test ends or the controller cancels them."""

    def __init__(self) -> None:
        self.runs: dict[str, Task] = {}
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.reports: EngineReports | None = None

    def attach(self, reports: EngineReports) -> None:
        self.reports = reports

    def start(self, task: Task) -> None:
        assert task.placement is not None
        self.runs[task.id] = task
        self.started.append(task.id)

    def cancel(self, task_id: str) -> None:
        if self.runs.pop(task_id, None) is not None:
            self.cancelled.append(task_id)

    def inventory(self) -> tuple[str, ...]:
        return ("a", "b", "c")

    def begin(self, run_id: str) -> None:
        assert self.reports is not None
        self.reports.task_started(run_id)

    def end(self, run_id: str, ok: bool = True) -> None:
        assert self.reports is not None
        self.runs.pop(run_id, None)
        self.reports.task_finished(run_id, ok, "done" if ok else "crashed")

    def node_of(self, run_id: str) -> str:
        placement = self.runs[run_id].placement
        assert placement is not None
        return placement.node_id


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, TaskState, str, str]] = []

    def task_changed(self, task: Task, cause: str) -> None:
        self.events.append((task.id, task.state, cause, task.history[-1].reason))

    def causes(self, task_id: str) -> list[str]:
        return [cause for tid, _, cause, _ in self.events if tid == task_id]


def _controller() -> tuple[Controller, Engine, Log]:
    topology = loads_scenario(NETWORK, "yaml").topology
    engine, log = Engine(), Log()
    scheduler = Scheduler(builtin_profiles()["nearest"], ClusterState(topology))
    controller = Controller(scheduler, engine, ManualClock(100.0), listener=log)
    return controller, engine, log


def _running_service(controller: Controller, engine: Engine) -> None:
    task = controller.submit("s0", SERVICE)
    assert task.placement is not None
    assert task.placement.node_id == "a"
    engine.begin("s0")


def _node(controller: Controller, task_id: str) -> str:
    task = controller.task(task_id)
    assert task is not None
    assert task.placement is not None
    return task.placement.node_id


def test_drain_starts_the_replacement_before_the_old_run_is_released() -> None:
    controller, engine, log = _controller()
    _running_service(controller, engine)
    assert controller.drain("a", "maintenance") == 1
    assert controller.draining() == ("a",)
    # Both runs exist and hold capacity; the task still serves on a.
    assert engine.started == ["s0", "s0~1"]
    assert engine.node_of("s0~1") == "b"
    assert engine.cancelled == []
    ledger = controller.state.reservations
    assert ledger.held("s0") is not None
    assert ledger.held("s0~1") is not None
    task = controller.task("s0")
    assert task is not None
    assert task.state is TaskState.RUNNING
    assert _node(controller, "s0") == "a"
    # Nothing new lands on a draining node.
    job = controller.submit("j0", JOB)
    assert job.placement is not None
    assert job.placement.node_id == "b"
    engine.begin("s0~1")
    assert engine.cancelled == ["s0"]
    assert ledger.held("s0") is None
    assert ledger.held("s0~1") is not None
    assert _node(controller, "s0") == "b"
    assert log.causes("s0")[-2:] == ["moving", "moved"]
    assert "without a break" in log.events[-1][3]
    assert controller.task_of_run("s0~1") is controller.task("s0")
    engine.end("s0", ok=True)  # a late report of the released run changes nothing
    assert controller.task("s0") is not None
    engine.end("s0~1")
    assert controller.task("s0") is None
    assert log.events[-1][:3] == ("s0", TaskState.COMPLETED, "completed")
    assert ledger.held("s0~1") is None
    controller.node_up("a")
    assert controller.draining() == ()
    assert controller.submit("j1", JOB).placement.node_id == "a"  # type: ignore[union-attr]


def test_batch_tasks_finish_where_they_are_and_unstarted_services_are_placed_again() -> None:
    controller, engine, log = _controller()
    controller.submit("j0", JOB)
    engine.begin("j0")
    controller.submit("s0", SERVICE)  # placed on a, not started yet
    assert controller.drain("a", "maintenance") == 1
    assert engine.cancelled == ["s0"]
    assert _node(controller, "s0") == "b"
    assert _node(controller, "j0") == "a"
    assert "replaced" in log.causes("s0")
    assert "moving" not in log.causes("s0")
    engine.end("j0")
    assert log.events[-1][:3] == ("j0", TaskState.COMPLETED, "completed")


def test_old_run_lost_mid_move_hands_over_to_the_replacement() -> None:
    controller, engine, log = _controller()
    _running_service(controller, engine)
    controller.drain("a", "suspected: no heartbeat for 3.1 s")
    assert controller.node_down("a", "no heartbeat for 5.2 s") == 1
    assert controller.draining() == ()
    task = controller.task("s0")
    assert task is not None
    assert task.state is TaskState.SCHEDULED
    assert _node(controller, "s0") == "b"
    assert engine.cancelled == ["s0"]
    assert "s0~1" in engine.runs
    assert "takes over" in log.events[-2][3]
    engine.begin("s0~1")
    engine.end("s0~1")
    assert controller.task("s0") is None
    assert len(controller.state.reservations) == 0


def test_failed_replacement_leaves_the_service_where_it_runs() -> None:
    controller, engine, log = _controller()
    _running_service(controller, engine)
    controller.drain("a", "maintenance")
    engine.end("s0~1", ok=False)
    assert log.causes("s0")[-1] == "move-failed"
    assert "keeps running on a" in log.events[-1][3]
    assert controller.state.reservations.held("s0~1") is None
    assert _node(controller, "s0") == "a"
    engine.end("s0")
    assert log.events[-1][:3] == ("s0", TaskState.COMPLETED, "completed")


def test_no_room_elsewhere_keeps_the_service_running() -> None:
    controller, engine, log = _controller()
    _running_service(controller, engine)
    for i in range(4):  # fill what is left: a (1 core), b (2) and c (1)
        controller.submit(f"j{i}", JOB)
    assert controller.queued == 0
    assert controller.drain("a", "maintenance") == 0
    assert log.causes("s0")[-1] == "move-failed"
    assert "no other node can take it now" in log.events[-1][3]


def test_cancel_mid_move_stops_both_runs() -> None:
    controller, engine, log = _controller()
    _running_service(controller, engine)
    controller.drain("a", "maintenance")
    controller.cancel("s0")
    assert sorted(engine.cancelled) == ["s0", "s0~1"]
    assert len(controller.state.reservations) == 0
    assert log.events[-1][:3] == ("s0", TaskState.CANCELLED, "cancelled")


_OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["job", "service", "begin", "end", "fail", "drain", "down", "up", "cancel"]
        ),
        st.integers(0, 50),
    ),
    max_size=60,
)


def _apply(controller: Controller, engine: Engine, op: str, pick: int, submitted: int) -> int:
    """One random step; returns how many tasks have been submitted after it."""
    nodes, runs = ("a", "b", "c"), sorted(engine.runs)
    if op in ("job", "service"):
        controller.submit(f"t{submitted}", SERVICE if op == "service" else JOB)
        return submitted + 1
    if op == "begin" and runs:
        engine.begin(runs[pick % len(runs)])
    elif op in ("end", "fail") and runs:
        engine.end(runs[pick % len(runs)], ok=op == "end")
    elif op == "drain":
        controller.drain(nodes[pick % 3], "maintenance")
    elif op == "down":
        controller.node_down(nodes[pick % 3], "lost")
    elif op == "up":
        controller.node_up(nodes[pick % 3])
    elif op == "cancel" and submitted:
        controller.cancel(f"t{pick % submitted}")
    return submitted


@settings(max_examples=150, deadline=None)
@given(_OPS)
def test_any_mix_of_moves_and_failures_ends_every_task_once(ops: list[tuple[str, int]]) -> None:
    controller, engine, log = _controller()
    submitted = 0
    for op, pick in ops:
        submitted = _apply(controller, engine, op, pick, submitted)
    for node in ("a", "b", "c"):
        controller.node_up(node)
    for _ in range(4 * submitted + 4):  # bounded: every round ends a run
        if not engine.runs:
            break
        run_id = sorted(engine.runs)[0]
        engine.begin(run_id)
        engine.end(run_id)
    for task_id in controller.active_ids():  # whatever still waits in the queue
        controller.cancel(task_id)
    assert controller.active == 0
    assert len(controller.state.reservations) == 0
    finals = [tid for tid, state, _, _ in log.events if state.is_terminal]
    assert sorted(finals) == sorted(f"t{i}" for i in range(submitted))
    for tid, state, cause, _ in log.events:  # moves happen only while a task RUNS
        if cause in ("moving", "moved", "move-failed"):
            assert state is TaskState.RUNNING, (tid, cause)
