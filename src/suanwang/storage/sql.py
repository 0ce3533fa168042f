"""SQL stores (SQLite, PostgreSQL) over the tables in ``tables``; see ``control.stores`` contracts.

Every write is its own transaction, committed before the method returns. Idempotent submission
rests on the UNIQUE (tenant, idempotency_key) constraint: the losing writer of a race gets an
IntegrityError and reads the winner's task. Updates are optimistic: ``UPDATE ... WHERE version =
<version read>``, so two writers cannot both move one task, and no read lock is ever upgraded to
a write lock (which SQLite would answer with an immediate "database is locked").
Principals and tokens are ``sql_principals``.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, Engine, func, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from suanwang.control.stores import (
    AuditEntry,
    NotFoundError,
    StaleTaskError,
    StoreUnavailableError,
    TaskExistsError,
    TaskPage,
    check_key,
    check_update,
)
from suanwang.model import Task, TaskState
from suanwang.storage.codec import (
    history_from_json,
    history_to_json,
    placement_from_json,
    placement_to_json,
    spec_from_json,
    spec_to_json,
)
from suanwang.storage.common import check_limit, decode_cursor, encode_cursor
from suanwang.storage.tables import AuditRow, TaskRow

_NON_TERMINAL = [state.value for state in TaskState if not state.is_terminal]


@contextmanager
def _reachable() -> Iterator[None]:
    """Report a lost or refused database connection as ``StoreUnavailableError``."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise StoreUnavailableError(f"database unavailable: {exc.orig}") from exc


def _task(row: TaskRow) -> Task:
    return Task(
        row.id,
        spec_from_json(row.spec),
        row.tenant,
        history_from_json(row.history),
        placement_from_json(row.placement),
    )


def _filters(
    tenant: str | None, state: TaskState | None, task_type: str | None, id_prefix: str | None
) -> list[ColumnElement[bool]]:
    """The WHERE terms a listing and its count share."""
    terms: list[ColumnElement[bool]] = []
    if tenant is not None:
        terms.append(TaskRow.tenant == tenant)
    if state is not None:
        terms.append(TaskRow.state == state.value)
    if task_type is not None:
        terms.append(TaskRow.task_type == task_type)
    if id_prefix is not None:
        # Escaped: a "%" or "_" in the prefix is that character, not a wildcard.
        terms.append(TaskRow.id.startswith(id_prefix, autoescape=True))
    return terms


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


