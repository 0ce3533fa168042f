"""The task lifecycle: the transition table, history and placement rules."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanwang.model import (
    TRANSITIONS,
    IllegalTransitionError,
    Placement,
    Task,
    TaskSpec,
    TaskState,
)

SPEC = TaskSpec(work_gflop=10.0, ingress_site="user-a")
PLACEMENT = Placement(task_id="t1", node_id="n1", path=("user-a", "hub"), segments=("l1",))


def _task() -> Task:
    return Task.submit("t1", SPEC, tenant="acme", at_s=0.0)


def test_submit_starts_pending_with_one_history_entry() -> None:
    task = _task()
    assert task.state is TaskState.PENDING
    assert task.submitted_at_s == 0.0
    assert task.history[0].from_state is None
    assert task.history[0].reason == "submitted"


def test_happy_path_records_every_step_with_time_and_reason() -> None:
    task = (
        _task()
        .transition(TaskState.SCHEDULED, 1.0, "placed by cats-joint", PLACEMENT)
        .transition(TaskState.RUNNING, 2.0, "started on n1")
        .transition(TaskState.COMPLETED, 3.5, "finished")
    )
    assert [step.to_state for step in task.history] == [
        TaskState.PENDING,
        TaskState.SCHEDULED,
        TaskState.RUNNING,
        TaskState.COMPLETED,
    ]
    assert [step.at_s for step in task.history] == [0.0, 1.0, 2.0, 3.5]
    assert task.placement == PLACEMENT
    assert task.state.is_terminal


@pytest.mark.parametrize(
    ("path", "bad_step"),
    [
        ([], TaskState.RUNNING),  # cannot run before it is placed
        ([], TaskState.COMPLETED),
        ([TaskState.SCHEDULED, TaskState.RUNNING, TaskState.COMPLETED], TaskState.PENDING),
        ([TaskState.REJECTED], TaskState.SCHEDULED),
        ([TaskState.CANCELLED], TaskState.PENDING),
    ],
)
def test_steps_outside_the_table_are_refused(path: list[TaskState], bad_step: TaskState) -> None:
    task = _task()
    for i, state in enumerate(path, start=1):
        task = task.transition(state, float(i), "step", PLACEMENT)
    with pytest.raises(IllegalTransitionError, match="not allowed"):
        task.transition(bad_step, 99.0, "bad", PLACEMENT)


def test_time_cannot_run_backwards() -> None:
    task = _task().transition(TaskState.SCHEDULED, 5.0, "placed", PLACEMENT)
    with pytest.raises(IllegalTransitionError, match="precedes"):
        task.transition(TaskState.RUNNING, 4.0, "started")


def test_reason_is_required() -> None:
    with pytest.raises(IllegalTransitionError, match="reason"):
        _task().transition(TaskState.REJECTED, 1.0, "")


def test_scheduled_needs_a_placement() -> None:
    with pytest.raises(IllegalTransitionError, match="placement"):
        _task().transition(TaskState.SCHEDULED, 1.0, "placed")


def test_return_to_pending_clears_the_placement() -> None:
    task = (
        _task()
        .transition(TaskState.SCHEDULED, 1.0, "placed", PLACEMENT)
        .transition(TaskState.RUNNING, 2.0, "started")
        .transition(TaskState.PENDING, 3.0, "node n1 down; to be re-placed")
    )
    assert task.placement is None
    assert task.history[-1].reason == "node n1 down; to be re-placed"


def test_terminal_states_are_exactly_those_without_exits() -> None:
    terminal = {state for state in TaskState if state.is_terminal}
    assert terminal == {
        TaskState.COMPLETED,
        TaskState.FAILED,
        TaskState.CANCELLED,
        TaskState.REJECTED,
    }
    # every state is reachable from PENDING
    reachable, frontier = {TaskState.PENDING}, [TaskState.PENDING]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(TaskState)


@given(st.lists(st.sampled_from(list(TaskState)), max_size=30))
def test_any_sequence_either_follows_the_table_or_is_refused(steps: list[TaskState]) -> None:
    task = _task()
    for i, target in enumerate(steps, start=1):
        before = task
        allowed = target in TRANSITIONS[task.state]
        try:
            task = task.transition(target, float(i), "step", PLACEMENT)
        except IllegalTransitionError:
            assert not allowed
            assert task is before
        else:
            assert allowed
            assert task.history[:-1] == before.history
    times = [step.at_s for step in task.history]
    assert times == sorted(times)
    for earlier, later in zip(task.history, task.history[1:], strict=False):
        assert later.from_state == earlier.to_state
        assert later.to_state in TRANSITIONS[earlier.to_state]


@pytest.mark.parametrize(
    ("field", "value"),
    [("work_gflop", -1.0), ("mem_gib", -0.1), ("latency_budget_ms", 0.0), ("budget", -5.0)],
)
def test_task_spec_rejects_impossible_values(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        TaskSpec(**{"work_gflop": 1.0, field: value})  # type: ignore[arg-type]


def test_placement_segments_match_path() -> None:
    with pytest.raises(ValueError, match="segments"):
        Placement(task_id="t", node_id="n", path=("a", "b", "c"), segments=("l1",))
