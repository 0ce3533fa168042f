"""The controller's batched entry points: a round of submissions, a batch of ends."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from suanwang.control.controller import Controller
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
"""One core: the two nodes hold four at once."""


class OneByOne:
    """An engine with ``start`` only: records each start."""

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


class Rounds(OneByOne):
    """An engine with ``start_batch`` too: records each round and what the controller held."""

    def __init__(self) -> None:
        super().__init__()
        self.rounds: list[list[Task]] = []
        self.active_at_round: list[int] = []
        self.controller: Controller | None = None

    def start_batch(self, tasks: Sequence[Task]) -> None:
        assert self.controller is not None
        self.rounds.append(list(tasks))
        self.active_at_round.append(self.controller.active)


def _controller(engine: OneByOne) -> Controller:
    topology = loads_scenario(NETWORK, "yaml").topology
    scheduler = Scheduler(builtin_profiles()["round-robin"], ClusterState(topology))
    return Controller(scheduler, engine, ManualClock(100.0))


def _round(count: int, first: int = 0) -> list[tuple[str, TaskSpec, str]]:
    return [(f"t{first + i}", JOB, "acme") for i in range(count)]


def test_a_round_is_decided_in_order_then_started_together() -> None:
    engine = Rounds()
    controller = engine.controller = _controller(engine)
    tasks = controller.submit_batch(_round(6))
    assert [t.id for t in tasks] == [f"t{i}" for i in range(6)]
    assert [t.state for t in tasks] == [TaskState.SCHEDULED] * 4 + [TaskState.PENDING] * 2
    assert all(t.tenant == "acme" for t in tasks)
    # one round, given once all six were decided, holding the four placed in submission order
    assert engine.active_at_round == [6]
    assert [t.id for t in engine.rounds[0]] == ["t0", "t1", "t2", "t3"]
    assert all(t.placement is not None for t in engine.rounds[0])
    assert engine.started == []
    assert controller.queued == 2


def test_an_engine_without_start_batch_gets_each_start_in_order() -> None:
    engine = OneByOne()
    controller = _controller(engine)
    controller.submit_batch(_round(5))
    assert [t.id for t in engine.started] == ["t0", "t1", "t2", "t3"]
    assert controller.queued == 1


def test_a_round_with_an_active_or_repeated_id_accepts_nothing() -> None:
    engine = Rounds()
    controller = engine.controller = _controller(engine)
    controller.submit("t1", JOB)
    with pytest.raises(ValueError, match="task 't1' is already active"):
        controller.submit_batch([("t2", JOB, ""), ("t1", JOB, "")])
    with pytest.raises(ValueError, match="task 't3' is given twice in the round"):
        controller.submit_batch([("t3", JOB, ""), ("t3", JOB, "")])
    assert controller.active_ids() == ("t1",)
    assert engine.rounds == []


def test_a_batch_of_ends_frees_capacity_and_serves_the_queue_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = OneByOne()
    controller = _controller(engine)
    controller.submit_batch(_round(6))
    assert engine.reports is controller
    tries: list[int | None] = []
    retry = controller._retry_queue
    monkeypatch.setattr(controller, "_retry_queue", lambda node: (tries.append(node), retry(node)))
    for run_id in ("t0", "t1"):
        controller.task_started(run_id)
    controller.tasks_finished([("t0", True, "done"), ("t1", False, "crashed")])
    assert controller.task("t0") is None
    assert controller.task("t1") is None
    assert tries == [None]  # once, after both ends, not once per end
    assert [t.id for t in engine.started] == ["t0", "t1", "t2", "t3", "t4", "t5"]
    for queued in ("t4", "t5"):
        task = controller.task(queued)
        assert task is not None
        assert task.state is TaskState.SCHEDULED
    # one end at a time still serves the queue at once
    controller.submit("t6", JOB)
    controller.task_finished("t2", True, "done")
    assert len(tries) == 2
    assert tries[1] is not None
    task = controller.task("t6")
    assert task is not None
    assert task.state is TaskState.SCHEDULED
