"""Applied intents: the ``IntentStore`` adapters, in memory and in SQL (table ``intents``).

A record is stored whole (its history, task ids and the fork's prediction as JSON columns):
it is small, written at each change of status or tasks, and always read whole.
"""

from __future__ import annotations

import builtins
import copy
import threading
from typing import Any

from sqlalchemy import JSON, Engine, Float, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from suanwang.control.intents import IntentPrediction, IntentRecord, IntentStatus, StatusChange
from suanwang.storage.sql import _reachable
from suanwang.storage.tables import ID_CHARS, Base


class IntentRow(Base):
    """One applied intent (migration 0007; ``prediction`` migration 0008)."""

    __tablename__ = "intents"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(ID_CHARS), index=True)
    who: Mapped[str] = mapped_column(String(ID_CHARS))
    name: Mapped[str] = mapped_column(String(ID_CHARS))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    task_ids: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at_s: Mapped[float] = mapped_column(Float, index=True)
    prediction: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


def _history(record: IntentRecord) -> list[dict[str, Any]]:
    return [
        {
            "at_s": c.at_s,
            "status": c.status.value,
            "availability": c.availability,
            "reason": c.reason,
        }
        for c in record.history
    ]


def _prediction(predicted: IntentPrediction | None) -> dict[str, Any] | None:
    if predicted is None:
        return None
    return {
        "sla_met_fraction": predicted.sla_met_fraction,
        "cost": predicted.cost,
        "carbon_g": predicted.carbon_g,
        "sites": list(predicted.sites),
        "nodes": list(predicted.nodes),
        "forked_at_s": predicted.forked_at_s,
        "horizon_s": predicted.horizon_s,
    }


def _predicted(data: dict[str, Any] | None) -> IntentPrediction | None:
    if data is None:
        return None
    return IntentPrediction(
        float(data["sla_met_fraction"]),
        float(data["cost"]),
        float(data["carbon_g"]),
        tuple(data["sites"]),
        tuple(data["nodes"]),
        float(data["forked_at_s"]),
        float(data["horizon_s"]),
    )


def _record(row: IntentRow) -> IntentRecord:
    return IntentRecord(
        row.id,
        row.tenant,
        row.who,
        row.name,
        dict(row.body),
        tuple(row.task_ids),
        IntentStatus(row.status),
        tuple(
            StatusChange(c["at_s"], IntentStatus(c["status"]), c["availability"], c["reason"])
            for c in row.history
        ),
        row.created_at_s,
        _predicted(row.prediction),
    )


class MemoryIntentStore:
    """An ``IntentStore`` in a dict (the in-memory stores' one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, IntentRecord] = {}

    def save(self, record: IntentRecord) -> None:
        """See ``IntentStore.save``."""
        with self._lock:
            self._records[record.id] = copy.deepcopy(record)

    def get(self, intent_id: str, scope: str | None = None) -> IntentRecord | None:
        """See ``IntentStore.get``."""
        with self._lock:
            found = self._records.get(intent_id)
        if found is None or (scope is not None and found.tenant != scope):
            return None
        return copy.deepcopy(found)

    def list(self, scope: str | None = None) -> builtins.list[IntentRecord]:
        """See ``IntentStore.list``."""
        with self._lock:
            found = [r for r in self._records.values() if scope is None or r.tenant == scope]
        return copy.deepcopy(sorted(found, key=lambda r: (r.created_at_s, r.id)))


class SqlIntentStore:
    """An ``IntentStore`` in the ``intents`` table.

    Args:
        engine: Engine on a database migrated to the head.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, record: IntentRecord) -> None:
        """See ``IntentStore.save`` (one transaction: the row is replaced whole)."""
        with _reachable(), Session(self._engine) as session, session.begin():
            session.merge(
                IntentRow(
                    id=record.id,
                    tenant=record.tenant,
                    who=record.who,
                    name=record.name,
                    body=record.body,
                    task_ids=list(record.task_ids),
                    status=record.status.value,
                    history=_history(record),
                    created_at_s=record.created_at_s,
                    prediction=_prediction(record.prediction),
                )
            )

    def get(self, intent_id: str, scope: str | None = None) -> IntentRecord | None:
        """See ``IntentStore.get``."""
        with _reachable(), Session(self._engine) as session:
            row = session.get(IntentRow, intent_id)
            if row is None or (scope is not None and row.tenant != scope):
                return None
            return _record(row)

    def list(self, scope: str | None = None) -> builtins.list[IntentRecord]:
        """See ``IntentStore.list``."""
        query = select(IntentRow).order_by(IntentRow.created_at_s, IntentRow.id)
        if scope is not None:
            query = query.where(IntentRow.tenant == scope)
        with _reachable(), Session(self._engine) as session:
            return [_record(row) for row in session.scalars(query)]
