"""Store ports: where the control plane keeps tasks, principals and tokens, and the audit log.

Each port is a Protocol with its contract; ``suanwang.storage`` holds an in-memory adapter and a
SQL one (SQLite, PostgreSQL), and one contract test suite runs against all of them. Records here
are frozen dataclasses, like the domain model's, so that what an adapter reads back compares equal
to what was written.

This module holds the task port and ``Stores``, the bundle of one database's stores; the
shared errors and limits (``store_errors``), principals and tokens (``principals``), the audit
log and the journal (``audit``) and agent keys (``agentkeys``) have modules of their own and
are re-exported here, the import path every caller uses.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from suanwang.control.agentkeys import AgentKeyBinding, AgentKeyStore, ReportMark
from suanwang.control.audit import AuditEntry, AuditEvent, AuditLog, TaskJournal
from suanwang.control.principals import IssuedToken, Principal, PrincipalStore, Role, TokenInfo
from suanwang.control.store_errors import (
    MAX_KEY_CHARS,
    MAX_PAGE_SIZE,
    ConflictError,
    InvalidCursorError,
    NotFoundError,
    PrincipalExistsError,
    StaleTaskError,
    StoreError,
    StoreUnavailableError,
    TaskExistsError,
    check_key,
)
from suanwang.model import IllegalTransitionError, Placement, Task, TaskState, Transition

if TYPE_CHECKING:
    from suanwang.control.changes import TopologyChangeStore
    from suanwang.control.intents import IntentStore
    from suanwang.control.ledgerstore import LedgerStore
    from suanwang.control.trust import TrustStore

__all__ = [  # the ports' modules re-exported: callers import every store name from here
    "MAX_KEY_CHARS",
    "MAX_PAGE_SIZE",
    "AgentKeyBinding",
    "AgentKeyStore",
    "AuditEntry",
    "AuditEvent",
    "AuditLog",
    "ConflictError",
    "DatabaseHandle",
    "InvalidCursorError",
    "IssuedToken",
    "NotFoundError",
    "Principal",
    "PrincipalExistsError",
    "PrincipalStore",
    "ReportMark",
    "Role",
    "StaleTaskError",
    "StoreError",
    "StoreUnavailableError",
    "Stores",
    "TaskExistsError",
    "TaskJournal",
    "TaskPage",
    "TaskStore",
    "TokenInfo",
    "check_key",
    "check_update",
]


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of a task listing.

    Attributes:
        tasks: Tasks in the order asked (submission order, oldest or newest first).
        next_cursor: Pass it to the next call to continue; None when this was the last page.
    """

    tasks: tuple[Task, ...]
    next_cursor: str | None


def check_update(stored: Task, new: Task) -> None:
    """Check that ``new`` is ``stored`` moved along legal transitions, as ``update`` requires.

    ``new`` must keep the id, spec and tenant, extend the stored history by one or more steps,
    and be exactly what ``Task.transition`` yields when those steps are replayed (placement
    included), so a store never holds a history the lifecycle table could not produce.

    Raises:
        StaleTaskError: ``new`` does not extend the stored history (someone else wrote first),
            or adds nothing to it.
        IllegalTransitionError: a new step is not allowed, or the id, spec, tenant or placement
            do not follow from the history.
    """
    if (new.id, new.tenant, new.spec) != (stored.id, stored.tenant, stored.spec):
        raise IllegalTransitionError(f"task {new.id!r}: id, tenant and spec never change")
    version = len(stored.history)
    if len(new.history) <= version or new.history[:version] != stored.history:
        raise StaleTaskError(
            f"task {new.id!r}: the update is based on another version than the stored one "
            f"({version} steps); read the task again"
        )
    replayed = stored
    for step in new.history[version:]:
        if step.from_state is not replayed.state:
            raise IllegalTransitionError(
                f"task {new.id!r}: a step leaves {step.from_state} but the task is in "
                f"{replayed.state}"
            )
        replayed = replayed.transition(step.to_state, step.at_s, step.reason, _placed(new, step))
    if replayed != new:
        raise IllegalTransitionError(f"task {new.id!r}: the placement does not follow its history")


def _placed(new: Task, step: Transition) -> Placement | None:
    """The placement to replay ``step`` of ``new`` with: None unless the step begins a run.

    Only the task's last placement is stored; a run begun and lost within one update is
    replayed on a stand-in placement of the node its step names.
    """
    if step.node_id is None:
        return None
    if new.placement is not None and new.placement.node_id == step.node_id:
        return new.placement
    return Placement(new.id, step.node_id, (step.node_id,))


