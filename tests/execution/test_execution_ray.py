"""The Ray engine on a 1 head + 3 worker cluster on loopback: work runs where it was placed."""

from __future__ import annotations

import sys
import threading

import pytest
from four_sites import four_sites

from suanwang.control.controller import Controller
from suanwang.control.ports import SystemClock
from suanwang.execution import LocalRayCluster, RayEngine, RayUnavailableError, node_resource
from suanwang.execution.ray_engine import is_loopback
from suanwang.model import Estimate, Placement, Task, TaskSpec, TaskState
from suanwang.scheduling import ClusterState, Scheduler, builtin_profiles

WAIT_S = 60.0

pytestmark = pytest.mark.timeout(180)


class Finals:
    """Controller listener: the final record of every task, with a bounded wait."""

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}
        self._changed = threading.Condition()

    def task_changed(self, task: Task, cause: str) -> None:
        with self._changed:
            if task.state.is_terminal:
                self.tasks[task.id] = task
                self._changed.notify_all()

    def wait(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.tasks) >= count, WAIT_S)


class Reports:
    def __init__(self) -> None:
        self.finished: dict[str, tuple[bool, str]] = {}
        self._changed = threading.Condition()

    def task_started(self, task_id: str) -> None:
        return None

    def task_finished(self, task_id: str, ok: bool, reason: str) -> None:
        with self._changed:
            self.finished[task_id] = (ok, reason)
            self._changed.notify_all()

    def wait(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.finished) >= count, WAIT_S)


def scheduled(task_id: str, node: str, task_type: str = "matmul") -> Task:
    spec = TaskSpec(work_gflop=0.01, task_type=task_type)
    placement = Placement(task_id, node, ("edge",), estimate=Estimate(compute_ms=1.0))
    return Task.submit(task_id, spec, "", 0.0).transition(
        TaskState.SCHEDULED, 0.0, f"placed on {node}", placement
    )


def test_every_task_runs_on_the_node_the_scheduler_chose(ray_cluster: LocalRayCluster):
    topology = four_sites(4)
    lock = threading.RLock()  # reports and controller calls take turns
    finals = Finals()
    with RayEngine(lock=lock) as engine:
        scheduler = Scheduler(builtin_profiles()["least-loaded"], ClusterState(topology))
        controller = Controller(scheduler, engine, SystemClock(), listener=finals)
        kinds = ("matmul", "transcode", "inference")
        with lock:
            for i in range(40):  # more than the nodes hold at once: some wait in the queue
                spec = TaskSpec(work_gflop=0.02, task_type=kinds[i % 3], ingress_site="users")
                controller.submit(f"t{i}", spec)
        assert finals.wait(40)
        records = engine.records()
    assert {t.state for t in finals.tasks.values()} == {TaskState.COMPLETED}
    assert len(records) == 40
    for record in records:
        chosen = finals.tasks[record.task_id].placement
        assert chosen is not None
        assert record.node_id == chosen.node_id
        assert record.ran_on == ray_cluster.node_map[chosen.node_id]
    assert {r.node_id for r in records} == set(topology.nodes)


def test_the_node_map_comes_from_the_ray_nodes_resources(ray_cluster: LocalRayCluster):
    with RayEngine() as engine:
        assert engine.node_map == ray_cluster.node_map
        assert sorted(engine.inventory()) == sorted(ray_cluster.node_map)
    assert len(set(ray_cluster.node_map.values())) == 4
    assert node_resource("e1") == "suanwang-node:e1"


def test_a_node_map_given_by_hand_is_followed(ray_cluster: LocalRayCluster):
    reports = Reports()
    target = ray_cluster.node_map["c2"]
    with RayEngine(node_map={"x": target}) as engine:
        engine.attach(reports)
        assert engine.inventory() == ("x",)
        for i in range(4):
            engine.start(scheduled(f"x{i}", "x"))
        assert reports.wait(4)
        assert {r.ran_on for r in engine.records()} == {target}


def test_remote_errors_and_unmapped_nodes_fail_with_reasons(ray_cluster: LocalRayCluster):
    reports = Reports()
    with RayEngine(allow_user_functions=True) as engine:
        engine.attach(reports)
        engine.start(scheduled("broken", "e2", task_type="builtins:divmod"))
        engine.start(scheduled("nowhere", "z"))
        assert reports.wait(2)
    ok, reason = reports.finished["broken"]
    assert not ok
    assert reason.startswith("TypeError")
    assert reports.finished["nowhere"] == (False, "node z has no Ray node")


def test_no_mapped_node_is_an_error(ray_cluster: LocalRayCluster):
    with pytest.raises(ValueError, match="suanwang-node:<node id>"):
        RayEngine(node_map={})


def test_missing_ray_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(RayUnavailableError, match=r"pip install 'suanwang\[ray\]'"):
        RayEngine()
    with pytest.raises(RayUnavailableError):
        LocalRayCluster([["a"]])


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        (None, True),
        ("127.0.0.1:6379", True),
        ("localhost:6379", True),
        ("ray://127.0.0.1:10001", True),
        ("10.0.0.5:6379", False),
        ("ray://head.example:10001", False),
    ],
)
def test_loopback_addresses(address: str | None, loopback: bool):
    assert is_loopback(address) is loopback
