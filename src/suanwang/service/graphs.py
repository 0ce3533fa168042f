"""Task graphs on the live plane: placed all or none, run stage by stage, outputs passed on.

``submit`` places a graph (``model.graph.TaskGraph``) on the live topology and state with
``scheduling.graph.place_graph``: every stage's room is reserved in the live ledger under
``<run id>/<stage id>``, or none is (a refusal names the stage). A dry run places it without
reserving and keeps nothing. Then the graph runs:

* a stage is submitted as an ordinary task of the graph's tenant once all its predecessors
  completed (entry stages at once); its reservation in the ledger is given back in the same
  writer command, so the task's own reservation takes its place;
* the task is pinned to the site of the node the placement chose (``avoid_sites`` names every
  other site; the scheduler picks the node there, the planned one when it still scores best),
  enters the network at its first predecessor's node's site (entry stages at the graph's
  ingress) and carries the data of its incoming edges as ``data_in_mb``;
* a stage naming an artefact runs the tenant's code (``execution.coderun``) with its own
  ``inputs`` followed by the result objects of its predecessors, in the order of its edges:
  the agent stages each by digest, so what stage A's run wrote (a zip of its output folder)
  is in stage B's input folder, named by its digest;
* a stage whose task fails, is rejected or cancelled fails the graph: its other running stages
  are cancelled and the rest never submitted; ``cancel`` does the same on request. Either way
  the reservations of the stages not yet submitted are given back.

Each stage's measured run time is reported against its estimate (``graph_runs``); the stages
are ordinary tasks, so their agents' measured compute times teach the live efficiency table
as any task's do (``ControlPlane.report``). A driver thread asks the writer to look at the
running graphs every ``POLL_S`` (only while one runs), so a stage starts within about that of
its last predecessor's completion being committed.

Graph records are kept in the plane's memory as deployments are (not durable): a restart
forgets them, while their submitted stages, stored tasks, run on as plain tasks. Every method
but ``start`` and ``stop`` runs on the writer thread (through ``ControlPlane.call``).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from suanwang.control.objects import ObjectStore
from suanwang.control.stores import ConflictError, NotFoundError, Principal
from suanwang.execution.storerun import RESULT_REF
from suanwang.model import Task, TaskState
from suanwang.model.graph import TaskGraph
from suanwang.scheduling.graph import GraphPlacementError, place_graph, stage_task_id
from suanwang.service.graph_runs import (
    WAITING,
    GraphRun,
    GraphState,
    GraphView,
    StageCode,
    StageRun,
    view_of,
)

if TYPE_CHECKING:
    from suanwang.service.plane import ControlPlane
    from suanwang.service.worker import Batch

log = logging.getLogger(__name__)

MAX_GRAPHS = 256
"""Most graph records kept; the oldest ended ones make room for new ones."""

POLL_S = 0.1
"""Time between two looks of the driver at the running graphs."""

ROUND_TIMEOUT_S = 30.0
"""Longest the driver waits for the writer to run one look."""

PLANNED = "planned"
"""State shown for a dry run's graph and its stages (placed, nothing reserved or run)."""

_CANCELLED = str(TaskState.CANCELLED)


def _final(state: str) -> bool:
    return state != WAITING and TaskState(state).is_terminal


@dataclass(slots=True)
class _Kept:
    run: GraphRun
    graph: TaskGraph  # as placed: its id is the run's, its stages reserve under it


