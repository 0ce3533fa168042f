"""AgentDispatch (execution/dispatch.py): staged until published, pulled once, reports checked."""

from __future__ import annotations

import pytest

from suanwang.control.ports import ExecutionEngine
from suanwang.execution.dispatch import AgentDispatch
from suanwang.model import Placement, Task, TaskSpec, TaskState


class Reports:
    def __init__(self) -> None:
        self.seen: list[tuple[str, ...]] = []

    def task_started(self, task_id: str) -> None:
        self.seen.append(("started", task_id))

    def task_finished(self, task_id: str, ok: bool, reason: str) -> None:
        self.seen.append(("finished", task_id, str(ok), reason))


def _task(task_id: str, node: str) -> Task:
    submitted = Task.submit(task_id, TaskSpec(work_gflop=1.0), "acme", 0.0)
    return submitted.transition(
        TaskState.SCHEDULED, 1.0, f"placed on {node}", Placement(task_id, node, ("s",))
    )


@pytest.fixture
def engine() -> tuple[AgentDispatch, Reports]:
    dispatch, reports = AgentDispatch(["n1", "n2"]), Reports()
    dispatch.attach(reports)
    return dispatch, reports


def test_it_is_an_execution_engine(engine: tuple[AgentDispatch, Reports]) -> None:
    dispatch, _ = engine
    assert isinstance(dispatch, ExecutionEngine)
    assert dispatch.inventory() == ("n1", "n2")


def test_tasks_wait_for_publish_then_go_once_to_their_node(
    engine: tuple[AgentDispatch, Reports],
) -> None:
    dispatch, _ = engine
    for i in range(3):
        dispatch.start(_task(f"t{i}", "n1"))
    dispatch.start(_task("u", "n2"))
    assert dispatch.pull("n1", 10) == []
    assert dispatch.publish() == 4
    assert [t.id for t in dispatch.pull("n1", 2)] == ["t0", "t1"]
    assert dispatch.waiting("n1") == 1
    assert [t.id for t in dispatch.pull("n1", 10)] == ["t2"]
    assert dispatch.pull("n1", 10) == []
    assert [t.id for t in dispatch.pull("n2", 10)] == ["u"]


def test_reports_are_forwarded_only_from_the_tasks_node(
    engine: tuple[AgentDispatch, Reports],
) -> None:
    dispatch, reports = engine
    dispatch.start(_task("t", "n1"))
    dispatch.publish()
    assert not dispatch.report_started("t", "n2")
    assert dispatch.report_started("t", "n1")
    assert not dispatch.report_started("t", "n1")  # at most once
    assert not dispatch.report_finished("t", "n2", True, "")
    assert dispatch.report_finished("t", "n1", True, "done")
    assert not dispatch.report_finished("t", "n1", True, "again")
    assert reports.seen == [("started", "t"), ("finished", "t", "True", "done")]
    assert dispatch.node_of("t") is None


def test_cancel_forgets_a_task_wherever_it_is(engine: tuple[AgentDispatch, Reports]) -> None:
    dispatch, reports = engine
    dispatch.start(_task("staged", "n1"))
    dispatch.cancel("staged")
    dispatch.start(_task("ready", "n1"))
    dispatch.start(_task("kept", "n1"))
    dispatch.publish()
    dispatch.cancel("ready")
    dispatch.cancel("unknown")  # idempotent, ignores unknown ids
    assert [t.id for t in dispatch.pull("n1", 10)] == ["kept"]
    dispatch.cancel("kept")
    assert not dispatch.report_finished("kept", "n1", False, "late")
    assert reports.seen == []


def test_a_task_without_placement_is_refused(engine: tuple[AgentDispatch, Reports]) -> None:
    dispatch, _ = engine
    with pytest.raises(ValueError, match="placement"):
        dispatch.start(Task.submit("p", TaskSpec(work_gflop=1.0), "acme", 0.0))


def test_a_run_cancelled_after_its_pull_is_withdrawn_until_its_kill_is_confirmed(
    engine: tuple[AgentDispatch, Reports],
) -> None:
    dispatch, _ = engine
    for task_id in ("pulled", "queued", "staged"):
        dispatch.start(_task(task_id, "n1"))
        if task_id != "staged":
            dispatch.publish(0.0)
        if task_id == "pulled":
            assert [t.id for t in dispatch.pull("n1", 1)] == ["pulled"]
    assert dispatch.withdrawn("n1", ["pulled"]) == []
    assert dispatch.withdrawn("n2", ["pulled"]) == ["pulled"]  # not that node's
    for task_id in ("pulled", "queued", "staged"):
        dispatch.cancel(task_id)
    assert dispatch.withdrawn("n1", ["pulled"]) == ["pulled"]
    # Only a pulled run can be running on its agent: only its kill is awaited.
    assert dispatch.confirm_killed("n1", "queued") is None
    assert dispatch.confirm_killed("n1", "staged") is None
    assert dispatch.confirm_killed("n2", "pulled") is None
    after_s = dispatch.confirm_killed("n1", "pulled")
    assert after_s is not None
    assert 0.0 <= after_s < 5.0
    assert [(k.run_id, k.node_id) for k in dispatch.kills] == [("pulled", "n1")]
    assert dispatch.confirm_killed("n1", "pulled") is None  # confirmed once


def test_a_task_ended_by_a_kept_report_before_it_was_pulled_is_not_pulled_again(
    engine: tuple[AgentDispatch, Reports],
) -> None:
    dispatch, reports = engine
    dispatch.start(_task("t1", "n1"))  # placed again after a restart, on the node that ran it
    dispatch.publish()
    assert dispatch.report_finished("t1", "n1", True, "completed on n1 (before the restart)")
    assert dispatch.pull("n1", 10) == []
    assert dispatch.waiting("n1") == 0
    assert reports.seen == [("finished", "t1", "True", "completed on n1 (before the restart)")]
    assert not dispatch.report_finished("t1", "n1", True, "sent again")  # ended once
