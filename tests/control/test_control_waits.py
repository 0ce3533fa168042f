"""The controller's waits: budgets judged end to end, refusals that cannot wait, predicted waits,
and the windowed mode."""

from __future__ import annotations

import dataclasses

import pytest

from suanwang.control.controller import Controller, ControllerConfig
from suanwang.control.ports import EngineReports, ManualClock
from suanwang.model import Task, TaskClass, TaskSpec, TaskState
from suanwang.scenario import loads_scenario
from suanwang.scheduling import ClusterState, Scheduler, builtin_profiles

NETWORK = """
version: 1
name: pair
sites:
  - {id: users, tier: terminal, geo: {lat_deg: 31.2, lon_deg: 121.5}}
  - {id: dc-a, tier: edge, region: CN-SH, geo: {lat_deg: 31.3, lon_deg: 121.4}}
  - {id: dc-b, tier: edge, region: CN-BJ, geo: {lat_deg: 31.1, lon_deg: 121.6}}
nodes:
  - {id: a, site: dc-a, cpu_cores: 2, mem_gib: 8, cpu_peak_gflops: {fp32: 800}}
  - {id: b, site: dc-b, cpu_cores: 2, mem_gib: 8, cpu_peak_gflops: {fp32: 400}}
links:
  - {id: to-a, a: users, b: dc-a, bandwidth_mbps: 1000, latency_ms: 1}
  - {id: to-b, a: users, b: dc-b, bandwidth_mbps: 1000, latency_ms: 2}
"""

# 10 GFLOP on one of a's 2 cores at 0.4 efficiency: 10 / 160 = 62.5 ms; round trip 2 ms.
FRAME = TaskSpec(
    work_gflop=10, cpu_cores=1, mem_gib=1, ingress_site="users", latency_budget_ms=100.0
)


class Engine:
    """Records starts; the test ends runs."""

    def __init__(self) -> None:
        self.started: list[Task] = []
        self.reports: EngineReports | None = None

    def attach(self, reports: EngineReports) -> None:
        self.reports = reports

    def start(self, task: Task) -> None:
        self.started.append(task)

    def cancel(self, task_id: str) -> None:
        return None

    def inventory(self) -> tuple[str, ...]:
        return ("a", "b")

    def finish(self, task_id: str) -> None:
        assert self.reports is not None
        self.reports.task_started(task_id)
        self.reports.task_finished(task_id, True, "done")


def _controller(config: ControllerConfig | None = None) -> tuple[Controller, Engine, ManualClock]:
    topology = loads_scenario(NETWORK, "yaml").topology
    engine, clock = Engine(), ManualClock(0.0)
    scheduler = Scheduler(builtin_profiles()["cats-joint"], ClusterState(topology))
    return Controller(scheduler, engine, clock, config=config), engine, clock


def _only_a(spec: TaskSpec) -> TaskSpec:
    return dataclasses.replace(spec, residency=("CN-SH",))


def test_a_task_with_free_cores_is_placed_with_no_predicted_waiting() -> None:
    controller, _, _ = _controller()
    for k in range(2):
        task = controller.submit(f"f{k}", _only_a(FRAME))
        assert task.placement is not None
        assert task.placement.node_id == "a"
        assert task.placement.estimate.queueing_ms == 0.0


def test_the_time_waited_in_the_queue_counts_against_the_budget() -> None:
    controller, engine, clock = _controller()
    for k in range(3):  # a holds two: the third waits
        controller.submit(f"f{k}", _only_a(FRAME))
    assert controller.queued == 1
    # the first ends after its 62.5 ms of compute: the wait is predicted from that end
    assert controller.predicted_wait_s("f2") == pytest.approx(0.0645)
    clock.advance(0.02)
    engine.finish("f0")
    placed = controller.task("f2")
    assert placed is not None
    assert placed.state is TaskState.SCHEDULED
    assert placed.placement is not None
    assert placed.placement.estimate.queueing_ms == pytest.approx(20.0)
    assert placed.placement.estimate.total_ms == pytest.approx(20.0 + 2.0 + 62.5)


def test_a_task_that_has_waited_past_what_its_budget_leaves_is_not_placed() -> None:
    controller, engine, clock = _controller()
    for k in range(3):
        controller.submit(f"f{k}", _only_a(FRAME))
    clock.advance(0.05)  # 50 ms waited + 64.5 ms to run: over the 100 ms budget
    engine.finish("f0")
    waiting = controller.task("f2")
    assert waiting is not None
    assert waiting.state is TaskState.PENDING
    clock.advance(0.06)
    controller.expire()
    assert controller.task("f2") is None


