"""The wait queue and the waits predicted from the runs the controller holds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.control.waiting import ReleaseBook, WaitQueue, queue_key
from suanwang.model import Task, TaskSpec

HOT = TaskSpec(1.0, cpu_cores=1.0, latency_budget_ms=20.0, task_type="frame", ingress_site="U")
COLD = TaskSpec(100.0, cpu_cores=4.0, deadline_s=60.0, task_type="batch", ingress_site="U")


def _task(task_id: str, spec: TaskSpec, at_s: float = 0.0) -> Task:
    return Task.submit(task_id, spec, "", at_s)


def test_one_queue_per_kind_in_arrival_order() -> None:
    queue = WaitQueue()
    assert queue.add(_task("h1", HOT), 0.02) == 0
    assert queue.add(_task("c1", COLD), 60.0) == 0
    assert queue.add(_task("h2", HOT), 0.02) == 1
    assert len(queue) == 3
    assert queue.kinds() == [queue_key(HOT), queue_key(COLD)]
    assert queue.head(queue_key(HOT)) == "h1"
    queue.remove("h1")
    assert queue.head(queue_key(HOT)) == "h2"
    queue.rotate()
    assert queue.kinds() == [queue_key(COLD), queue_key(HOT)]
    queue.remove("h2")
    queue.remove("c1")
    assert not queue
    assert queue.kinds() == []


def test_expired_yields_heads_past_their_patience_only() -> None:
    queue = WaitQueue()
    queue.add(_task("h1", HOT, 0.0), 0.02)
    queue.add(_task("h2", HOT, 0.01), 0.02)
    queue.add(_task("c1", COLD, 0.0), 60.0)
    gone = []
    for task_id in queue.expired(0.025):
        gone.append(task_id)
        queue.remove(task_id)
    assert gone == ["h1"]  # h2 waited 15 ms of its 20; the cold task has a minute
    gone = []
    for task_id in queue.expired(61.0):
        gone.append(task_id)
        queue.remove(task_id)
    assert sorted(gone) == ["c1", "h2"]


def test_refusal_is_kept_until_removal() -> None:
    queue = WaitQueue()
    queue.add(_task("h1", HOT), 0.02)
    assert queue.refusal("h1").reason == "no capacity"
    queue.refused("h1", "resource-fit", "needs 1 free CPU cores, has 0")
    assert queue.refusal("h1").plugin == "resource-fit"
    queue.remove("h1")
    assert queue.refusal("h1").plugin == ""


def test_prediction_is_the_release_that_frees_room_for_the_task() -> None:
    book = ReleaseBook()
    assert book.predict_wait_s(HOT, 0, 0.0) is None  # nothing runs: nothing will free room
    for k, end in enumerate((0.30, 0.10, 0.20)):
        book.hold(f"r{k}", HOT, end)
    assert book.predict_wait_s(HOT, 0, 0.0) == 0.10
    assert book.predict_wait_s(HOT, 2, 0.05) == pytest.approx(0.25)  # two ahead: the third end
    book.release("r1")
    assert book.predict_wait_s(HOT, 0, 0.0) == 0.20
    assert book.predict_wait_s(HOT, 0, 0.5) == 0.0  # overdue: it may end any moment


def test_prediction_falls_back_to_every_run_when_its_kind_holds_too_few() -> None:
    book = ReleaseBook()
    book.hold("cold-1", COLD, 5.0)
    book.hold("hot-1", HOT, 0.2)
    assert book.predict_wait_s(HOT, 0, 0.0) == 0.2  # its own kind first
    assert book.predict_wait_s(HOT, 1, 0.0) == 5.0  # then any release
    assert book.predict_wait_s(HOT, 2, 0.0) is None
    book.release("cold-1")
    book.release("cold-1")  # idempotent
    assert len(book) == 1


@settings(max_examples=60, deadline=None)
@given(
    ends=st.lists(st.floats(0.0, 100.0, allow_nan=False), min_size=1, max_size=30),
    ahead=st.integers(0, 40),
    now=st.floats(0.0, 100.0, allow_nan=False),
)
def test_prediction_is_the_order_statistic_of_the_ends(
    ends: list[float], ahead: int, now: float
) -> None:
    book = ReleaseBook()
    for k, end in enumerate(ends):
        book.hold(f"r{k}", HOT, end)
    predicted = book.predict_wait_s(HOT, ahead, now)
    if ahead >= len(ends):
        assert predicted is None
    else:
        assert predicted == max(0.0, sorted(ends)[ahead] - now)
