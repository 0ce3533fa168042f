"""The intent store port: applied intents, their tasks and the history of their status.

An intent record is written when it is applied and again at each change of its status or of its
tasks (a repair replaces some); the audit entry of each step goes with the writer's next group
commit. Stored as plain data (the intent as written, a JSON object), so that the record reads
back whatever the catalogue became since. The fork's prediction at apply time is stored with
it (``IntentPrediction``), so that what assurance then measures can be set against it.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


class IntentStatus(StrEnum):
    """Where an applied intent stands against its targets."""

    MET = "met"
    AT_RISK = "at-risk"
    VIOLATED = "violated"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One step of an intent's status history.

    Attributes:
        at_s: When, seconds since the epoch.
        status: The status from then on.
        availability: The window's measured availability at that moment (0..1).
        reason: Why, in words.
    """

    at_s: float
    status: IntentStatus
    availability: float
    reason: str


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    """What the fork of the live plane predicted for an intent when it was applied.

    Attributes:
        sla_met_fraction: Share of its replicas predicted to meet the SLA (0..1).
        cost: Predicted sum of the replicas' placement costs, currency units.
        carbon_g: Predicted carbon of those placements, grams CO2e.
        sites: Site of each replica's predicted placement, in replica order ("" unplaced).
        nodes: Node of each replica's predicted placement, in replica order ("" unplaced).
        forked_at_s: Clock time of the fork, seconds since the epoch.
        horizon_s: Seconds the fork ran ahead.
    """

    sla_met_fraction: float
    cost: float
    carbon_g: float
    sites: tuple[str, ...]
    nodes: tuple[str, ...]
    forked_at_s: float
    horizon_s: float


@dataclass(frozen=True, slots=True)
class IntentRecord:
    """An applied intent.

    Attributes:
        id: Its id.
        tenant: Tenant that applied it (its tasks are that tenant's).
        who: Principal that applied it.
        name: The intent's own name.
        body: The intent as written (a JSON object).
        task_ids: Its tasks now, one per replica (a repair replaces ids).
        status: Its present status.
        history: Every status change, oldest first.
        created_at_s: When it was applied.
        prediction: The fork's prediction at apply time (None: stored before predictions
            were kept).
    """

    id: str
    tenant: str
    who: str
    name: str
    body: dict[str, Any]
    task_ids: tuple[str, ...]
    status: IntentStatus
    history: tuple[StatusChange, ...]
    created_at_s: float
    prediction: IntentPrediction | None = None


@runtime_checkable
class IntentStore(Protocol):
    """Applied intents (see the module docstring)."""

    def save(self, record: IntentRecord) -> None:
        """Store ``record`` whole, replacing the one of its id.

        Raises:
            StoreUnavailableError: the database cannot be reached (nothing is written).
        """
        ...

    def get(self, intent_id: str, scope: str | None = None) -> IntentRecord | None:
        """The intent of that id (of tenant ``scope`` when given), or None."""
        ...

    def list(self, scope: str | None = None) -> builtins.list[IntentRecord]:
        """Every intent (of tenant ``scope`` when given), oldest first."""
        ...
