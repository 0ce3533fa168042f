"""Agent key bindings and report marks: the ``AgentKeyStore`` adapters, in memory and in SQL.

The SQL adapter writes a binding and its audit row in one transaction, and stores marks with an
upsert that keeps the later timestamp, so that two writers (or a late flush) never move a mark
back. Both upserts are ``INSERT ... ON CONFLICT DO UPDATE``, which SQLite and PostgreSQL share.
"""

from __future__ import annotations

import builtins
import threading
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from suanwang.control.stores import AgentKeyBinding, AuditEvent, AuditLog, ReportMark
from suanwang.storage.sql import _reachable, _rowcount
from suanwang.storage.tables import AgentKeyRow, AuditRow, ReportMarkRow


class MemoryAgentKeyStore:
    """An ``AgentKeyStore`` in dicts; audit entries go to the in-memory log next to it.

    Args:
        audit: The audit log of the same stores.
    """

    def __init__(self, audit: AuditLog) -> None:
        self._lock = threading.Lock()
        self._audit = audit
        self._bindings: dict[str, AgentKeyBinding] = {}
        self._marks: dict[str, ReportMark] = {}

    def bind(self, binding: AgentKeyBinding, audit: AuditEvent | None = None) -> None:
        """See ``AgentKeyStore.bind``."""
        with self._lock:
            self._bindings[binding.key_id] = binding
            if audit is not None:
                self._audit.append(audit.who, audit.action, audit.target, audit.detail, audit.at_s)

    def bindings(self) -> builtins.list[AgentKeyBinding]:
        """See ``AgentKeyStore.bindings``."""
        with self._lock:
            return [self._bindings[key] for key in sorted(self._bindings)]

    def unbind(self, key_id: str) -> bool:
        """See ``AgentKeyStore.unbind``."""
        with self._lock:
            self._marks.pop(key_id, None)
            return self._bindings.pop(key_id, None) is not None

    def save_marks(self, marks: builtins.list[ReportMark]) -> None:
        """See ``AgentKeyStore.save_marks``."""
        with self._lock:
            for mark in marks:
                stored = self._marks.get(mark.key_id)
                if stored is None or mark.last_ts_s > stored.last_ts_s:
                    self._marks[mark.key_id] = mark

    def marks(self) -> dict[str, ReportMark]:
        """See ``AgentKeyStore.marks``."""
        with self._lock:
            return dict(self._marks)


def _insert(engine: Engine, table: Any) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_update``."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


class SqlAgentKeyStore:
    """An ``AgentKeyStore`` in the ``agent_keys`` and ``report_marks`` tables.

    Args:
        engine: Engine on a database migrated to the head.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @staticmethod
    def upsert(engine: Engine, binding: AgentKeyBinding) -> Any:
        """The statement that stores (or replaces) ``binding`` (for a caller's transaction)."""
        values = {
            "key_id": binding.key_id,
            "node_id": binding.node_id,
            "principal_id": binding.principal_id,
            "public_key": binding.public_key,
            "bound_at_s": binding.bound_at_s,
        }
        insert = _insert(engine, AgentKeyRow).values(**values)
        return insert.on_conflict_do_update(
            index_elements=["key_id"],
            set_={key: insert.excluded[key] for key in values if key != "key_id"},
        )

    def bind(self, binding: AgentKeyBinding, audit: AuditEvent | None = None) -> None:
        """See ``AgentKeyStore.bind``."""
        with _reachable(), Session(self._engine) as session, session.begin():
            session.execute(self.upsert(self._engine, binding))
            if audit is not None:
                session.add(
                    AuditRow(
                        at_s=audit.at_s,
                        who=audit.who,
                        action=audit.action,
                        target=audit.target,
                        detail=audit.detail,
                    )
                )

    def bindings(self) -> builtins.list[AgentKeyBinding]:
        """See ``AgentKeyStore.bindings``."""
        query = select(AgentKeyRow).order_by(AgentKeyRow.key_id)
        with _reachable(), Session(self._engine) as session:
            return [
                AgentKeyBinding(
                    row.key_id, row.node_id, row.principal_id, bytes(row.public_key), row.bound_at_s
                )
                for row in session.scalars(query)
            ]

    def unbind(self, key_id: str) -> bool:
        """See ``AgentKeyStore.unbind``."""
        with _reachable(), Session(self._engine) as session, session.begin():
            session.execute(delete(ReportMarkRow).where(ReportMarkRow.key_id == key_id))
            result = session.execute(delete(AgentKeyRow).where(AgentKeyRow.key_id == key_id))
            return _rowcount(result) == 1

    def save_marks(self, marks: builtins.list[ReportMark]) -> None:
        """See ``AgentKeyStore.save_marks``."""
        if not marks:
            return
        # One row per key: the newest of the batch (an INSERT may not name a key twice).
        newest: dict[str, ReportMark] = {}
        for mark in marks:
            if mark.key_id not in newest or mark.last_ts_s > newest[mark.key_id].last_ts_s:
                newest[mark.key_id] = mark
        rows = [
            {"key_id": m.key_id, "last_ts_s": m.last_ts_s, "last_nonce": m.last_nonce}
            for m in newest.values()
        ]
        insert = _insert(self._engine, ReportMarkRow).values(rows)
        upsert = insert.on_conflict_do_update(
            index_elements=["key_id"],
            set_={"last_ts_s": insert.excluded.last_ts_s, "last_nonce": insert.excluded.last_nonce},
            where=ReportMarkRow.last_ts_s < insert.excluded.last_ts_s,
        )
        with _reachable(), Session(self._engine) as session, session.begin():
            session.execute(upsert)

    def marks(self) -> dict[str, ReportMark]:
        """See ``AgentKeyStore.marks``."""
        with _reachable(), Session(self._engine) as session:
            return {
                row.key_id: ReportMark(row.key_id, row.last_ts_s, row.last_nonce)
                for row in session.scalars(select(ReportMarkRow))
            }
