"""Task graphs on a live plane: stages in order, outputs passed on, times measured, all or none.

Three sites of one 2-core node (``write_three_sites``), a manual clock and no agents: the test
takes each stage's task from its node's dispatch and reports it started and finished itself,
storing a result object as an agent would, and asks the graphs to look (``advance``) as their
driver thread would.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from suanwang.bootstrap import journal_for
from suanwang.cli.localnet import USERS_SITE, write_three_sites
from suanwang.control.objects import ObjectStore
from suanwang.control.ports import ManualClock
from suanwang.control.stores import ConflictError, Principal, Role
from suanwang.execution import AgentDispatch
from suanwang.model import Task
from suanwang.model.graph import Edge, Stage, TaskGraph
from suanwang.scenario import load_scenario
from suanwang.scheduling import resolve_profile
from suanwang.scheduling.graph import GraphPlacementError
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.service.graph_runs import GraphView, StageCode
from suanwang.service.graphs import Graphs
from suanwang.storage import open_store
from suanwang.storage.objects.fs import FileObjectStore

ALICE = Principal("alice", "acme", frozenset({Role.CONSUMER}))
AGENT = Principal("agent", "sites", frozenset({Role.AGENT}))
ARTEFACT = "a" * 64
INPUT = "b" * 64


def _chain(cores: float = 2.0) -> TaskGraph:
    """decode -> detect -> aggregate, each holding a whole node (so one stage per site)."""
    stages = [Stage(name, work_gflop=10.0, cpu_cores=cores) for name in ("decode", "detect")]
    stages.append(Stage("aggregate", work_gflop=1.0, cpu_cores=cores, result_mb=0.1))
    edges = [Edge("decode", "detect", data_mb=1.0), Edge("detect", "aggregate", data_mb=0.5)]
    return TaskGraph("words", tuple(stages), tuple(edges), ingress_site=USERS_SITE)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


@pytest.fixture
def plane(tmp_path: Path, clock: ManualClock) -> Iterator[ControlPlane]:
    stores = open_store(f"sqlite:///{tmp_path / 'plane.db'}")
    plane = ControlPlane(
        stores,
        journal_for(stores),
        load_scenario(write_three_sites(tmp_path)),
        resolve_profile("cats-joint"),
        dispatch=AgentDispatch,
        clock=clock,
        agents=AgentPolicy(require_agent=False),
    )
    plane.start()
    yield plane
    plane.stop()
    plane.stores.close()


@pytest.fixture
def objects(tmp_path: Path) -> ObjectStore:
    return FileObjectStore(tmp_path / "objects")


@pytest.fixture
def graphs(plane: ControlPlane, objects: ObjectStore) -> Graphs:
    return Graphs(plane, objects)


def _submit(plane: ControlPlane, graphs: Graphs, graph: TaskGraph, **kw: bool) -> GraphView:
    code = {stage.id: StageCode(ARTEFACT) for stage in graph.stages}
    code["decode"] = StageCode(ARTEFACT, inputs=(INPUT,))
    return plane.call(lambda b: graphs.submit(b, ALICE, graph, code, **kw)).result(10)


def _look(plane: ControlPlane, graphs: Graphs, run_id: str) -> GraphView:
    plane.call(graphs.advance).result(10)
    return plane.call(lambda _: graphs.get(run_id, "acme")).result(10)


def _task(plane: ControlPlane, task_id: str) -> Task:
    task = plane.tasks.get(task_id)
    assert task is not None
    return task


def _run(
    plane: ControlPlane, objects: ObjectStore, clock: ManualClock, task_id: str, *, ok: bool = True
) -> str:
    """Take the task from its node, start it, 2 s later finish it; the result's digest."""
    task = _task(plane, task_id)
    assert task.placement is not None
    node = task.placement.node_id
    assert [t.id for t in plane.pull(node, 10)] == [task_id]
    clock.advance(0.5)
    plane.report(AGENT, node, task_id, finished=False, ok=True, reason="").result(10)
    clock.advance(2.0)
    digest = ""
    if ok:
        digest = objects.put("acme", io.BytesIO(f"out of {task_id}".encode())).digest
        objects.put_ref("acme", f"result-{task_id}", digest)
    plane.report(AGENT, node, task_id, finished=True, ok=ok, reason="done").result(10)
    return digest