def test_a_task_no_node_could_ever_take_is_refused_at_once_not_queued() -> None:
    controller, _, _ = _controller()
    nowhere = dataclasses.replace(FRAME, residency=("CN-GD",))
    task = controller.submit("x", nowhere)
    assert task.state is TaskState.REJECTED
    assert "even on an idle network" in task.history[-1].reason
    assert "residency: 2" in task.history[-1].reason
    too_big = dataclasses.replace(FRAME, cpu_cores=4, latency_budget_ms=None)
    assert controller.submit("y", too_big).state is TaskState.REJECTED
    assert controller.queued == 0


def test_a_task_whose_only_node_is_down_waits_for_it() -> None:
    controller, _, _ = _controller()
    controller.node_down("a", "test")
    cold = dataclasses.replace(_only_a(FRAME), latency_budget_ms=None, deadline_s=60.0)
    assert controller.submit("c", cold).state is TaskState.PENDING
    controller.node_up("a")
    placed = controller.task("c")
    assert placed is not None
    assert placed.state is TaskState.SCHEDULED


def test_windowed_arrivals_are_placed_together_when_the_window_is_due() -> None:
    controller, engine, clock = _controller(ControllerConfig(window_s=0.005))
    batch = dataclasses.replace(FRAME, latency_budget_ms=None, deadline_s=10.0)
    for k in range(3):
        assert controller.submit(f"w{k}", batch).state is TaskState.PENDING
    assert engine.started == []
    assert controller.window_due_s == pytest.approx(0.005)
    clock.advance(0.005)
    assert controller.place_window() == 3
    assert controller.window_due_s is None
    assert [t.id for t in engine.started] == ["w0", "w1", "w2"]
    for task in engine.started:
        assert task.placement is not None
        assert task.placement.estimate.queueing_ms == pytest.approx(5.0)


def test_a_task_that_cannot_afford_the_window_is_placed_at_once() -> None:
    controller, _engine, _ = _controller(ControllerConfig(window_s=0.02))
    task = controller.submit("tight", FRAME)  # 100 ms budget, under ten windows of 20 ms
    assert task.state is TaskState.SCHEDULED
    assert controller.window_due_s is None


def test_a_cancelled_task_leaves_the_window() -> None:
    controller, engine, clock = _controller(ControllerConfig(window_s=0.005))
    batch = dataclasses.replace(FRAME, latency_budget_ms=None, deadline_s=10.0)
    controller.submit("w0", batch)
    controller.cancel("w0")
    clock.advance(0.01)
    assert controller.place_window() == 0
    assert engine.started == []


def test_window_must_be_finite_and_not_negative() -> None:
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="window_s"):
            ControllerConfig(window_s=bad)


@pytest.mark.parametrize("forecast", [True, False])
def test_the_window_keeps_for_the_hot_work_to_come_what_only_it_can_use(forecast: bool) -> None:
    # Hot frames meet their 100 ms budget only on a (62.5 ms; b needs 125 ms); batch work can
    # run on either. Three batch tasks come in the second window: two fill b, and without the
    # forecast the third takes a; with it, a is left to the hot frames the first window
    # announced, and the third waits in the queue.
    config = ControllerConfig(window_s=0.005, window_forecast=forecast)
    controller, engine, clock = _controller(config)
    hot = dataclasses.replace(FRAME, task_class=TaskClass.HOT)
    for k in range(2):
        controller.submit(f"h{k}", hot)
    clock.advance(0.005)
    assert controller.place_window() == 2
    assert {t.placement.node_id for t in engine.started if t.placement} == {"a"}
    for k in range(2):
        engine.finish(f"h{k}")
    batch = dataclasses.replace(FRAME, latency_budget_ms=None, deadline_s=10.0)
    for k in range(3):
        controller.submit(f"w{k}", batch)
    clock.advance(0.005)
    controller.place_window()
    nodes = {t.id: t.placement.node_id for t in engine.started if t.placement and t.id[0] == "w"}
    assert sorted(nodes.values()) == (["b", "b"] if forecast else ["a", "b", "b"])
    assert controller.queued == (1 if forecast else 0)
    # the forecast holds nothing afterwards: only the placed batch tasks hold reservations
    assert len(controller.state.reservations) == len(nodes)
    assert all(task_id in controller.state.reservations for task_id in nodes)
