"""The usage events of one finished run, as every live engine reports them.

A run that held a node from ``started_s`` to ``ended_s`` uses core-seconds and GiB-seconds (what
its spec reserves times the time held), accelerator-seconds by kind, and one task; a completed
run adds its GFLOP (the spec's estimate, by precision) and the GB it moved (input and output).
It met its SLA unless it failed, or it finished after its deadline or past its latency budget
counted from submission. The run id is the task id with the run's start time, so the same run
reported twice (a restart, a replayed report) has the same keys and is metered once.
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


def run_usage(task: Task, provider: str) -> list[UsageEvent]:
    """The usage events of ``task``'s last run, now that it is final (else none).

    The run starts at the task's last step into RUNNING (or, for a run that never reported a
    start, its last step into SCHEDULED) and ends at its final step.
    """
    if task.state not in (TaskState.COMPLETED, TaskState.FAILED):
        return []
    steps = task.history
    ended_s = steps[-1].at_s
    started = [s.at_s for s in steps if s.to_state is TaskState.RUNNING]
    if not started:
        started = [s.at_s for s in steps if s.to_state is TaskState.SCHEDULED]
    if not started:
        return []
    started_s = started[-1]
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
    met = sla_met(task, ended_s)
    run = run_id_of(task.id, started_s)
    return [
        UsageEvent(run, tenant, provider, dimension, quantity, ended_s, detail, met)
        for dimension, quantity, detail in figures
    ]
