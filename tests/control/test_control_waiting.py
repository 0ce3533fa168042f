"""The wait queue and the waits predicted from the runs the controller holds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.control.waiting import ReleaseBook, WaitQueue
from suanwang.model import Task, TaskSpec

HOT = TaskSpec(1.0, cpu_cores=1.0, latency_budget_ms=20.0, task_type="frame", ingress_site="U")
COLD = TaskSpec(100.0, cpu_cores=4.0, deadline_s=60.0, task_type="batch", ingress_site="U")


def _task(task_id: str, spec: TaskSpec, at_s: float = 0.0) -> Task:
    return Task.submit(task_id, spec, "", at_s)


PLAIN = TaskSpec(10.0, cpu_cores=2.0, task_type="batch", ingress_site="U")


def _served(queue: WaitQueue, placed: set[str]) -> list[str]:
    """One pass: the ids given, placing (removing) those in ``placed``."""
    given = []
    for task_id in queue.in_order():
        given.append(task_id)
        if task_id in placed:
            queue.remove(task_id)
    return given


def test_deadlines_first_earliest_first_then_the_rest_by_submission() -> None:
    queue = WaitQueue()
    queue.add(_task("p1", PLAIN, 0.0), 3600.0)
    queue.add(_task("c1", COLD, 1.0), 60.0)  # due at 61 s
    queue.add(_task("p0", PLAIN, -5.0), 3600.0)  # submitted before p1, queued after it
    queue.add(_task("h1", HOT, 2.0), 0.02)  # due at 2.02 s
    queue.add(_task("c0", COLD, 0.5), 60.0)  # due at 60.5 s
    every = {"p1", "c1", "p0", "h1", "c0"}
    assert _served(queue, every) == ["h1", "c0", "c1", "p0", "p1"]
    assert not queue


def test_a_task_left_waiting_ends_its_demands_turn_and_others_go_on() -> None:
    queue = WaitQueue()
    for k in range(3):
        queue.add(_task(f"c{k}", COLD, float(k)), 60.0)
        queue.add(_task(f"p{k}", PLAIN, float(k)), 3600.0)
    # c0 is left waiting: c1 and c2 need the same and are not given; PLAIN backfills.
    assert _served(queue, {"p0", "p1"}) == ["c0", "p0", "p1", "p2"]
    assert _served(queue, {"c0"}) == ["c0", "c1", "p2"]
    queue.add(Task.submit("x", COLD, "tenant-b", 9.0), 60.0)  # another tenant's demand
    assert _served(queue, set()) == ["c1", "x", "p2"]


def test_ahead_counts_the_tasks_of_its_kind_served_before_it() -> None:
    queue = WaitQueue()
    assert queue.add(_task("h1", HOT, 1.0), 0.02) == 0
    assert queue.add(_task("c1", COLD, 1.0), 60.0) == 0
    assert queue.add(_task("h2", HOT, 2.0), 0.02) == 1
    assert queue.add(_task("h0", HOT, 0.0), 0.02) == 0  # taken back with its old submission
    assert len(queue) == 4
    queue.remove("h1")
    assert queue.add(_task("h3", HOT, 3.0), 0.02) == 2


def test_expired_yields_tasks_past_their_patience_only() -> None:
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
    assert gone == ["h2", "c1"]  # the earliest to run out first
    assert list(queue.expired(1e9)) == []


def test_a_task_queued_again_expires_on_its_new_patience_only() -> None:
    queue = WaitQueue()
    queue.add(_task("t", COLD, 0.0), 60.0)
    queue.remove("t")
    queue.add(_task("t", COLD, 100.0), 60.0)
    assert list(queue.expired(100.0)) == []  # the first stay's patience is gone with it
    assert list(queue.expired(161.0)) == ["t"]


def test_many_removals_do_not_keep_their_expiry_entries() -> None:
    queue = WaitQueue()
    for k in range(500):
        queue.add(_task(f"t{k}", COLD, float(k)), 60.0)
        queue.remove(f"t{k}")
    queue.add(_task("last", COLD, 0.0), 60.0)
    assert len(queue._expiry) <= 2 * 1 + 64 + 1
    assert list(queue.expired(61.0)) == ["last"]


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
