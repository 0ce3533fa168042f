"""The controller with a fake engine: placement, queueing, rejection, cancellation, healing."""

from __future__ import annotations

import pytest

from suanwang.control.controller import Controller, ControllerConfig, nodes_by_state
from suanwang.control.ports import EngineReports, ManualClock
from suanwang.model import Task, TaskSpec, TaskState
from suanwang.scenario import loads_scenario
from suanwang.scheduling import ClusterState, Scheduler, builtin_profiles

NETWORK = """
version: 1
name: pair
sites:
  - {id: users, tier: terminal, geo: {lat_deg: 31.2, lon_deg: 121.5}}
  - {id: dc-a, tier: edge, region: CN-SH, geo: {lat_deg: 31.3, lon_deg: 121.4}}
  - {id: dc-b, tier: edge, region: CN-SH, geo: {lat_deg: 31.1, lon_deg: 121.6}}
nodes:
  - {id: a, site: dc-a, cpu_cores: 2, mem_gib: 8, cpu_peak_gflops: {fp32: 800}}
  - {id: b, site: dc-b, cpu_cores: 2, mem_gib: 8, cpu_peak_gflops: {fp32: 400}}
links:
  - {id: to-a, a: users, b: dc-a, bandwidth_mbps: 1000, latency_ms: 1}
  - {id: to-b, a: users, b: dc-b, bandwidth_mbps: 1000, latency_ms: 2}
  - {id: a-b, a: dc-a, b: dc-b, bandwidth_mbps: 1000, latency_ms: 1}
"""

JOB = TaskSpec(work_gflop=10, cpu_cores=1, mem_gib=1, ingress_site="users")


class FakeEngine:
    """Records starts and cancels; the test says when runs end."""

    def __init__(self) -> None:
        self.started: list[Task] = []
        self.cancelled: list[str] = []
        self.reports: EngineReports | None = None

    def attach(self, reports: EngineReports) -> None:
        self.reports = reports

    def start(self, task: Task) -> None:
        self.started.append(task)

    def cancel(self, task_id: str) -> None:
        self.cancelled.append(task_id)

    def inventory(self) -> tuple[str, ...]:
        return ("a", "b")

    def finish(self, task_id: str, ok: bool = True) -> None:
        assert self.reports is not None
        self.reports.task_started(task_id)
        self.reports.task_finished(task_id, ok, "done" if ok else "crashed")


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, TaskState, str]] = []

    def task_changed(self, task: Task, cause: str) -> None:
        self.events.append((task.id, task.state, cause))

    def causes(self, task_id: str) -> list[str]:
        return [cause for tid, _, cause in self.events if tid == task_id]


def _controller(
    profile: str = "nearest", config: ControllerConfig | None = None
) -> tuple[Controller, FakeEngine, ManualClock, Log]:
    topology = loads_scenario(NETWORK, "yaml").topology
    engine, clock, log = FakeEngine(), ManualClock(100.0), Log()
    scheduler = Scheduler(builtin_profiles()[profile], ClusterState(topology))
    return Controller(scheduler, engine, clock, listener=log, config=config), engine, clock, log


def test_submit_places_starts_and_completes() -> None:
    controller, engine, clock, log = _controller()
    task = controller.submit("t1", JOB)
    assert task.state is TaskState.SCHEDULED
    assert task.placement is not None
    assert task.placement.node_id == "a"
    assert engine.started == [task]
    clock.advance(2.0)
    engine.finish("t1")
    assert controller.active == 0
    assert log.causes("t1") == ["submitted", "placed", "started", "completed"]
    assert controller.state.reservations.cpu_cores.sum() == 0


def test_full_network_queues_fifo_and_drains_on_release() -> None:
    controller, engine, clock, log = _controller()
    placed = [controller.submit(f"t{i}", JOB) for i in range(4)]  # 2 cores on a, 2 on b
    assert all(t.state is TaskState.SCHEDULED for t in placed)
    waiting = [controller.submit(f"w{i}", JOB) for i in range(2)]
    assert all(t.state is TaskState.PENDING for t in waiting)
    assert controller.queued == 2
    clock.advance(1.0)
    engine.finish("t0")  # frees a core on a: the first in line takes it
    assert controller.task("w0") is not None
    assert controller.task("w0").state is TaskState.SCHEDULED  # type: ignore[union-attr]
    assert controller.task("w1").state is TaskState.PENDING  # type: ignore[union-attr]
    assert log.causes("w0") == ["submitted", "queued", "placed"]


