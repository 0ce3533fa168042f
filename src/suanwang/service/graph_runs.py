"""The records of task graphs running live, and what they measured against their placement.

A ``GraphRun`` is one graph submitted to the live plane (``service.graphs``): its stages in
the graph's order, each a ``StageRun`` that is ``waiting`` for its predecessors, then its task's
state once submitted (``pending`` .. ``completed``), or ``cancelled`` without a task when the
graph ended before the stage was due. Times are the plane clock's seconds; what a view shows
is measured from the graph's submission, so it reads against the placement's estimate (ms
after the request left the ingress).

Measured against estimated, per stage: the run time (from its task's ``running`` transition
to its ``completed`` one) against the placement's compute time (finish - start), with the
relative error ``measured / estimated - 1``; per graph: the makespan (submission to the last
stage's completion) against the placement's makespan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from suanwang.model import Task, TaskState


class GraphState(StrEnum):
    """Where a live graph is: running until every stage completed, or one ended it."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


WAITING = "waiting"
"""State of a stage whose predecessors have not all completed (no task yet)."""


@dataclass(frozen=True, slots=True)
class StageCode:
    """The tenant's code a stage runs (``TaskSpec.artefact``, ``entry``, ``inputs``).

    Attributes:
        artefact: Digest of the tenant's artefact, or None for the built-in work.
        entry: ``module:function`` to call instead of the artefact's entry.
        inputs: Digests of the tenant's objects staged before the run, ahead of the outputs
            of the stage's predecessors.
    """

    artefact: str | None = None
    entry: str | None = None
    inputs: tuple[str, ...] = ()


@dataclass(slots=True)
class StageRun:
    """One stage of a live graph: where the placement put it, and what its task did.

    Attributes:
        stage_id: The stage.
        planned_node: Node the graph placement chose.
        planned_site: That node's site (the task is pinned to it).
        estimated_start_ms: Planned start, ms after the request left the ingress.
        estimated_finish_ms: Planned end of its compute.
        code: The tenant's code it runs.
        state: ``waiting``, a task state, or ``cancelled`` before it had a task.
        task_id: Its task once submitted.
        node_id: Node its task was placed on.
        started_s: Plane time its task began running.
        finished_s: Plane time its task became final.
        output: Digest of its result object (a zip of what its run wrote), once completed.
        reason: Why its task is in its state (its last transition's reason).
    """

    stage_id: str
    planned_node: str
    planned_site: str
    estimated_start_ms: float
    estimated_finish_ms: float
    code: StageCode
    state: str = WAITING
    task_id: str | None = None
    node_id: str | None = None
    started_s: float | None = None
    finished_s: float | None = None
    output: str | None = None
    reason: str = ""

    @property
    def estimated_run_ms(self) -> float:
        """The placement's compute time of the stage."""
        return self.estimated_finish_ms - self.estimated_start_ms

    @property
    def measured_run_ms(self) -> float | None:
        """Running to completed, measured (None until it completed)."""
        if self.state != TaskState.COMPLETED or self.started_s is None:
            return None
        assert self.finished_s is not None
        return (self.finished_s - self.started_s) * 1000.0

    @property
    def run_error(self) -> float | None:
        """``measured / estimated - 1`` of the run time (None until measured, or no estimate)."""
        measured = self.measured_run_ms
        if measured is None or self.estimated_run_ms <= 0:
            return None
        return measured / self.estimated_run_ms - 1.0

    def observe(self, task: Task) -> None:
        """Take the state, node, times and reason of the stage's task ``task``."""
        self.state = str(task.state)
        self.reason = task.history[-1].reason
        if task.placement is not None:
            self.node_id = task.placement.node_id
        running = [step.at_s for step in task.history if step.to_state is TaskState.RUNNING]
        if running:
            self.started_s = running[0]
        if task.state.is_terminal:
            self.finished_s = task.history[-1].at_s


@dataclass(slots=True)
class GraphRun:
    """A task graph running live (module docstring).

    Attributes:
        id: The run's id (its stages reserve under ``<id>/<stage id>``).
        name: The graph's own id, as its file gives it.
        tenant: Owner; its stages are tasks of this tenant.
        submitted_s: Plane time the graph was accepted.
        estimated_makespan_ms: The placement's end-to-end latency.
        stages: Per stage, in the graph's order.
        state: Running, completed, failed or cancelled.
        ended_s: Plane time it left running.
        reason: Why it ended (the stage that failed, who cancelled it).
    """

    id: str
    name: str
    tenant: str
    submitted_s: float
    estimated_makespan_ms: float
    stages: list[StageRun] = field(default_factory=list)
    state: GraphState = GraphState.RUNNING
    ended_s: float | None = None
    reason: str = ""

    @property
    def measured_makespan_ms(self) -> float | None:
        """Submission to the last stage's completion (None until the graph completed)."""
        if self.state is not GraphState.COMPLETED:
            return None
        last = max(stage.finished_s or self.submitted_s for stage in self.stages)
        return (last - self.submitted_s) * 1000.0

    @property
    def makespan_error(self) -> float | None:
        """``measured / estimated - 1`` of the makespan (None until measured)."""
        measured = self.measured_makespan_ms
        if measured is None or self.estimated_makespan_ms <= 0:
            return None
        return measured / self.estimated_makespan_ms - 1.0

    def since_submitted_ms(self, at_s: float | None) -> float | None:
        """``at_s`` as ms after the graph's submission (None stays None)."""
        return None if at_s is None else (at_s - self.submitted_s) * 1000.0


@dataclass(frozen=True, slots=True)
class StageView:
    """One stage as shown (a copy, safe to read off the writer thread)."""

    stage_id: str
    state: str
    task_id: str | None
    planned_node: str
    planned_site: str
    node_id: str | None
    estimated_start_ms: float
    estimated_finish_ms: float
    started_ms: float | None
    finished_ms: float | None
    estimated_run_ms: float
    measured_run_ms: float | None
    run_error: float | None
    output: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class GraphView:
    """A live graph as shown (a copy); a dry run's has no stage task and state ``planned``."""

    id: str
    name: str
    tenant: str
    state: str
    submitted_s: float
    estimated_makespan_ms: float
    measured_makespan_ms: float | None
    makespan_error: float | None
    reason: str
    stages: tuple[StageView, ...]


def view_of(run: GraphRun, state: str | None = None) -> GraphView:
    """The view of ``run`` (``state`` overrides its state: ``planned`` for a dry run)."""
    stages = tuple(
        StageView(
            stage_id=s.stage_id,
            state=s.state,
            task_id=s.task_id,
            planned_node=s.planned_node,
            planned_site=s.planned_site,
            node_id=s.node_id,
            estimated_start_ms=s.estimated_start_ms,
            estimated_finish_ms=s.estimated_finish_ms,
            started_ms=run.since_submitted_ms(s.started_s),
            finished_ms=run.since_submitted_ms(s.finished_s),
            estimated_run_ms=s.estimated_run_ms,
            measured_run_ms=s.measured_run_ms,
            run_error=s.run_error,
            output=s.output,
            reason=s.reason,
        )
        for s in run.stages
    )
    return GraphView(
        id=run.id,
        name=run.name,
        tenant=run.tenant,
        state=state or str(run.state),
        submitted_s=run.submitted_s,
        estimated_makespan_ms=run.estimated_makespan_ms,
        measured_makespan_ms=run.measured_makespan_ms,
        makespan_error=run.makespan_error,
        reason=run.reason,
        stages=stages,
    )
