"""The audit port and the group-commit journal that writes tasks and audit entries together.

``AuditLog`` is append-only; ``TaskJournal`` makes many task writes and audit entries durable
in one transaction for the single writer (``stores`` re-exports all of it).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from suanwang.model import Task


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit trail.

    Attributes:
        seq: Position in the log, increasing with every append.
        at_s: When the action happened, seconds since the epoch.
        who: Principal id (or ``system``) that acted.
        action: What was done, e.g. ``task.submit``.
        target: What it was done to, e.g. ``task:7f3a``.
        detail: Free text for people.
    """

    seq: int
    at_s: float
    who: str
    action: str
    target: str
    detail: str = ""


@runtime_checkable
class AuditLog(Protocol):
    """An append-only record of who did what.

    Contract:
        * Entries are never changed or removed through any port; SQL adapters also refuse
          UPDATE and DELETE on the table itself.
        * ``seq`` grows with every append, so listing by ``seq`` is the order of appends.
        * An append is durable when it returns.
    """

    def append(self, who: str, action: str, target: str, detail: str, at_s: float) -> AuditEntry:
        """Add an entry and return it with its ``seq``."""
        ...

    def list(
        self, limit: int = 100, since_s: float | None = None, after_seq: int | None = None
    ) -> builtins.list[AuditEntry]:
        """Entries in append order, oldest first.

        Args:
            limit: Most entries returned, 1 to ``MAX_PAGE_SIZE``.
            since_s: Only entries with ``at_s`` at or after this time.
            after_seq: Only entries after this ``seq`` (the last one seen, to page on).

        Raises:
            ValueError: ``limit`` is out of range.
        """
        ...


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """An audit entry still to be appended (the log assigns its ``seq``)."""

    who: str
    action: str
    target: str
    detail: str
    at_s: float


@runtime_checkable
class TaskJournal(Protocol):
    """Group commit: many task writes and audit entries made durable in one transaction.

    For a single writer that collects concurrent requests, applies them, writes them all with
    one ``write`` (one fsync) and only then answers each request.

    Contract:
        * ``write`` is all or nothing and durable when it returns; on any error nothing of the
          call is stored.
        * Added tasks obey ``TaskStore.add``'s uniqueness: a task id, or a (tenant, key) pair,
          that is already stored fails the whole call with ``ConflictError``.
        * Updated tasks obey ``TaskStore.update``: each ``(stored, new)`` pair passes
          ``check_update`` and is written only while ``stored`` is still the stored version.
        * What ``write`` stores reads back through the ``TaskStore`` and ``AuditLog`` of the
          same database exactly as ``add``, ``update`` and ``append`` would have stored it.
    """

    def find(self, keys: builtins.list[tuple[str, str]]) -> dict[tuple[str, str], Task]:
        """Stored tasks by (tenant, idempotency key); keys with no task are left out."""
        ...

    def write(
        self,
        added: builtins.list[tuple[Task, str | None]],
        updated: builtins.list[tuple[Task, Task]],
        audit: builtins.list[AuditEvent],
    ) -> None:
        """Store new tasks (with their keys), task updates (stored, new) and audit entries.

        Raises:
            ConflictError: an added task's id or key is taken, or an update is stale.
            IllegalTransitionError: an update breaks the lifecycle table.
            StoreUnavailableError: the database cannot be reached.
        """
        ...