class SqlTaskStore:
    """A ``TaskStore`` in the ``tasks`` table.

    Args:
        engine: Engine on a database migrated to the head (``open_store`` does both).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _by_key(self, tenant: str, idempotency_key: str) -> Task | None:
        with Session(self._engine) as session:
            row = session.scalar(
                select(TaskRow).where(
                    TaskRow.tenant == tenant, TaskRow.idempotency_key == idempotency_key
                )
            )
            return None if row is None else _task(row)

    def add(self, task: Task, idempotency_key: str | None = None) -> tuple[Task, bool]:
        """See ``TaskStore.add``."""
        check_key(idempotency_key)
        with _reachable():
            if idempotency_key is not None:
                existing = self._by_key(task.tenant, idempotency_key)
                if existing is not None:
                    return existing, False
            row = TaskRow(
                id=task.id,
                tenant=task.tenant,
                idempotency_key=idempotency_key,
                state=task.state.value,
                task_type=task.spec.task_type,
                submitted_at_s=task.submitted_at_s,
                version=len(task.history),
                spec=spec_to_json(task.spec),
                placement=placement_to_json(task.placement),
                history=history_to_json(task.history),
            )
            try:
                with Session(self._engine) as session, session.begin():
                    session.add(row)
            except IntegrityError:
                # Lost a race on the key (the winner has committed by now), or the id is taken.
                if idempotency_key is not None:
                    existing = self._by_key(task.tenant, idempotency_key)
                    if existing is not None:
                        return existing, False
                raise TaskExistsError(f"task {task.id!r} already exists") from None
        return task, True

    def get(self, task_id: str, tenant: str | None = None) -> Task | None:
        """See ``TaskStore.get``."""
        query = select(TaskRow).where(TaskRow.id == task_id)
        if tenant is not None:
            query = query.where(TaskRow.tenant == tenant)
        with _reachable(), Session(self._engine) as session:
            row = session.scalar(query)
            return None if row is None else _task(row)

    def list(
        self,
        tenant: str | None = None,
        state: TaskState | None = None,
        task_type: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        *,
        newest_first: bool = False,
        id_prefix: str | None = None,
    ) -> TaskPage:
        """See ``TaskStore.list``."""
        check_limit(limit)
        seq = decode_cursor(cursor)
        query = select(TaskRow).where(*_filters(tenant, state, task_type, id_prefix))
        if newest_first:
            # A cursor points before the last task listed; none starts at the newest.
            if cursor is not None:
                query = query.where(TaskRow.seq < seq)
            order = TaskRow.seq.desc()
        else:
            query = query.where(TaskRow.seq > seq)
            order = TaskRow.seq.asc()
        # One row more than asked tells whether another page follows.
        query = query.order_by(order).limit(limit + 1)
        with _reachable(), Session(self._engine) as session:
            rows = session.scalars(query).all()
            tasks = tuple(_task(row) for row in rows[:limit])
            last_seq = rows[limit - 1].seq if len(rows) > limit else None
        return TaskPage(tasks, None if last_seq is None else encode_cursor(last_seq))

    def count(
        self,
        tenant: str | None = None,
        state: TaskState | None = None,
        task_type: str | None = None,
        *,
        id_prefix: str | None = None,
    ) -> int:
        """See ``TaskStore.count``."""
        query = select(func.count()).select_from(TaskRow)
        query = query.where(*_filters(tenant, state, task_type, id_prefix))
        with _reachable(), Session(self._engine) as session:
            return int(session.scalar(query) or 0)

    def update(self, task: Task) -> Task:
        """See ``TaskStore.update``."""
        stored = self.get(task.id)
        if stored is None:
            raise NotFoundError(f"task {task.id!r} does not exist")
        check_update(stored, task)
        statement = (
            update(TaskRow)
            .where(TaskRow.id == task.id, TaskRow.version == len(stored.history))
            .values(
                state=task.state.value,
                version=len(task.history),
                placement=placement_to_json(task.placement),
                history=history_to_json(task.history),
            )
            .execution_options(synchronize_session=False)
        )
        with _reachable(), Session(self._engine) as session, session.begin():
            changed = _rowcount(session.execute(statement))
        if changed != 1:
            raise StaleTaskError(f"task {task.id!r} was updated meanwhile; read it again")
        return task

    def non_terminal(self) -> builtins.list[Task]:
        """See ``TaskStore.non_terminal``."""
        query = select(TaskRow).where(TaskRow.state.in_(_NON_TERMINAL)).order_by(TaskRow.seq)
        with _reachable(), Session(self._engine) as session:
            return [_task(row) for row in session.scalars(query)]


class SqlAuditLog:
    """An ``AuditLog`` in the ``audit_log`` table (UPDATE and DELETE refused by triggers)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def append(self, who: str, action: str, target: str, detail: str, at_s: float) -> AuditEntry:
        """See ``AuditLog.append``."""
        row = AuditRow(at_s=at_s, who=who, action=action, target=target, detail=detail)
        with _reachable(), Session(self._engine) as session, session.begin():
            session.add(row)
            session.flush()  # assigns seq
            seq = row.seq
        return AuditEntry(seq, at_s, who, action, target, detail)

    def list(
        self, limit: int = 100, since_s: float | None = None, after_seq: int | None = None
    ) -> builtins.list[AuditEntry]:
        """See ``AuditLog.list``."""
        check_limit(limit)
        query = select(AuditRow).order_by(AuditRow.seq).limit(limit)
        if since_s is not None:
            query = query.where(AuditRow.at_s >= since_s)
        if after_seq is not None:
            query = query.where(AuditRow.seq > after_seq)
        with _reachable(), Session(self._engine) as session:
            return [
                AuditEntry(r.seq, r.at_s, r.who, r.action, r.target, r.detail)
                for r in session.scalars(query)
            ]