@runtime_checkable
class TaskStore(Protocol):
    """Durable tasks with idempotent submission, tenant scoping and optimistic updates.

    Contract:
        * Every method is safe to call from many threads; SQL adapters are also safe across
          processes sharing one database.
        * A write is durable when the method returns (committed), so an API may answer 2xx.
        * A task reads back equal (``==``) to the record last written: spec, placement and
          history included.
        * A task of another tenant is reported exactly as an absent one, so ids of other
          tenants cannot be probed.
    """

    def add(self, task: Task, idempotency_key: str | None = None) -> tuple[Task, bool]:
        """Store a newly submitted task, at most once per idempotency key of its tenant.

        Atomic: concurrent calls with one (tenant, key) — from threads or processes — store
        one task; the others get that task back. The stored task is returned as is even when
        a repeat carries another spec: comparing them is the caller's business.

        Args:
            task: The task, usually fresh from ``Task.submit``.
            idempotency_key: Client-chosen key (1 to 255 characters), or None for none.

        Returns:
            ``(task, True)`` when stored now; ``(existing task, False)`` for a repeated key.

        Raises:
            TaskExistsError: another task with this id is stored.
            ValueError: the key is empty or longer than ``MAX_KEY_CHARS``.
            StoreUnavailableError: the database cannot be reached.
        """
        ...

    def get(self, task_id: str, tenant: str | None = None) -> Task | None:
        """The task with this id, or None if absent or owned by a tenant other than ``tenant``.

        Args:
            task_id: Task id.
            tenant: Tenant asking; None reads any tenant's task (operators, the controller).
        """
        ...

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
        """One page of tasks in submission order, oldest first (or newest first).

        Following ``next_cursor`` until it is None returns every matching task committed before
        the first page was read exactly once, even while other tasks are added or updated (a
        task whose state changes meanwhile may leave or join a state-filtered listing). Newest
        first, tasks added after the first page are not listed: the pages walk back from it.

        Args:
            tenant: Only this tenant's tasks; None for all.
            state: Only tasks now in this state; None for all.
            task_type: Only tasks whose spec names this catalogue type; None for all.
            limit: Most tasks on the page, 1 to ``MAX_PAGE_SIZE``.
            cursor: ``next_cursor`` of the previous page with the same filters and order, or
                None to start.
            newest_first: The latest submitted first.
            id_prefix: Only tasks whose id starts with this text; None for all.

        Raises:
            InvalidCursorError: the cursor was not made by this kind of store.
            ValueError: ``limit`` is out of range.
        """
        ...

    def count(
        self,
        tenant: str | None = None,
        state: TaskState | None = None,
        task_type: str | None = None,
        *,
        id_prefix: str | None = None,
    ) -> int:
        """How many tasks ``list`` with these filters would list now, over all its pages."""
        ...

    def update(self, task: Task) -> Task:
        """Save a task moved along one or more transitions since it was read.

        Optimistic: the write succeeds only if the stored task is still the one ``task`` was
        derived from; otherwise nothing is written. A refused update leaves the stored task
        unchanged.

        Returns:
            The task as stored.

        Raises:
            NotFoundError: no task with this id is stored.
            StaleTaskError: the stored task moved on meanwhile (read it again and retry).
            IllegalTransitionError: the new steps break the lifecycle table (see ``check_update``).
        """
        ...

    def non_terminal(self) -> builtins.list[Task]:
        """Every task not in a final state, in submission order: what to resume after a restart."""
        ...


class DatabaseHandle(Protocol):
    """What the ports see of an adapter's database connection pool: that it can be closed."""

    def dispose(self) -> None:
        """Close every connection of the pool."""
        ...


@dataclass(frozen=True, slots=True)
class Stores:
    """The stores of one database, sharing its connection pool (``storage.open_store`` opens one).

    Attributes:
        tasks: Task store.
        principals: Principals and tokens.
        audit: Audit log.
        agents: Agent key bindings and report marks.
        url: Database URL with any password hidden (for logs and ``status`` output).
        engine: The adapter's connection pool (a SQLAlchemy engine), or None for the in-memory
            stores; opaque to everything but the adapter.
        ledger: The audit ledger's Merkle log (``control.ledgerstore``), or None where none is
            kept.
        trust: Enrolment tokens and attestations (``control.trust``), or None where none are
            kept.
        topology: Runtime topology changes (``control.changes``), or None where none are kept.
        intents: Applied intents (``control.intents``), or None where none are kept.
    """

    tasks: TaskStore
    principals: PrincipalStore
    audit: AuditLog
    agents: AgentKeyStore
    url: str
    engine: DatabaseHandle | None = None
    ledger: LedgerStore | None = None
    trust: TrustStore | None = None
    topology: TopologyChangeStore | None = None
    intents: IntentStore | None = None

    def close(self) -> None:
        """Close the database connections (the stores must not be used afterwards)."""
        if self.engine is not None:
            self.engine.dispose()

    def __enter__(self) -> Stores:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