class Graphs:
    """The plane's live task graphs (module docstring).

    Args:
        plane: The control plane the stages run on.
        objects: The object store the stages' results are kept in.
        poll_s: Time between two looks of the driver at the running graphs.
    """

    def __init__(self, plane: ControlPlane, objects: ObjectStore, poll_s: float = POLL_S) -> None:
        self._plane, self._objects, self._poll_s = plane, objects, poll_s
        self._kept: dict[str, _Kept] = {}
        self._running = 0  # read by the driver without the writer: a stale value costs a round
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- commands (writer)

    def submit(
        self,
        batch: Batch,
        who: Principal,
        graph: TaskGraph,
        code: Mapping[str, StageCode],
        *,
        dry_run: bool = False,
    ) -> GraphView:
        """Place ``graph`` for ``who``'s tenant and start its entry stages (or only plan it).

        ``code`` gives, by stage id, the tenant's code a stage runs (none: the built-in work).

        Raises:
            GraphPlacementError: A stage fits no node, a budget is missed, or the ledger
                refused a stage (the message names it); nothing is held.
            ConflictError: The plane holds ``MAX_GRAPHS`` running graphs.
        """
        if not dry_run and not self._room():
            raise ConflictError(f"at most {MAX_GRAPHS} graphs run at once")
        run_id = f"{graph.id}-{uuid.uuid4().hex[:8]}"
        placed_graph = dataclasses.replace(graph, id=run_id, tenant=who.tenant)
        state = self._plane.live.controller.state
        try:
            placement = place_graph(placed_graph, state, reserve=not dry_run)
        except GraphPlacementError as error:  # name the graph as its author did
            raise type(error)(str(error).replace(repr(run_id), repr(graph.id))) from None
        arrays, schedule = state.arrays, placement.schedule
        run = GraphRun(
            run_id, graph.id, who.tenant, self._plane.clock.now_s(), schedule.makespan_ms
        )
        for s, stage in enumerate(graph.stages):
            node = placement.node_index[s]
            run.stages.append(
                StageRun(
                    stage.id,
                    placement.node_ids[s],
                    arrays.vertex_ids[int(arrays.node_vertex[node])],
                    float(schedule.start_ms[s]),
                    float(schedule.finish_ms[s]),
                    code.get(stage.id, StageCode()),
                    state=PLANNED if dry_run else WAITING,
                )
            )
        if dry_run:
            return view_of(run, PLANNED)
        self._make_room()
        kept = self._kept[run_id] = _Kept(run, placed_graph)
        self._running += 1
        detail = f"{len(graph.stages)} stages, estimated makespan {schedule.makespan_ms:.1f} ms"
        self._plane.audit(batch, who.id, "graph.submit", f"graph:{run_id}", detail)
        self._submit_ready(batch, kept)
        return view_of(run)

    def cancel(self, batch: Batch, who: Principal, run_id: str, scope: str | None) -> GraphView:
        """Cancel a running graph: its running stages are cancelled, the rest never run.

        Raises:
            NotFoundError: No such graph (or another tenant's).
            ConflictError: The graph already ended.
        """
        kept = self._find(run_id, scope)
        if kept.run.state is not GraphState.RUNNING:
            raise ConflictError(f"graph {run_id} is already {kept.run.state}")
        self._end(kept, GraphState.CANCELLED, f"cancelled by {who.id}")
        self._plane.audit(batch, who.id, "graph.cancel", f"graph:{run_id}")
        return view_of(kept.run)

    def get(self, run_id: str, scope: str | None) -> GraphView:
        """One graph (``NotFoundError`` when absent or another tenant's)."""
        return view_of(self._find(run_id, scope).run)

    def listed(self, scope: str | None) -> list[GraphView]:
        """The graphs of ``scope`` (every tenant's for None), oldest first."""
        return [
            view_of(kept.run)
            for kept in self._kept.values()
            if scope is None or kept.run.tenant == scope
        ]

    def advance(self, batch: Batch) -> int:
        """Take the stages' task states, start the stages now due; returns how many started."""
        started = 0
        for kept in list(self._kept.values()):
            if kept.run.state is GraphState.RUNNING:
                self._observe(kept)
            if kept.run.state is GraphState.RUNNING:
                started += self._submit_ready(batch, kept)
        return started

    # ----------------------------------------------------------------- the driver

    def start(self) -> None:
        """Start the driver thread (once; after the plane started)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._drive, name="graphs", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the driver thread (before the plane stops)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _drive(self) -> None:
        while not self._stop.wait(self._poll_s):
            if self._running <= 0:
                continue
            try:
                self._plane.call(self.advance).result(ROUND_TIMEOUT_S)
            except Exception:  # the driver outlives one failed round; the next one retries
                log.warning("a look at the running graphs failed", exc_info=True)

    # ----------------------------------------------------------------- stages

    def _observe(self, kept: _Kept) -> None:
        run, controller = kept.run, self._plane.live.controller
        for stage in run.stages:
            if stage.task_id is None or _final(stage.state):
                continue
            task = controller.task(stage.task_id)
            if task is None:  # final on the controller: wait for its record to be committed
                task = self._plane.tasks.get(stage.task_id)
                if task is None or not task.state.is_terminal:
                    continue
            stage.observe(task)
            if task.state is TaskState.COMPLETED:
                ref = RESULT_REF.format(task_id=task.id)
                stage.output = self._objects.ref(run.tenant, ref)
            elif task.state.is_terminal:
                why = f"stage {stage.stage_id!r} {task.state}: {stage.reason}"
                self._end(kept, GraphState.FAILED, why)
                return
        if all(stage.state == TaskState.COMPLETED for stage in run.stages):
            self._end(kept, GraphState.COMPLETED, "every stage completed")

    def _submit_ready(self, batch: Batch, kept: _Kept) -> int:
        run, graph = kept.run, kept.graph
        started = 0
        for s in graph.order:
            stage = run.stages[s]
            parents = [graph.ends[k][0] for k in graph.parents[s]]
            if stage.state != WAITING or any(
                run.stages[p].state != TaskState.COMPLETED for p in parents
            ):
                continue
            task = self._submit_stage(batch, kept, s, parents)
            stage.task_id = task.id
            stage.observe(task)
            started += 1
            if task.state.is_terminal:  # rejected at once
                self._end(kept, GraphState.FAILED, f"stage {stage.stage_id!r}: {stage.reason}")
                break
        return started

    def _submit_stage(self, batch: Batch, kept: _Kept, s: int, parents: list[int]) -> Task:
        run, graph = kept.run, kept.graph
        stage, stage_run = graph.stages[s], run.stages[s]
        live = self._plane.live
        live.controller.state.reservations.release(stage_task_id(graph, s))
        ingress = graph.ingress_site
        if parents:
            first = run.stages[parents[0]]
            node = live.scenario.topology.nodes.get(first.node_id or first.planned_node)
            ingress = first.planned_site if node is None else node.site_id
        code = stage_run.code
        inputs: tuple[str, ...] = ()
        if code.artefact is not None:
            outputs = [run.stages[p].output for p in parents]
            inputs = tuple(dict.fromkeys([*code.inputs, *(o for o in outputs if o)]))
        others = sorted(
            site for site in live.scenario.topology.sites if site != stage_run.planned_site
        )
        spec = dataclasses.replace(
            stage.spec,
            ingress_site=ingress,
            data_in_mb=stage.input_mb + sum(graph.edge_data_mb[k] for k in graph.parents[s]),
            avoid_sites=tuple(others),
            artefact=code.artefact,
            entry=code.entry,
            inputs=inputs,
        )
        return self._plane.submit_now(batch, f"graph:{run.id}", spec, run.tenant)

    def _end(self, kept: _Kept, state: GraphState, reason: str) -> None:
        """End a running graph: cancel its live stages, give back what the rest held."""
        run, controller = kept.run, self._plane.live.controller
        for s, stage in enumerate(run.stages):
            if stage.state == WAITING:
                controller.state.reservations.release(stage_task_id(kept.graph, s))
                stage.state, stage.reason = _CANCELLED, f"graph {state}: {reason}"
            elif stage.task_id is not None and not _final(stage.state):
                cancelled = controller.cancel(stage.task_id, f"graph {run.id} {state}: {reason}")
                if cancelled is not None:
                    stage.observe(cancelled)
        run.state, run.reason, run.ended_s = state, reason, self._plane.clock.now_s()
        self._running -= 1

    # ----------------------------------------------------------------- records

    def _room(self) -> bool:
        """Whether a new graph can be kept (below the limit, or some kept one ended)."""
        return len(self._kept) < MAX_GRAPHS or self._running < len(self._kept)

    def _make_room(self) -> None:
        """Forget the oldest ended graph when at the limit (``_room`` said there is one)."""
        if len(self._kept) < MAX_GRAPHS:
            return
        oldest = next(i for i, k in self._kept.items() if k.run.state is not GraphState.RUNNING)
        del self._kept[oldest]  # insertion order: the first ended one is the oldest

    def _find(self, run_id: str, scope: str | None) -> _Kept:
        kept = self._kept.get(run_id)
        if kept is None or (scope is not None and kept.run.tenant != scope):
            raise NotFoundError(f"graph {run_id!r} does not exist")
        return kept
