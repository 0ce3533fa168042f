"""The usage events of one finished run, as every live engine reports them.

A run that held a node from ``started_s`` to ``ended_s`` uses core-seconds and GiB-seconds (what
its spec reserves times the time held), accelerator-seconds by kind, and one task; a completed
run adds its GFLOP (the spec's estimate, by precision) and the GB it moved (input and output).
It met its SLA unless it failed, or it finished after its deadline or past its latency budget
counted from submission. A run its tenant cancels while it runs is billed for the time it held
the node (no credit). The run id is the task id with the run's start time, so the same run
reported twice (a restart, a replayed report) has the same keys and is metered once. Only the
run a task's final state ends is metered: an earlier run cut short (its node lost, a move, a
restart of the server) is not billed.
"""

from __future__ import annotations

from suanwang.market.usage import Dimension, UsageEvent
from suanwang.model import Task, TaskState

MB_PER_GB = 1000.0


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


def _last_run(task: Task) -> tuple[float, float] | None:
    """(start, end) of the run ``task``'s final state ended, or None when it had none."""
    steps = task.history
    ended_s = steps[-1].at_s
    running = [i for i, s in enumerate(steps) if s.to_state is TaskState.RUNNING]
    if task.state is TaskState.CANCELLED:
        # Billed only when cancelled while running: its last step left that run.
        if not running or running[-1] != len(steps) - 2:
            return None
        return steps[running[-1]].at_s, ended_s
    if not running:  # a run that never reported a start: from its placement
        running = [i for i, s in enumerate(steps) if s.to_state is TaskState.SCHEDULED]
    if not running:
        return None
    return steps[running[-1]].at_s, ended_s


def run_usage(task: Task, provider: str) -> list[UsageEvent]:
    """The usage events of ``task``'s last run, now that it is final (else none).

    A completed or failed run starts at the task's last step into RUNNING (or, for a run that
    never reported a start, its last step into SCHEDULED) and ends at its final step. A run
    cancelled while running is billed for the time it held its node and one task, no GFLOP
    and no data, and counts as meeting its SLA (its tenant ended it: no credit); a task
    cancelled before it ran, rejected or expired uses nothing.
    """
    if task.state not in (TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED):
        return []
    run = _last_run(task)
    if run is None:
        return []
    started_s, ended_s = run
    held_s = max(ended_s - started_s, 0.0)
    spec, tenant = task.spec, task.tenant
    figures: list[tuple[Dimension, float, str]] = [
        (Dimension.CORE_SECONDS, spec.cpu_cores * held_s, ""),
        (Dimension.MEMORY_GIB_SECONDS, spec.mem_gib * held_s, ""),
        (Dimension.TASKS, 1.0, ""),
    ]
    if spec.accelerator is not None:
        kind = spec.accelerator.kind.value
        figures.append((Dimension.ACCELERATOR_SECONDS, spec.accelerator.count * held_s, kind))
    if task.state is TaskState.COMPLETED:
        figures.append((Dimension.GFLOP, spec.work_gflop, spec.precision.value))
        moved_gb = (spec.data_in_mb + spec.data_out_mb) / MB_PER_GB
        figures.append((Dimension.NETWORK_GB, moved_gb, ""))
    met = task.state is TaskState.CANCELLED or sla_met(task, ended_s)
    run_id = run_id_of(task.id, started_s)
    return [
        UsageEvent(run_id, tenant, provider, dimension, quantity, ended_s, detail, met)
        for dimension, quantity, detail in figures
    ]
