"""Metering a final task's last run: what it held, for how long, and whether it met its SLA."""

from __future__ import annotations

import pytest

from suanwang.market import Dimension
from suanwang.market.metering import run_id_of, run_usage
from suanwang.model import Placement, Task, TaskSpec, TaskState, Transition

SPEC = TaskSpec(work_gflop=10.0, cpu_cores=2.0, mem_gib=4.0, ingress_site="u", data_in_mb=500.0)


def _task(*steps: tuple[TaskState, float]) -> Task:
    history = tuple(
        Transition(None if i == 0 else steps[i - 1][0], state, at_s, "")
        for i, (state, at_s) in enumerate(steps)
    )
    return Task("t1", SPEC, "acme", history, placement=Placement("t1", "n1", ("u",)))


def _figures(task: Task) -> dict[Dimension, float]:
    return {event.dimension: event.quantity for event in run_usage(task, "hospital")}


def test_a_completed_run_is_billed_from_its_start_with_work_and_data() -> None:
    task = _task(
        (TaskState.PENDING, 0.0),
        (TaskState.SCHEDULED, 1.0),
        (TaskState.RUNNING, 10.0),
        (TaskState.COMPLETED, 110.0),
    )
    assert _figures(task) == {
        Dimension.CORE_SECONDS: 200.0,
        Dimension.MEMORY_GIB_SECONDS: 400.0,
        Dimension.TASKS: 1.0,
        Dimension.GFLOP: 10.0,
        Dimension.NETWORK_GB: 0.5,
    }
    events = run_usage(task, "hospital")
    assert {event.run_id for event in events} == {run_id_of("t1", 10.0)}
    assert all(event.sla_met and event.provider == "hospital" for event in events)


def test_a_run_cancelled_while_running_is_billed_for_its_time_without_credit() -> None:
    task = _task(
        (TaskState.PENDING, 0.0),
        (TaskState.SCHEDULED, 1.0),
        (TaskState.RUNNING, 10.0),
        (TaskState.CANCELLED, 40.0),
    )
    assert _figures(task) == {
        Dimension.CORE_SECONDS: 60.0,
        Dimension.MEMORY_GIB_SECONDS: 120.0,
        Dimension.TASKS: 1.0,
    }
    assert all(event.sla_met for event in run_usage(task, "hospital"))


@pytest.mark.parametrize(
    "steps",
    [
        ((TaskState.PENDING, 0.0), (TaskState.SCHEDULED, 1.0), (TaskState.CANCELLED, 5.0)),
        ((TaskState.PENDING, 0.0), (TaskState.REJECTED, 0.0)),
        ((TaskState.PENDING, 0.0), (TaskState.RUNNING, 1.0)),
    ],
    ids=["cancelled-before-it-ran", "rejected", "not-final"],
)
def test_what_never_ran_or_is_not_final_uses_nothing(
    steps: tuple[tuple[TaskState, float], ...],
) -> None:
    assert run_usage(_task(*steps), "hospital") == []
