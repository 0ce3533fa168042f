"""The Ray engine's rounds: back-to-back submission, ends gathered by one wait loop, in batches."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from four_sites import four_sites

from suanwang.control.controller import Controller
from suanwang.control.ports import SystemClock
from suanwang.execution import LocalRayCluster, RayEngine
from suanwang.model import Estimate, Placement, Task, TaskSpec, TaskState
from suanwang.scheduling import ClusterState, Scheduler, builtin_profiles

WAIT_S = 60.0

pytestmark = pytest.mark.timeout(180)


class BatchReceiver:
    """Takes ends in batches (``tasks_finished``), as the controller does; keeps the order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.batches: list[int] = []
        self.single_ends = 0
        self.reasons: dict[str, tuple[bool, str]] = {}
        self._changed = threading.Condition()

    def task_started(self, task_id: str) -> None:
        with self._changed:
            self.events.append(("started", task_id))

    def task_finished(self, task_id: str, ok: bool, reason: str) -> None:
        with self._changed:
            self.single_ends += 1
        self.tasks_finished([(task_id, ok, reason)])

    def tasks_finished(self, ends: Sequence[tuple[str, bool, str]]) -> None:
        with self._changed:
            self.batches.append(len(ends))
            for task_id, ok, reason in ends:
                self.events.append(("finished", task_id))
                self.reasons[task_id] = (ok, reason)
            self._changed.notify_all()

    def wait(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.reasons) >= count, WAIT_S)


def scheduled(task_id: str, node: str, task_type: str = "matmul") -> Task:
    spec = TaskSpec(work_gflop=0.001, task_type=task_type)
    placement = Placement(task_id, node, ("edge",), estimate=Estimate(compute_ms=1.0))
    return Task.submit(task_id, spec, "", 0.0).transition(
        TaskState.SCHEDULED, 0.0, f"placed on {node}", placement
    )


def test_a_round_is_reported_in_batches_with_each_failure_named(ray_cluster: LocalRayCluster):
    receiver = BatchReceiver()
    nodes = ("e1", "e2", "c1", "c2")
    tasks = [scheduled(f"r{i}", nodes[i % 4]) for i in range(60)]
    tasks[17] = scheduled("broken", "e2", task_type="builtins:divmod")  # fails on Ray
    tasks[30] = scheduled("nowhere", "z")  # never reaches Ray
    with RayEngine(allow_user_functions=True) as engine:
        engine.attach(receiver)
        engine.start_batch(tasks)
        assert receiver.wait(60)
        records = {r.task_id: r for r in engine.records()}
    assert receiver.single_ends == 0  # every end came through the batch entry point
    assert sum(receiver.batches) == 60
    assert len(receiver.batches) < 60  # ends gathered together, not one report each
    assert receiver.reasons["nowhere"] == (False, "node z has no Ray node")
    ok, reason = receiver.reasons["broken"]
    assert not ok
    assert reason.startswith("TypeError")
    done = [t.id for t in tasks if t.id not in ("broken", "nowhere")]
    assert all(receiver.reasons[task_id][0] for task_id in done)
    for task in tasks:
        if task.id != "nowhere":  # a start comes before its end, once
            events = [e for e in receiver.events if e[1] == task.id]
            assert events == [("started", task.id), ("finished", task.id)]
    for task_id in done:
        placed = next(t for t in tasks if t.id == task_id).placement
        assert placed is not None
        assert records[task_id].ran_on == ray_cluster.node_map[placed.node_id]


def test_a_round_with_an_unplaced_task_starts_none(ray_cluster: LocalRayCluster):
    receiver = BatchReceiver()
    unplaced = Task.submit("loose", TaskSpec(work_gflop=0.001, task_type="matmul"), "", 0.0)
    with RayEngine() as engine:
        engine.attach(receiver)
        with pytest.raises(ValueError, match="task 'loose' has no placement"):
            engine.start_batch([scheduled("fine", "e1"), unplaced])
        assert engine.running == 0
        engine.start(scheduled("after", "c1"))
        assert receiver.wait(1)
    assert list(receiver.reasons) == ["after"]


def test_rounds_through_the_controller_complete_on_the_chosen_nodes(
    ray_cluster: LocalRayCluster,
):
    topology = four_sites(4)
    lock = threading.RLock()  # reports and controller calls take turns
    spec = TaskSpec(work_gflop=0.001, task_type="matmul", ingress_site="users")
    ended: dict[str, Task] = {}
    changed = threading.Condition()

    class Finals:
        def task_changed(self, task: Task, cause: str) -> None:
            if task.state.is_terminal:
                with changed:
                    ended[task.id] = task
                    changed.notify_all()

    with RayEngine(lock=lock) as engine:
        scheduler = Scheduler(builtin_profiles()["round-robin"], ClusterState(topology))
        controller = Controller(scheduler, engine, SystemClock(), listener=Finals())
        for first in range(0, 200, 50):
            with lock:
                controller.submit_batch([(f"t{first + i}", spec, "") for i in range(50)])
        with changed:
            assert changed.wait_for(lambda: len(ended) >= 200, WAIT_S)
        records = engine.records()
    assert {t.state for t in ended.values()} == {TaskState.COMPLETED}
    assert len(records) == 200
    for record in records:
        assert record.ran_on == ray_cluster.node_map[record.node_id]
    assert {r.node_id for r in records} == set(topology.nodes)