def test_patience_runs_out_with_the_reason() -> None:
    controller, _, clock, log = _controller(config=ControllerConfig(max_wait_s=5.0))
    for i in range(4):
        controller.submit(f"t{i}", JOB)
    controller.submit("late", JOB)
    clock.advance(4.0)
    assert controller.expire() == 0
    clock.advance(2.0)
    assert controller.expire() == 1
    last = [e for e in log.events if e[0] == "late"][-1]
    assert last[1] is TaskState.REJECTED
    assert last[2].startswith("expired:")


def test_impossible_demand_is_rejected_at_once() -> None:
    controller, _, _, log = _controller(profile="cats-joint")
    task = controller.submit("huge", TaskSpec(work_gflop=1, cpu_cores=64, ingress_site="users"))
    assert task.state is TaskState.REJECTED
    assert "64 CPU cores" in task.history[-1].reason
    # Too far for its budget even on an empty network: refused now, not queued.
    far = TaskSpec(work_gflop=1, ingress_site="users", latency_budget_ms=0.5)
    refused = controller.submit("far", far)
    assert refused.state is TaskState.REJECTED
    assert "latency" in refused.history[-1].reason
    assert log.causes("far")[-1].startswith("rejected:")
    assert controller.queued == 0
    unknown = controller.submit("lost", TaskSpec(work_gflop=1, ingress_site="nowhere"))
    assert unknown.state is TaskState.REJECTED
    assert "nowhere" in unknown.history[-1].reason


def test_cancel_queued_and_running() -> None:
    controller, engine, _, _ = _controller()
    for i in range(4):
        controller.submit(f"t{i}", JOB)
    controller.submit("q", JOB)
    assert controller.cancel("q") is not None
    assert controller.queued == 0
    cancelled = controller.cancel("t1")
    assert cancelled is not None
    assert cancelled.state is TaskState.CANCELLED
    assert engine.cancelled == ["t1"]
    assert controller.cancel("t1") is None  # already final


def test_node_down_replaces_its_tasks_elsewhere_and_node_up_returns_it() -> None:
    controller, engine, clock, log = _controller()
    controller.submit("t0", JOB)
    controller.submit("t1", JOB)
    clock.advance(1.0)
    assert controller.node_down("a", "missed heartbeats") == 2
    assert sorted(engine.cancelled) == ["t0", "t1"]
    for task_id in ("t0", "t1"):
        task = controller.task(task_id)
        assert task is not None
        assert task.state is TaskState.SCHEDULED
        assert task.placement is not None
        assert task.placement.node_id == "b"
        assert "replaced" in log.causes(task_id)
    assert nodes_by_state(controller.state) == {"up": 1, "down": 1}
    controller.node_up("a")
    assert controller.submit("t2", JOB).placement.node_id == "a"  # type: ignore[union-attr]


def test_too_many_replacements_fail_the_task() -> None:
    controller, _, _, log = _controller(config=ControllerConfig(max_replacements=1))
    controller.submit("t0", JOB)
    controller.node_down("a", "power")  # first move: a -> b
    controller.node_up("a")
    assert controller.task("t0") is not None
    controller.node_down("b", "power")  # a second move is one too many
    assert controller.task("t0") is None
    task_id, state, cause = log.events[-1]
    assert (task_id, state, cause) == ("t0", TaskState.FAILED, "failed")


def test_link_down_reroutes_and_link_up_restores() -> None:
    controller, _, _, _ = _controller()
    task = controller.submit("t0", JOB)
    assert task.placement is not None
    assert task.placement.segments == ("to-a",)
    controller.link_down("to-a", "fibre cut")
    moved = controller.task("t0")
    assert moved is not None
    assert moved.placement is not None
    assert "to-a" not in moved.placement.segments
    controller.link_up("to-a")
    again = controller.submit("t1", JOB)
    assert again.placement is not None
    assert again.placement.segments == ("to-a",)


def test_resume_places_stored_tasks_again() -> None:
    controller, _engine, _, _ = _controller()
    running = controller.submit("t0", JOB)
    fresh, engine2, _, _ = _controller()
    assert fresh.resume([running]) == 1
    resumed = fresh.task("t0")
    assert resumed is not None
    assert resumed.state is TaskState.SCHEDULED
    assert [s.to_state for s in resumed.history][-2:] == [TaskState.PENDING, TaskState.SCHEDULED]
    assert engine2.started[-1].id == "t0"
    with pytest.raises(ValueError, match="already active"):
        fresh.submit("t0", JOB)
