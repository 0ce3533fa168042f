"""The TaskStore contract, run against every adapter (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanwang.control.stores import (
    InvalidCursorError,
    NotFoundError,
    StaleTaskError,
    TaskExistsError,
    TaskStore,
)
from suanwang.model import (
    AcceleratorKind,
    AcceleratorNeed,
    Estimate,
    IllegalTransitionError,
    Placement,
    Precision,
    Task,
    TaskClass,
    TaskSpec,
    TaskState,
    Transition,
    TrustLevel,
)
from suanwang.storage import Stores

RICH_SPEC = TaskSpec(
    work_gflop=8000.125,
    precision=Precision.FP16,
    cpu_cores=2.5,
    mem_gib=1.0 / 3.0,
    accelerator=AcceleratorNeed(AcceleratorKind.GPU, 2, 16.0),
    data_in_mb=12.5,
    data_out_mb=0.1,
    ingress_site="bj-edge-1",
    latency_budget_ms=20.0,
    deadline_s=3600.0,
    task_class=TaskClass.HOT,
    budget=9.99,
    residency=("CN-BJ", "CN-TJ"),
    data_tags=frozenset({"personal", "video"}),
    min_trust_level=TrustLevel.VERIFIED,
    affinity_key="session-7",
    task_type="video-inference",
    service_id="svc-1",
)
PLACEMENT = Placement(
    task_id="t-rich",
    node_id="node-3",
    path=("bj-edge-1", "r1", "bj-region"),
    segments=("l1", "l2"),
    reserved_bandwidth_mbps=100.0,
    estimate=Estimate(4.2, 0.5, 11.0 / 7.0, 0.03, 1e-4, 0.07),
)


def submit(task_id: str, tenant: str = "acme", at_s: float = 100.0, **spec: object) -> Task:
    return Task.submit(task_id, TaskSpec(work_gflop=1.0, **spec), tenant, at_s)  # type: ignore[arg-type]


def all_pages(
    tasks: TaskStore, limit: int, cursor: str | None = None, **filters: object
) -> list[Task]:
    found: list[Task] = []
    for _ in range(10_000):
        page = tasks.list(limit=limit, cursor=cursor, **filters)  # type: ignore[arg-type]
        assert len(page.tasks) <= limit
        found.extend(page.tasks)
        cursor = page.next_cursor
        if cursor is None:
            return found
    raise AssertionError("pagination did not end")


def test_rich_task_reads_back_equal_after_each_write(stores: Stores) -> None:
    task = Task.submit("t-rich", RICH_SPEC, "acme", 1_700_000_000.123456)
    assert stores.tasks.add(task) == (task, True)
    assert stores.tasks.get("t-rich") == task
    scheduled = task.transition(TaskState.SCHEDULED, 1_700_000_000.5, "placed", PLACEMENT)
    running = scheduled.transition(TaskState.RUNNING, 1_700_000_001.0, "started on node-3")
    assert stores.tasks.update(running) == running
    assert stores.tasks.get("t-rich") == running
    assert stores.tasks.list().tasks == (running,)


def test_repeated_key_returns_the_first_task(stores: Stores) -> None:
    first = submit("t1")
    assert stores.tasks.add(first, "key-1") == (first, True)
    assert stores.tasks.add(submit("t2"), "key-1") == (first, False)
    assert stores.tasks.get("t2") is None
    assert stores.tasks.list().tasks == (first,)


def test_keys_are_scoped_to_the_tenant(stores: Stores) -> None:
    assert stores.tasks.add(submit("a1", tenant="a"), "k")[1]
    assert stores.tasks.add(submit("b1", tenant="b"), "k")[1]
    assert stores.tasks.add(submit("a2", tenant="a"))[1]
    assert stores.tasks.add(submit("a3", tenant="a"))[1], "tasks without a key never clash"


def test_a_taken_id_is_refused(stores: Stores) -> None:
    stores.tasks.add(submit("t1"))
    with pytest.raises(TaskExistsError):
        stores.tasks.add(submit("t1", tenant="other"))
    with pytest.raises(TaskExistsError):
        stores.tasks.add(submit("t1"), "fresh-key")
    assert stores.tasks.add(submit("t2"), "fresh-key")[1], "the refused add kept no key"


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_bad_keys_are_refused(stores: Stores, key: str) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        stores.tasks.add(submit("t1"), key)


def test_concurrent_submits_with_one_key_store_one_task(
    open_stores: Callable[[], Stores], store_url: str
) -> None:
    # SQL: two engines on one database, as two API processes would have.
    pair = [open_stores(), open_stores()]
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    results: list[tuple[Task, bool]] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results.append(pair[i % 2].tasks.add(submit(f"t{i}"), "same-key"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sum(created for _, created in results) == 1, store_url
    assert len({task for task, _ in results}) == 1
    assert len(pair[0].tasks.list().tasks) == 1


def test_another_tenants_task_is_invisible(stores: Stores) -> None:
    theirs = submit("t-b", tenant="b")
    stores.tasks.add(theirs, "k")
    stores.tasks.add(submit("t-a", tenant="a"))
    assert stores.tasks.get("t-b", tenant="a") is None
    assert stores.tasks.get("t-b", tenant="b") == theirs
    assert stores.tasks.get("t-b") == theirs
    assert [t.id for t in stores.tasks.list(tenant="a").tasks] == ["t-a"]
    assert stores.tasks.list(tenant="c").tasks == ()
    assert [t.id for t in stores.tasks.list().tasks] == ["t-b", "t-a"]


def test_pages_are_stable_and_complete(stores: Stores) -> None:
    # Submission times go backwards on purpose: the order is that of submission to the store.
    tasks = [submit(f"t{i:02}", tenant="ab"[i % 3 == 0], at_s=1000.0 - i) for i in range(23)]
    for task in tasks:
        stores.tasks.add(task)
    first = stores.tasks.list(tenant="a", limit=4)
    # Changes between pages neither reorder nor repeat what is listed.
    moved = tasks[3].transition(TaskState.CANCELLED, 1000.0, "user asked")
    stores.tasks.update(moved)
    stores.tasks.add(submit("late", tenant="a"))
    rest = all_pages(stores.tasks, 4, tenant="a", cursor=first.next_cursor)
    listed = [t.id for t in (*first.tasks, *rest)]
    expected = [t.id for t in tasks if t.tenant == "a"] + ["late"]
    assert listed == expected
    assert all_pages(stores.tasks, 5) == [*tasks[:3], moved, *tasks[4:], stores.tasks.get("late")]
    assert stores.tasks.list(limit=len(tasks) + 1).next_cursor is None


def test_filters_by_state_and_task_type(stores: Stores) -> None:
    stores.tasks.add(submit("v1", task_type="video"))
    stores.tasks.add(submit("v2", task_type="video"))
    stores.tasks.add(submit("w1", task_type="weather"))
    rejected = stores.tasks.get("v2")
    assert rejected is not None
    stores.tasks.update(rejected.transition(TaskState.REJECTED, 200.0, "no node fits"))
    assert [t.id for t in all_pages(stores.tasks, 1, task_type="video")] == ["v1", "v2"]
    assert [t.id for t in stores.tasks.list(state=TaskState.PENDING).tasks] == ["v1", "w1"]
    video_pending = stores.tasks.list(state=TaskState.PENDING, task_type="video", tenant="acme")
    assert [t.id for t in video_pending.tasks] == ["v1"]


def test_newest_first_pages_walk_back_from_the_first(stores: Stores) -> None:
    # Submission times go forwards and backwards: the order is that of submission to the store.
    tasks = [
        submit(f"n{i:02}", tenant="ab"[i % 3 == 0], at_s=500.0 + (-1) ** i * i) for i in range(17)
    ]
    for task in tasks:
        stores.tasks.add(task)
    newest = [t.id for t in reversed(tasks)]
    assert [t.id for t in all_pages(stores.tasks, 4, newest_first=True)] == newest
    first = stores.tasks.list(tenant="a", limit=3, newest_first=True)
    assert [t.id for t in first.tasks] == [t.id for t in reversed(tasks) if t.tenant == "a"][:3]
    # Added after the first page: not listed by its cursor (the pages walk back from it),
    # and changes between pages neither reorder nor repeat what is listed.
    stores.tasks.add(submit("late", tenant="a"))
    older = tasks[4].transition(TaskState.CANCELLED, 600.0, "user asked")
    stores.tasks.update(older)
    rest = all_pages(stores.tasks, 3, tenant="a", cursor=first.next_cursor, newest_first=True)
    listed = [t.id for t in (*first.tasks, *rest)]
    assert listed == [t.id for t in reversed(tasks) if t.tenant == "a"]
    assert stores.tasks.list(limit=1, newest_first=True).tasks[0].id == "late"
    assert stores.tasks.list(limit=18, newest_first=True).next_cursor is None


def test_id_prefix_filters_and_counts_match_the_listing(stores: Stores) -> None:
    for task_id, task_type in [("ab12", "video"), ("ab34", "weather"), ("cd56", "video")]:
        stores.tasks.add(submit(task_id, task_type=task_type))
    stores.tasks.add(submit("a%_x", tenant="other"))
    assert [t.id for t in stores.tasks.list(id_prefix="ab").tasks] == ["ab12", "ab34"]
    assert [t.id for t in stores.tasks.list(id_prefix="ab", newest_first=True).tasks] == [
        "ab34",
        "ab12",
    ]
    # The prefix is text, not a pattern: "%" and "_" match only themselves.
    assert [t.id for t in stores.tasks.list(id_prefix="a%").tasks] == ["a%_x"]
    assert stores.tasks.list(id_prefix="a_").tasks == ()
    assert stores.tasks.count() == 4
    assert stores.tasks.count(tenant="acme") == 3
    assert stores.tasks.count(task_type="video") == 2
    assert stores.tasks.count(tenant="acme", id_prefix="ab", task_type="video") == 1
    assert stores.tasks.count(state=TaskState.REJECTED) == 0
    assert stores.tasks.count(id_prefix="zz") == 0


@pytest.mark.parametrize("cursor", ["garbage", "dDE6LTE", "", "!!"])
def test_foreign_cursors_are_refused(stores: Stores, cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        stores.tasks.list(cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_page_size_is_bounded(stores: Stores, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        stores.tasks.list(limit=limit)


def test_an_illegal_transition_is_refused_and_nothing_changes(stores: Stores) -> None:
    task = submit("t1")
    stores.tasks.add(task)
    jumped = dataclasses.replace(
        task,
        history=(*task.history, Transition(TaskState.PENDING, TaskState.COMPLETED, 101.0, "x")),
    )
    with pytest.raises(IllegalTransitionError):
        stores.tasks.update(jumped)
    unplaced = dataclasses.replace(
        task,
        history=(*task.history, Transition(TaskState.PENDING, TaskState.SCHEDULED, 101.0, "x")),
    )
    with pytest.raises(IllegalTransitionError):
        stores.tasks.update(unplaced)
    respecced = dataclasses.replace(
        task.transition(TaskState.CANCELLED, 101.0, "x"), spec=TaskSpec(work_gflop=2.0)
    )
    with pytest.raises(IllegalTransitionError):
        stores.tasks.update(respecced)
    assert stores.tasks.get("t1") == task


def test_a_stale_update_is_refused_and_nothing_changes(stores: Stores) -> None:
    task = submit("t1")
    stores.tasks.add(task)
    winner = task.transition(TaskState.SCHEDULED, 101.0, "placed", PLACEMENT)
    loser = task.transition(TaskState.CANCELLED, 101.0, "user asked")
    stores.tasks.update(winner)
    with pytest.raises(StaleTaskError):
        stores.tasks.update(loser)
    with pytest.raises(StaleTaskError):
        stores.tasks.update(winner)  # nothing new to write
    assert stores.tasks.get("t1") == winner


def test_updating_an_unknown_task_is_refused(stores: Stores) -> None:
    with pytest.raises(NotFoundError):
        stores.tasks.update(submit("ghost").transition(TaskState.CANCELLED, 101.0, "x"))


def test_several_steps_in_one_update(stores: Stores) -> None:
    task = submit("t1")
    stores.tasks.add(task)
    moved = (
        task.transition(TaskState.SCHEDULED, 101.0, "placed", PLACEMENT)
        .transition(TaskState.PENDING, 102.0, "node lost")
        .transition(TaskState.SCHEDULED, 103.0, "placed again", PLACEMENT)
    )
    assert stores.tasks.update(moved) == moved
    assert stores.tasks.get("t1") == moved


def test_each_run_keeps_its_node_even_when_it_began_and_ended_within_one_update(
    stores: Stores,
) -> None:
    task = submit("t1")
    stores.tasks.add(task)
    elsewhere = dataclasses.replace(PLACEMENT, node_id="node-9")
    moved = (
        task.transition(TaskState.SCHEDULED, 101.0, "placed", elsewhere)
        .transition(TaskState.RUNNING, 102.0, "started")
        .transition(TaskState.PENDING, 103.0, "node lost")
        .transition(TaskState.SCHEDULED, 104.0, "placed again", PLACEMENT)
        .transition(TaskState.RUNNING, 105.0, "started again")
        .transition(TaskState.RUNNING, 106.0, "a step of a move")
    )
    assert stores.tasks.update(moved) == moved
    stored = stores.tasks.get("t1")
    assert stored == moved
    assert stored is not None
    assert [step.node_id for step in stored.history] == [
        None,
        "node-9",
        None,
        None,
        "node-3",
        None,
        None,
    ]
    lost = stored.transition(TaskState.PENDING, 107.0, "node lost")
    lost = lost.transition(TaskState.SCHEDULED, 108.0, "placed", elsewhere)
    lost = lost.transition(TaskState.PENDING, 109.0, "lost before it started")
    assert stores.tasks.update(lost) == lost  # ends unplaced: no placement to replay with
    assert stores.tasks.get("t1") == lost


def test_unfinished_tasks_survive_a_restart(open_stores: Callable[[], Stores]) -> None:
    before = open_stores()
    waiting = submit("waiting")
    running = submit("running").transition(TaskState.SCHEDULED, 101.0, "placed", PLACEMENT)
    running = running.transition(TaskState.RUNNING, 102.0, "started")
    done = submit("done").transition(TaskState.CANCELLED, 101.0, "user asked")
    for task in (waiting, running, done):
        before.tasks.add(task, f"key-{task.id}")
    after = open_stores()  # SQL: a new engine on the same database, as after a restart
    assert after.tasks.non_terminal() == [waiting, running]
    assert after.tasks.add(submit("again"), "key-running") == (running, False)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    count=st.integers(min_value=0, max_value=12),
    page_sizes=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=4),
)
def test_any_page_sizes_list_every_task_once(
    stores: Stores, count: int, page_sizes: list[int]
) -> None:
    # A fresh tenant per example keeps the examples apart in one store.
    tenant = uuid.uuid4().hex
    tasks = [submit(f"{tenant}-{i}", tenant=tenant) for i in range(count)]
    for task in tasks:
        stores.tasks.add(task)
    listed: list[Task] = []
    cursor = None
    for step in range(count + 1):
        page = stores.tasks.list(
            tenant=tenant, limit=page_sizes[step % len(page_sizes)], cursor=cursor
        )
        listed.extend(page.tasks)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert cursor is None
    assert listed == tasks
    newest: list[Task] = []
    cursor = None
    for step in range(count + 1):
        page = stores.tasks.list(
            tenant=tenant,
            limit=page_sizes[step % len(page_sizes)],
            cursor=cursor,
            newest_first=True,
        )
        newest.extend(page.tasks)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert cursor is None
    assert newest == tasks[::-1]
    assert stores.tasks.count(tenant=tenant) == count
