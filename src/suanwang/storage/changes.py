"""Runtime topology changes: the ``TopologyChangeStore`` adapters, in memory and in SQL.

The SQL ``append`` reads the newest version and inserts the next one with the audit row in one
transaction; the version is the primary key, so of two writers that read the same version only
one commits (the other's insert violates the key and nothing of it is written).
"""

from __future__ import annotations

import builtins
import copy
import json
import threading
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanwang.control.changes import ChangeKind, StaleTopologyError, TopologyChange
from suanwang.control.stores import AuditEvent, AuditLog
from suanwang.storage.sql import _reachable
from suanwang.storage.tables import AuditRow, TopologyChangeRow


def _stale(stored: int, expected: int) -> StaleTopologyError:
    return StaleTopologyError(
        f"the topology is at version {stored}, not {expected}: validate the change again"
    )


def _checked_body(body: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``body`` that survives a JSON round trip (the SQL adapter's column)."""
    return dict(json.loads(json.dumps(body, allow_nan=False)))


class MemoryTopologyChangeStore:
    """A ``TopologyChangeStore`` in a list, writing audit entries to the same stores' log.

    Args:
        audit: The audit log of the same stores.
    """

    def __init__(self, audit: AuditLog) -> None:
        self._lock = threading.Lock()
        self._audit = audit
        self._changes: list[TopologyChange] = []

    def append(
        self,
        kind: ChangeKind,
        record_id: str,
        body: dict[str, Any],
        audit: AuditEvent,
        expected_version: int,
    ) -> TopologyChange:
        """See ``TopologyChangeStore.append`` (atomic under this store's lock)."""
        stored_body = _checked_body(body)
        with self._lock:
            if len(self._changes) != expected_version:
                raise _stale(len(self._changes), expected_version)
            change = TopologyChange(
                expected_version + 1, kind, record_id, stored_body, audit.who, audit.at_s
            )
            self._audit.append(audit.who, audit.action, audit.target, audit.detail, audit.at_s)
            self._changes.append(change)
        return copy.deepcopy(change)

    def changes(self, after_version: int = 0) -> builtins.list[TopologyChange]:
        """See ``TopologyChangeStore.changes``."""
        with self._lock:
            found = self._changes[max(after_version, 0) :]
        return copy.deepcopy(found)

    def version(self) -> int:
        """See ``TopologyChangeStore.version``."""
        with self._lock:
            return len(self._changes)


class SqlTopologyChangeStore:
    """A ``TopologyChangeStore`` in the ``topology_changes`` table (migration 0005).

    Args:
        engine: Engine on a database migrated to the head.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def append(
        self,
        kind: ChangeKind,
        record_id: str,
        body: dict[str, Any],
        audit: AuditEvent,
        expected_version: int,
    ) -> TopologyChange:
        """See ``TopologyChangeStore.append``."""
        stored_body = _checked_body(body)
        row = TopologyChangeRow(
            version=expected_version + 1,
            kind=kind.value,
            record_id=record_id,
            body=stored_body,
            who=audit.who,
            at_s=audit.at_s,
        )
        try:
            with _reachable(), Session(self._engine) as session, session.begin():
                stored = session.scalar(select(func.max(TopologyChangeRow.version))) or 0
                if stored != expected_version:
                    raise _stale(stored, expected_version)
                session.add(row)
                session.flush()
                session.add(
                    AuditRow(
                        at_s=audit.at_s,
                        who=audit.who,
                        action=audit.action,
                        target=audit.target,
                        detail=audit.detail,
                    )
                )
        except IntegrityError:
            raise _stale(self.version(), expected_version) from None
        return TopologyChange(
            expected_version + 1, kind, record_id, stored_body, audit.who, audit.at_s
        )

    def changes(self, after_version: int = 0) -> builtins.list[TopologyChange]:
        """See ``TopologyChangeStore.changes``."""
        query = (
            select(TopologyChangeRow)
            .where(TopologyChangeRow.version > after_version)
            .order_by(TopologyChangeRow.version)
        )
        with _reachable(), Session(self._engine) as session:
            return [
                TopologyChange(
                    row.version,
                    ChangeKind(row.kind),
                    row.record_id,
                    dict(row.body),
                    row.who,
                    row.at_s,
                )
                for row in session.scalars(query)
            ]

    def version(self) -> int:
        """See ``TopologyChangeStore.version``."""
        with _reachable(), Session(self._engine) as session:
            return int(session.scalar(select(func.max(TopologyChangeRow.version))) or 0)
