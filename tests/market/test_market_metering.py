"""Metering every run of a task: what it held, for how long, and whether it met its SLA."""

from __future__ import annotations

import pytest

from suanwang.market import Dimension
from suanwang.market.metering import run_id_of, run_usage, runs_of, usage_of
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


def _placed(node: str) -> Placement:
    return Placement("t1", node, ("u",))


def _lost_then_completed() -> Task:
    """Placed on n1, ran 10..40, n1 lost; placed on n2, ran 50..80, completed."""
    return (
        Task.submit("t1", SPEC, "acme", 0.0)
        .transition(TaskState.SCHEDULED, 1.0, "placed on n1", _placed("n1"))
        .transition(TaskState.RUNNING, 10.0, "running on n1")
        .transition(TaskState.PENDING, 40.0, "node n1 down: lost")
        .transition(TaskState.SCHEDULED, 41.0, "placed on n2", _placed("n2"))
        .transition(TaskState.RUNNING, 50.0, "running on n2")
        .transition(TaskState.COMPLETED, 80.0, "completed")
    )


def test_every_run_is_metered_a_run_cut_short_for_the_time_it_held_its_node() -> None:
    task = _lost_then_completed()
    first, last = runs_of(task)
    assert (first.node_id, first.started_s, first.ended_s) == ("n1", 10.0, 40.0)
    assert (last.node_id, last.started_s, last.ended_s) == ("n2", 50.0, 80.0)
    cut = {e.dimension: e.quantity for e in usage_of(task, first, "p1")}
    assert cut == {
        Dimension.CORE_SECONDS: 60.0,
        Dimension.MEMORY_GIB_SECONDS: 120.0,
        Dimension.TASKS: 1.0,
    }
    assert all(e.sla_met and e.run_id == run_id_of("t1", 10.0) for e in usage_of(task, first, "p1"))
    # The final run is what run_usage gives, with its work and data.
    assert run_usage(task, "p2") == usage_of(task, last, "p2")
    assert {e.dimension for e in run_usage(task, "p2")} >= {Dimension.GFLOP, Dimension.NETWORK_GB}


def test_runs_read_back_the_same_from_a_prefix_of_the_history() -> None:
    task = _lost_then_completed()
    active = Task(task.id, task.spec, task.tenant, task.history[:5], _placed("n2"))
    assert runs_of(active) == runs_of(task)[:1]  # the first run ended; the second is open


def test_a_run_lost_before_it_started_uses_nothing_and_a_move_ends_a_run() -> None:
    task = (
        Task.submit("t1", SPEC, "acme", 0.0)
        .transition(TaskState.SCHEDULED, 1.0, "placed on n1", _placed("n1"))
        .transition(TaskState.PENDING, 2.0, "node n1 down")
        .transition(TaskState.SCHEDULED, 3.0, "placed on n2", _placed("n2"))
        .transition(TaskState.RUNNING, 4.0, "running on n2")
        .transition(TaskState.RUNNING, 5.0, "n2 draining; its replacement is placed on n3")
        .transition(TaskState.RUNNING, 9.0, "moved to n3", _placed("n3"))
        .transition(TaskState.CANCELLED, 12.0, "cancelled by alice")
    )
    runs = runs_of(task)
    assert [(r.node_id, r.started_s, r.ended_s) for r in runs] == [
        ("n2", 4.0, 9.0),
        ("n3", 9.0, 12.0),
    ]
    assert [r.end for r in runs] == [TaskState.RUNNING, TaskState.CANCELLED]
    assert len({r.run_id for r in runs}) == 2


def test_a_restart_re_queue_ends_the_run_and_the_next_placement_begins_one() -> None:
    task = (
        Task.submit("t1", SPEC, "acme", 0.0)
        .transition(TaskState.SCHEDULED, 1.0, "placed on n1", _placed("n1"))
        .transition(TaskState.RUNNING, 2.0, "running on n1")
        .transition(TaskState.PENDING, 7.0, "controller restarted")
        .transition(TaskState.SCHEDULED, 7.0, "placed on n1", _placed("n1"))
        .transition(TaskState.FAILED, 9.0, "failed on its node")
    )
    runs = runs_of(task)
    assert [(r.started_s, r.ended_s, r.end) for r in runs] == [
        (2.0, 7.0, TaskState.PENDING),
        (7.0, 9.0, TaskState.FAILED),  # failed without a reported start: from its placement
    ]
    assert not any(e.sla_met for e in usage_of(task, runs[1], "p"))


def test_the_run_of_the_current_placement_is_billed_the_bandwidth_it_reserved() -> None:
    reserved = Placement("t1", "n2", ("u",), reserved_bandwidth_mbps=25.0)
    task = (
        Task.submit("t1", SPEC, "acme", 0.0)
        .transition(TaskState.SCHEDULED, 1.0, "placed on n1", _placed("n1"))
        .transition(TaskState.RUNNING, 10.0, "running on n1")
        .transition(TaskState.PENDING, 40.0, "node n1 down: lost")
        .transition(TaskState.SCHEDULED, 41.0, "placed on n2", reserved)
        .transition(TaskState.RUNNING, 50.0, "running on n2")
        .transition(TaskState.COMPLETED, 80.0, "completed")
    )
    first, last = runs_of(task)
    final = {e.dimension: e.quantity for e in usage_of(task, last, "p2")}
    assert final[Dimension.BANDWIDTH_MBPS_SECONDS] == 25.0 * 30.0
    # The earlier run's reservation is not in the history: no bandwidth is billed for it.
    assert Dimension.BANDWIDTH_MBPS_SECONDS not in {
        e.dimension for e in usage_of(task, first, "p1")
    }
    assert Dimension.BANDWIDTH_MBPS_SECONDS not in _figures(
        _task(
            (TaskState.PENDING, 0.0),
            (TaskState.SCHEDULED, 1.0),
            (TaskState.RUNNING, 10.0),
            (TaskState.COMPLETED, 110.0),
        )
    )  # a placement that reserved nothing
