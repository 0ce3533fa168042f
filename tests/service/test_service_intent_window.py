"""An intent's measured SLA over a sliding window: met, at risk (a spare lost, or forecast), and
violated, with the window forgetting old samples; a request-style intent's share of its ended
requests within budget, each counted once; an ended task never serves."""

from __future__ import annotations

from suanwang.control.intents import IntentStatus
from suanwang.model import Task, TaskSpec, TaskState
from suanwang.model.task import Transition
from suanwang.service.intent_window import (
    RequestWindow,
    Sample,
    SlaWindow,
    serving,
    style_of,
)

JOB = TaskSpec(work_gflop=1, cpu_cores=1, deadline_s=100)


def ended(task_id: str, submitted_s: float, ended_s: float, state: TaskState) -> Task:
    """A job submitted at ``submitted_s`` that ended in ``state`` at ``ended_s``."""
    return Task(
        task_id,
        JOB,
        "acme",
        (
            Transition(None, TaskState.PENDING, submitted_s, "submitted"),
            Transition(TaskState.PENDING, state, ended_s, "ended"),
        ),
    )


def test_all_serving_is_met_and_a_lost_spare_is_at_risk() -> None:
    window = SlaWindow(window_s=60, target=0.99)
    window.add(Sample(0, serving=3, replicas=3, needed=2))
    assert window.status()[0] is IntentStatus.MET
    window.add(Sample(10, serving=2, replicas=3, needed=2))
    status, reason = window.status()
    assert status is IntentStatus.AT_RISK
    assert "1 spare(s) lost" in reason
    assert window.availability == 1.0  # the load is still fully served


def test_a_shortfall_is_forecast_then_violates_and_the_window_forgets() -> None:
    window = SlaWindow(window_s=60, target=0.5)
    for at_s in range(0, 60, 10):
        window.add(Sample(at_s, serving=2, replicas=2, needed=2))
    window.add(Sample(60, serving=0, replicas=2, needed=2))
    status, reason = window.status()
    # 6 good samples and 1 bad: the window holds, but were it to last, it would not.
    assert status is IntentStatus.AT_RISK
    assert reason.startswith("forecast")
    for at_s in range(70, 130, 10):
        window.add(Sample(at_s, serving=0, replicas=2, needed=2))
    status, reason = window.status()
    assert status is IntentStatus.VIOLATED
    assert "below the target 0.5" in reason
    for at_s in range(130, 200, 10):
        window.add(Sample(at_s, serving=2, replicas=2, needed=2))
    assert window.status()[0] is IntentStatus.MET  # the bad samples left the window
    assert all(s.at_s >= 190 - 60 for s in window.samples)


def test_an_ended_task_does_not_serve_and_the_style_follows_the_replicas() -> None:
    done = ended("t", 0, 0.01, TaskState.COMPLETED)  # within any budget, yet not serving
    assert not serving(done, True, None, now_s=1, start_grace_s=60)
    assert style_of([JOB]) == "request"
    assert style_of([TaskSpec(work_gflop=1, cpu_cores=1, long_running=True)]) == "service"


def test_requests_count_once_when_they_end_and_leave_with_the_window() -> None:
    window = RequestWindow(window_s=60, target=0.9)
    window.begin(50)
    window.observe(ended("a", 0, 40, TaskState.COMPLETED), False, 50)  # 40 s <= 100 s
    window.observe(ended("b", 0, 45, TaskState.CANCELLED), False, 50)  # not the user's miss
    assert (window.judged, window.availability) == (1, 1.0)
    assert window.status()[0] is IntentStatus.MET
    for at_s in (55, 60):  # assessed again: still one request, not one per assessment
        window.begin(at_s)
        window.observe(ended("a", 0, 40, TaskState.COMPLETED), False, at_s)
    assert window.judged == 1

    late = ended("c", 10, 130, TaskState.COMPLETED)  # 120 s against a 100 s deadline
    failed = ended("d", 10, 20, TaskState.FAILED)
    window.begin(130)
    for task in (ended("a", 0, 40, TaskState.COMPLETED), late, failed):
        window.observe(task, False, 130)
    # a (40 s) and d (20 s) ended before the window (70 s on): only the late one is judged.
    assert (window.judged, window.availability) == (1, 0.0)
    status, reason = window.status()
    assert status is IntentStatus.VIOLATED
    assert "0 of 1 requests ended in the window within their budget" in reason


def test_an_unfinished_request_past_its_budget_is_missed_and_one_not_placed_is_at_risk() -> None:
    window = RequestWindow(window_s=600, target=0.5)
    waiting = Task.submit("w", JOB, "acme", 0)
    window.begin(50)
    window.observe(waiting, False, 50)
    assert window.judged == 0
    status, reason = window.status()
    assert status is IntentStatus.AT_RISK
    assert reason.startswith("1 of 1 unfinished requests neither placed nor running")
    window.begin(150)
    window.observe(waiting, True, 150)  # placed by now, but 150 s > 100 s
    assert (window.judged, window.availability) == (1, 0.0)
    assert window.outcomes["w"].at_s == 100
    assert window.status()[0] is IntentStatus.VIOLATED