def test_stages_run_in_order_each_with_its_predecessors_output_and_measured_times(
    plane: ControlPlane, graphs: Graphs, objects: ObjectStore, clock: ManualClock
) -> None:
    view = _submit(plane, graphs, _chain())
    ledger = plane.live.controller.state.reservations
    assert ledger.held(f"{view.id}/decode") is None  # given back: its task holds its own
    assert ledger.held(f"{view.id}/detect") is not None  # still held for the graph
    assert len({s.planned_site for s in view.stages}) == 3
    outputs: list[str] = []
    for s, name in enumerate(("decode", "detect", "aggregate")):
        stage = view.stages[s]
        assert stage.stage_id == name
        assert stage.task_id is not None, view
        assert all(later.task_id is None for later in view.stages[s + 1 :])
        task = _task(plane, stage.task_id)
        assert task.placement is not None
        assert task.placement.node_id == stage.planned_node
        assert task.spec.inputs == ((INPUT,) if s == 0 else (outputs[-1],))
        upstream = USERS_SITE if s == 0 else view.stages[s - 1].planned_site
        assert task.spec.ingress_site == upstream
        assert ledger.held(f"{view.id}/{name}") is None
        outputs.append(_run(plane, objects, clock, stage.task_id))
        view = _look(plane, graphs, view.id)
    assert view.state == "completed"
    assert [s.output for s in view.stages] == outputs
    for s, stage in enumerate(view.stages):
        assert stage.started_ms == pytest.approx(2500.0 * s + 500.0)
        assert stage.finished_ms == pytest.approx(2500.0 * (s + 1))
        assert stage.measured_run_ms == pytest.approx(2000.0)
        assert stage.run_error == pytest.approx(2000.0 / stage.estimated_run_ms - 1.0)
    assert view.measured_makespan_ms == pytest.approx(7500.0)
    assert view.makespan_error == pytest.approx(7500.0 / view.estimated_makespan_ms - 1.0)


def test_a_failed_stage_fails_the_graph_and_gives_back_what_the_rest_held(
    plane: ControlPlane, graphs: Graphs, objects: ObjectStore, clock: ManualClock
) -> None:
    ledger = plane.live.controller.state.reservations
    free_before = ledger.free_cpu_cores().copy()
    view = _submit(plane, graphs, _chain())
    assert view.stages[0].task_id is not None
    _run(plane, objects, clock, view.stages[0].task_id)
    view = _look(plane, graphs, view.id)
    assert view.stages[1].task_id is not None
    _run(plane, objects, clock, view.stages[1].task_id, ok=False)
    view = _look(plane, graphs, view.id)
    assert view.state == "failed"
    assert "'detect'" in view.reason
    assert [s.state for s in view.stages] == ["completed", "failed", "cancelled"]
    assert view.stages[2].task_id is None
    assert ledger.held(f"{view.id}/aggregate") is None
    assert (ledger.free_cpu_cores() == free_before).all()
    assert view.measured_makespan_ms is None


def test_a_dry_run_holds_nothing_and_a_refusal_names_the_stage(
    plane: ControlPlane, graphs: Graphs
) -> None:
    ledger = plane.live.controller.state.reservations
    free_before = ledger.free_cpu_cores().copy()
    planned = _submit(plane, graphs, _chain(), dry_run=True)
    assert planned.state == "planned"
    assert all(s.task_id is None for s in planned.stages)
    assert (ledger.free_cpu_cores() == free_before).all()
    assert plane.call(lambda _: graphs.listed(None)).result(10) == []
    with pytest.raises(GraphPlacementError, match="graph 'words': stage 'decode'"):
        _submit(plane, graphs, _chain(cores=3.0))
    assert (ledger.free_cpu_cores() == free_before).all()


def test_the_oldest_ended_graph_makes_room_and_running_ones_are_never_forgotten(
    plane: ControlPlane, graphs: Graphs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("suanwang.service.graphs.MAX_GRAPHS", 2)
    first = _submit(plane, graphs, _chain(cores=0.1))
    _submit(plane, graphs, _chain(cores=0.1))
    ledger = plane.live.controller.state.reservations
    free_before = ledger.free_cpu_cores().copy()
    with pytest.raises(ConflictError, match="at most 2 graphs"):
        _submit(plane, graphs, _chain(cores=0.1))
    assert (ledger.free_cpu_cores() == free_before).all()
    plane.call(lambda b: graphs.cancel(b, ALICE, first.id, "acme")).result(10)
    third = _submit(plane, graphs, _chain(cores=0.1))
    kept = [view.id for view in plane.call(lambda _: graphs.listed("acme")).result(10)]
    assert first.id not in kept
    assert third.id in kept
    assert len(kept) == 2
