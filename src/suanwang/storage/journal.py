"""Task journals (see ``control.stores.TaskJournal``): the group commit of the control plane.

``SqlTaskJournal`` writes every added task, every update and every audit entry of one batch in
one transaction, so a batch costs one fsync however many requests it answers. Inserts and
updates run as executemany over the same tables and JSON encodings as ``SqlTaskStore``, so what
the journal writes reads back through the stores unchanged. ``MemoryTaskJournal`` is its fake.
"""

from __future__ import annotations

import functools
import threading
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanwang.control.stores import (
    AuditEvent,
    AuditLog,
    ConflictError,
    StaleTaskError,
    Stores,
    TaskJournal,
    TaskStore,
    check_key,
    check_update,
)
from suanwang.model import Task
from suanwang.storage.codec import history_to_json, placement_to_json, spec_to_json
from suanwang.storage.sql import _reachable, _task
from suanwang.storage.tables import AuditRow, Base, TaskRow

# Bound parameters per IN list: well under SQLite's limit of 32,766 host parameters.
_KEYS_PER_QUERY = 500

_TASKS = Base.metadata.tables[TaskRow.__tablename__]
_AUDIT = Base.metadata.tables[AuditRow.__tablename__]
_UPDATE = (
    update(_TASKS)
    .where(_TASKS.c.id == bindparam("b_id"), _TASKS.c.version == bindparam("b_version"))
    .values(
        state=bindparam("b_state"),
        version=bindparam("b_new_version"),
        placement=bindparam("b_placement"),
        history=bindparam("b_history"),
    )
)


# Submissions of one catalogue type share a spec; its JSON is made once (specs are frozen and
# hashable, and the encoded dict is only ever read).
_spec_json = functools.lru_cache(maxsize=1024)(spec_to_json)


def _row(task: Task, key: str | None) -> dict[str, Any]:
    return {
        "id": task.id,
        "tenant": task.tenant,
        "idempotency_key": key,
        "state": task.state.value,
        "task_type": task.spec.task_type,
        "submitted_at_s": task.submitted_at_s,
        "version": len(task.history),
        "spec": _spec_json(task.spec),
        "placement": placement_to_json(task.placement),
        "history": history_to_json(task.history),
    }


def _check(added: list[tuple[Task, str | None]], updated: list[tuple[Task, Task]]) -> None:
    for _, key in added:
        check_key(key)
    for stored, new in updated:
        check_update(stored, new)


def _update(connection: Connection, changes: list[dict[str, Any]]) -> None:
    if connection.dialect.supports_sane_multi_rowcount:
        matched = connection.execute(_UPDATE, changes).rowcount
    else:  # a driver that cannot count an executemany's rows: one statement each
        matched = sum(connection.execute(_UPDATE, change).rowcount for change in changes)
    if matched != len(changes):
        # Raised inside the transaction, so the whole batch is rolled back.
        raise StaleTaskError(
            f"{len(changes) - matched} of {len(changes)} task updates were based on an older "
            "version than the stored one"
        )


class SqlTaskJournal:
    """A ``TaskJournal`` over the SQL tables (SQLite, PostgreSQL).

    Args:
        engine: Engine on a database migrated to the head (``open_store`` does both).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def find(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Task]:
        """See ``TaskJournal.find``."""
        by_tenant: dict[str, list[str]] = defaultdict(list)
        for tenant, key in set(keys):
            by_tenant[tenant].append(key)
        found: dict[tuple[str, str], Task] = {}
        with _reachable(), Session(self._engine) as session:
            for tenant, tenant_keys in by_tenant.items():
                for start in range(0, len(tenant_keys), _KEYS_PER_QUERY):
                    chunk = tenant_keys[start : start + _KEYS_PER_QUERY]
                    # (tenant, key IN ...) walks the UNIQUE (tenant, key) index.
                    query = select(TaskRow).where(
                        TaskRow.tenant == tenant, TaskRow.idempotency_key.in_(chunk)
                    )
                    for row in session.scalars(query):
                        assert row.idempotency_key is not None
                        found[(tenant, row.idempotency_key)] = _task(row)
        return found

    def write(
        self,
        added: list[tuple[Task, str | None]],
        updated: list[tuple[Task, Task]],
        audit: list[AuditEvent],
    ) -> None:
        """See ``TaskJournal.write``."""
        _check(added, updated)
        changes = [
            {
                "b_id": new.id,
                "b_version": len(stored.history),
                "b_state": new.state.value,
                "b_new_version": len(new.history),
                "b_placement": placement_to_json(new.placement),
                "b_history": history_to_json(new.history),
            }
            for stored, new in updated
        ]
        entries = [
            {
                "at_s": e.at_s,
                "who": e.who,
                "action": e.action,
                "target": e.target,
                "detail": e.detail,
            }
            for e in audit
        ]
        try:
            with _reachable(), self._engine.begin() as connection:
                if added:
                    connection.execute(insert(_TASKS), [_row(task, key) for task, key in added])
                if changes:
                    _update(connection, changes)
                if entries:
                    connection.execute(insert(_AUDIT), entries)
        except IntegrityError as exc:
            raise ConflictError(
                f"a task id or idempotency key is already stored: {exc.orig}"
            ) from None


class MemoryTaskJournal:
    """A ``TaskJournal`` over in-memory stores (the fake; one lock makes each call atomic).

    Args:
        tasks: The in-memory task store written to.
        audit: The in-memory audit log written to.
    """

    def __init__(self, tasks: TaskStore, audit: AuditLog) -> None:
        self._tasks, self._audit = tasks, audit
        self._lock = threading.Lock()
        self._by_key: dict[tuple[str, str], str] = {}

    def find(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Task]:
        """See ``TaskJournal.find``."""
        found: dict[tuple[str, str], Task] = {}
        with self._lock:
            for pair in keys:
                task_id = self._by_key.get(pair)
                task = None if task_id is None else self._tasks.get(task_id)
                if task is not None:
                    found[pair] = task
        return found

    def write(
        self,
        added: list[tuple[Task, str | None]],
        updated: list[tuple[Task, Task]],
        audit: list[AuditEvent],
    ) -> None:
        """See ``TaskJournal.write``."""
        _check(added, updated)
        with self._lock:
            keys = [(task.tenant, key) for task, key in added if key is not None]
            ids = [task.id for task, _ in added]
            taken = (
                len(set(keys)) < len(keys)
                or len(set(ids)) < len(ids)
                or any(pair in self._by_key for pair in keys)
                or any(self._tasks.get(task_id) is not None for task_id in ids)
            )
            if taken:
                raise ConflictError("a task id or idempotency key is already stored")
            for stored, new in updated:
                if self._tasks.get(new.id) != stored:
                    raise StaleTaskError(f"task {new.id!r} was updated meanwhile")
            for task, key in added:
                self._tasks.add(task, key)
                if key is not None:
                    self._by_key[(task.tenant, key)] = task.id
            for _, new in updated:
                self._tasks.update(new)
            for e in audit:
                self._audit.append(e.who, e.action, e.target, e.detail, e.at_s)


def journal_for(stores: Stores) -> TaskJournal:
    """The group-commit journal over the same database as ``stores``."""
    if isinstance(stores.engine, Engine):
        return SqlTaskJournal(stores.engine)
    return MemoryTaskJournal(stores.tasks, stores.audit)
