"""The task journal (group commit) in memory, on SQLite and PostgreSQL: all or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from suanwang.bootstrap import journal_for
from suanwang.control.stores import (
    AuditEvent,
    ConflictError,
    StaleTaskError,
    TaskJournal,
)
from suanwang.model import IllegalTransitionError, Placement, Task, TaskSpec, TaskState
from suanwang.storage import Stores, open_store


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'j.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    with open_store(url) as opened:
        yield opened


def _task(task_id: str, tenant: str = "acme") -> Task:
    return Task.submit(task_id, TaskSpec(work_gflop=1.0, task_type="t"), tenant, 10.0)


def _placed(task: Task) -> Task:
    placement = Placement(task.id, "n1", ("s1",))
    return task.transition(TaskState.SCHEDULED, 11.0, "placed on n1", placement)


def _event(target: str) -> AuditEvent:
    return AuditEvent("alice", "task.submit", target, "", 10.0)


def test_a_batch_reads_back_through_the_stores(stores: Stores) -> None:
    journal: TaskJournal = journal_for(stores)
    a, b = _placed(_task("a")), _task("b", "globex")
    journal.write([(a, "k1"), (b, None)], [], [_event("task:a"), _event("task:b")])
    assert stores.tasks.get("a") == a
    assert stores.tasks.get("b", "globex") == b
    assert [e.target for e in stores.audit.list()] == ["task:a", "task:b"]
    assert journal.find([("acme", "k1"), ("globex", "k1"), ("acme", "k2")]) == {("acme", "k1"): a}
    done = a.transition(TaskState.RUNNING, 12.0, "running").transition(
        TaskState.COMPLETED, 13.0, "done"
    )
    journal.write([], [(a, done)], [])
    assert stores.tasks.get("a") == done
    assert [t.id for t in stores.tasks.non_terminal()] == ["b"]


@pytest.mark.parametrize("clash", ["key", "id"])
def test_a_taken_key_or_id_writes_nothing(stores: Stores, clash: str) -> None:
    journal = journal_for(stores)
    journal.write([(_task("a"), "k1")], [], [])
    again = _task("a") if clash == "id" else _task("c")
    with pytest.raises(ConflictError):
        journal.write([(_task("b"), "k2"), (again, "k1")], [], [_event("task:b")])
    assert stores.tasks.get("b") is None
    assert stores.audit.list() == []


def test_one_key_twice_in_a_batch_writes_nothing(stores: Stores) -> None:
    journal = journal_for(stores)
    with pytest.raises(ConflictError):
        journal.write([(_task("a"), "k"), (_task("b"), "k")], [], [])
    assert stores.tasks.get("a") is None


def test_a_stale_update_writes_nothing(stores: Stores) -> None:
    journal = journal_for(stores)
    a = _task("a")
    journal.write([(a, None)], [], [])
    placed = _placed(a)
    journal.write([], [(a, placed)], [])
    cancelled = placed.transition(TaskState.CANCELLED, 12.0, "cancelled")
    with pytest.raises(StaleTaskError):
        # Based on the submitted record, which is no longer the stored one.
        journal.write([(_task("b"), None)], [(a, a.transition(TaskState.CANCELLED, 12.0, "x"))], [])
    assert stores.tasks.get("b") is None
    assert stores.tasks.get("a") == placed
    journal.write([], [(placed, cancelled)], [])
    assert stores.tasks.get("a") == cancelled


def test_an_illegal_update_is_refused(stores: Stores) -> None:
    journal = journal_for(stores)
    a = _task("a")
    journal.write([(a, None)], [], [])
    forged = Task(a.id, TaskSpec(work_gflop=2.0), a.tenant, a.history)
    with pytest.raises(IllegalTransitionError):
        journal.write([], [(a, forged)], [])
