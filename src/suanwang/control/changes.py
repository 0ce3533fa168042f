"""The topology change port: sites, nodes, links and services registered, nodes retired, live.

The live topology is the configured scenario with these changes applied in version order. Each
change is one row with its version, the principal who made it and its audit entry, written in
one transaction: a crash leaves a change whole or absent, never a row without its audit entry
or a version without its row. Versions count 1, 2, 3, ... with no gap; a writer names the
version it validated against, so two writers cannot both extend the same version.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from suanwang.control.stores import AuditEvent, ConflictError


class ChangeKind(StrEnum):
    """What a topology change does."""

    SITE = "site"
    NODE = "node"
    LINK = "link"
    SERVICE = "service"
    RETIRE = "retire"


class StaleTopologyError(ConflictError):
    """The stored topology version is not the one the change was validated against."""


@dataclass(frozen=True, slots=True)
class TopologyChange:
    """One stored change of the live topology.

    Attributes:
        version: Topology version this change made (1 for the first).
        kind: What it does.
        record_id: The site, node, link or service it names.
        body: The record as a scenario file writes it (a JSON object); empty for a retirement.
        who: Principal that made it.
        at_s: When, seconds since the epoch.
    """

    version: int
    kind: ChangeKind
    record_id: str
    body: dict[str, Any]
    who: str
    at_s: float


@runtime_checkable
class TopologyChangeStore(Protocol):
    """Runtime changes of the topology, each with its audit entry (see the module docstring)."""

    def append(
        self,
        kind: ChangeKind,
        record_id: str,
        body: dict[str, Any],
        audit: AuditEvent,
        expected_version: int,
    ) -> TopologyChange:
        """Store a change as version ``expected_version + 1``, with ``audit``, in one transaction.

        ``who`` and ``at_s`` of the change are the audit event's.

        Raises:
            StaleTopologyError: the stored version is not ``expected_version`` (nothing is
                written).
            StoreUnavailableError: the database cannot be reached (nothing is written).
        """
        ...

    def changes(self, after_version: int = 0) -> builtins.list[TopologyChange]:
        """Every change with a version above ``after_version``, in version order."""
        ...

    def version(self) -> int:
        """The newest stored version (0 before the first change)."""
        ...
