"""The usage events of every run of a task, as the live plane meters them.

A *run* is one attempt of a task on one node, read from the task's history: it begins at a
step into SCHEDULED, or at a move (RUNNING -> RUNNING to a new placement, the replacement
taking over), on the node that step names (``Transition.node_id``); it runs from its step into
RUNNING; it ends at the next step that leaves it: a return to PENDING (its node or path lost,
the server restarted and re-queued it), a move, or the task's final state.

A run that held a node from ``started_s`` to ``ended_s`` uses core-seconds and GiB-seconds (what
its spec reserves times the time held), accelerator-seconds by kind, and one task; a completed
run adds its GFLOP (the spec's estimate, by precision) and the GB it moved (input and output).
It met its SLA unless it failed, or it finished after its deadline or past its latency budget
counted from submission. A run cut short (lost, moved, re-queued) or cancelled by its tenant
while it runs is billed for the time it held the node and one task, no GFLOP, no data and no
credit; a run cut short or cancelled before it reported a start uses nothing (nothing says it
ran). A run that completed or failed without a reported start is billed from its placement.
The run the task's current placement belongs to (its last) also uses the bandwidth that
placement reserved on its path times the time held (Mbps-seconds); an earlier run's reservation
is not in the history, so a cut-short earlier run is billed no bandwidth.

The run id is the task id with the run's start time (its step into RUNNING, else its
placement), so the same run metered twice (a restart, a replayed report, a second ``recover``)
has the same keys and is metered once; the history never changes, so neither do the figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanwang.market.usage import Dimension, UsageEvent
from suanwang.model import Task, TaskState, Transition

MB_PER_GB = 1000.0

_BILLED_UNSTARTED = (TaskState.COMPLETED, TaskState.FAILED)
"""How a run ends that is billed even without a reported start (it did run)."""


@dataclass(frozen=True, slots=True)
class Run:
    """One attempt of a task on one node that has ended.

    Attributes:
        run_id: The metering run id (``run_id_of``; unique within the task).
        node_id: The node it ran on; None in a history stored before nodes were recorded.
        started_s: Its step into RUNNING, else its placement.
        ended_s: The step that ended it.
        end: The state that step entered (PENDING or RUNNING when it was cut short).
        step: Index of that step in the task's history.
    """

    run_id: str
    node_id: str | None
    started_s: float
    ended_s: float
    end: TaskState
    step: int


def run_id_of(task_id: str, started_s: float) -> str:
    """The metering run id of the run of ``task_id`` that started at ``started_s``."""
    return f"{task_id}@{started_s:.6f}"


def sla_met(task: Task, ended_s: float) -> bool:
    """Whether a run that ended at ``ended_s`` met the task's deadline and latency budget."""
    if task.state is not TaskState.COMPLETED:
        return False
    spec, submitted_s = task.spec, task.submitted_at_s
    if spec.deadline_s is not None and ended_s - submitted_s > spec.deadline_s:
        return False
    budget_ms = spec.latency_budget_ms
    return budget_ms is None or (ended_s - submitted_s) * 1000.0 <= budget_ms


def _begins(step: Transition) -> bool:
    """Whether ``step`` begins a run: a placement, or a move to a new placement."""
    if step.to_state is TaskState.SCHEDULED:
        return True
    moved = step.from_state is step.to_state is TaskState.RUNNING
    return moved and step.node_id is not None


def runs_of(task: Task) -> list[Run]:
    """The billable runs of ``task`` that have ended, in order (see the module docstring).

    The node of a run whose step names none (a history stored before nodes were recorded) is
    the task's placement for its final run, else None.
    """
    steps = task.history
    runs: list[Run] = []
    used: set[str] = set()
    begun: tuple[float, str | None] | None = None  # (placed at, node) of the open run
    started_s: float | None = None
    for index, step in enumerate(steps):
        if begun is not None and step.from_state in (TaskState.SCHEDULED, TaskState.RUNNING):
            ends = step.to_state is not TaskState.RUNNING or _begins(step)
            if ends:
                billed = started_s is not None or step.to_state in _BILLED_UNSTARTED
                if billed:
                    start_s = begun[0] if started_s is None else started_s
                    runs.append(_run(task, begun[1], start_s, step, index, used=used))
                begun, started_s = None, None
            elif started_s is None:
                started_s = step.at_s  # its step into RUNNING
        if _begins(step):
            begun = step.at_s, step.node_id
            moved = step.from_state is TaskState.RUNNING
            started_s = step.at_s if moved else None  # a replacement already runs
    return runs


def _run(
    task: Task, node: str | None, started_s: float, step: Transition, index: int, *, used: set[str]
) -> Run:
    if node is None and index == len(task.history) - 1 and task.placement is not None:
        node = task.placement.node_id
    run_id = run_id_of(task.id, started_s)
    if run_id in used:  # two runs starting at one instant: number the later, still stable
        run_id = f"{run_id}#{index}"
    used.add(run_id)
    return Run(run_id, node, started_s, step.at_s, step.to_state, index)


def usage_of(task: Task, run: Run, provider: str) -> list[UsageEvent]:
    """The usage events of ``run`` of ``task``, ``provider`` supplying its node."""
    held_s = max(run.ended_s - run.started_s, 0.0)
    spec, tenant = task.spec, task.tenant
    figures: list[tuple[Dimension, float, str]] = [
        (Dimension.CORE_SECONDS, spec.cpu_cores * held_s, ""),
        (Dimension.MEMORY_GIB_SECONDS, spec.mem_gib * held_s, ""),
        (Dimension.TASKS, 1.0, ""),
    ]
    if spec.accelerator is not None:
        kind = spec.accelerator.kind.value
        figures.append((Dimension.ACCELERATOR_SECONDS, spec.accelerator.count * held_s, kind))
    placement = task.placement
    if (
        placement is not None
        and placement.reserved_bandwidth_mbps > 0
        and run.step == len(task.history) - 1
    ):
        mbps_s = placement.reserved_bandwidth_mbps * held_s
        figures.append((Dimension.BANDWIDTH_MBPS_SECONDS, mbps_s, ""))
    if run.end is TaskState.COMPLETED:
        figures.append((Dimension.GFLOP, spec.work_gflop, spec.precision.value))
        moved_gb = (spec.data_in_mb + spec.data_out_mb) / MB_PER_GB
        figures.append((Dimension.NETWORK_GB, moved_gb, ""))
    if run.end is TaskState.COMPLETED:
        met = sla_met(task, run.ended_s)
    else:
        met = run.end is not TaskState.FAILED  # cut short or cancelled: no credit
    return [
        UsageEvent(run.run_id, tenant, provider, dimension, quantity, run.ended_s, detail, met)
        for dimension, quantity, detail in figures
    ]


def run_usage(task: Task, provider: str) -> list[UsageEvent]:
    """The usage events of the run ``task``'s final state ended (none if not final or none).

    A task cancelled before it ran, rejected or expired uses nothing.
    """
    if task.state not in (TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED):
        return []
    runs = runs_of(task)
    if not runs or runs[-1].step != len(task.history) - 1:
        return []
    return usage_of(task, runs[-1], provider)
