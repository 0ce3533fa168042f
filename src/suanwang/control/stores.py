"""Store ports: where the control plane keeps tasks, principals and tokens, and the audit log.

Each port is a Protocol with its contract; ``suanwang.storage`` holds an in-memory adapter and a
SQL one (SQLite, PostgreSQL), and one contract test suite runs against all of them. Records here
are frozen dataclasses, like the domain model's, so that what an adapter reads back compares equal
to what was written.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from suanwang.model import IllegalTransitionError, Placement, Task, TaskState, Transition

if TYPE_CHECKING:
    from suanwang.control.changes import TopologyChangeStore
    from suanwang.control.intents import IntentStore
    from suanwang.control.ledgerstore import LedgerStore
    from suanwang.control.trust import TrustStore

MAX_KEY_CHARS = 255
"""Longest idempotency key, task id, tenant or principal id a store accepts."""

MAX_PAGE_SIZE = 1000
"""Most tasks (or audit entries) one listing call returns."""


class StoreError(Exception):
    """Base of the errors a store raises on purpose."""


class ConflictError(StoreError):
    """The write clashes with what is stored (an HTTP API answers 409)."""


class TaskExistsError(ConflictError):
    """A task with this id is already stored (and the call carried no matching key)."""


class StaleTaskError(ConflictError):
    """An update was based on an older version of the task than the stored one."""


class PrincipalExistsError(ConflictError):
    """A principal with this id is already stored."""


class NotFoundError(StoreError, LookupError):
    """The record named does not exist (or belongs to another tenant)."""


class InvalidCursorError(StoreError, ValueError):
    """A listing cursor was not one this store handed out."""


class StoreUnavailableError(StoreError):
    """The backing database cannot be reached or refused the operation for a transient reason."""


def check_key(idempotency_key: str | None) -> None:
    """Refuse an empty or over-long idempotency key (None is fine).

    Raises:
        ValueError: the key is empty or longer than ``MAX_KEY_CHARS``.
    """
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_KEY_CHARS:
        raise ValueError(f"an idempotency key has 1 to {MAX_KEY_CHARS} characters")


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


class Role(StrEnum):
    """What a principal may do; the API maps each route to the roles it admits."""

    ADMIN = "admin"
    OPERATOR = "operator"
    PROVIDER = "provider"
    CONSUMER = "consumer"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Principal:
    """A person or program that calls the control plane.

    Attributes:
        id: Principal id, unique across tenants.
        tenant: Tenant it acts for.
        roles: Its roles (at least one).
        node_ids: Nodes it may speak for (providers and agents); empty for none.
        agent_key_id: Id of the Ed25519 key an agent signs with, if it is an agent.
    """

    id: str
    tenant: str
    roles: frozenset[Role]
    node_ids: frozenset[str] = frozenset()
    agent_key_id: str | None = None

    def __post_init__(self) -> None:
        if not self.id or not self.tenant or not self.roles:
            raise ValueError("a principal has an id, a tenant and at least one role")
        if len(self.id) > MAX_KEY_CHARS or len(self.tenant) > MAX_KEY_CHARS:
            raise ValueError(f"principal id and tenant are at most {MAX_KEY_CHARS} characters")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A bearer token as issued: the only time its plaintext exists outside the caller.

    Attributes:
        token_id: Id to revoke it by (not secret).
        principal_id: Principal it authenticates.
        plaintext: The secret to hand to the user once; the store keeps only its hash.
    """

    token_id: str
    principal_id: str
    plaintext: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What the store knows of a token, never its secret (``token list``, refusal reasons).

    Attributes:
        token_id: Id to revoke it by.
        principal_id: Principal it authenticates.
        created_at_s: When it was issued, seconds since the epoch (None: before this was kept).
        expires_at_s: When it stops working, seconds since the epoch (None: never).
        revoked: Whether it was revoked.
    """

    token_id: str
    principal_id: str
    created_at_s: float | None
    expires_at_s: float | None
    revoked: bool

    def expired(self, now_s: float) -> bool:
        """Whether the token is past its expiry at ``now_s``."""
        return self.expires_at_s is not None and now_s >= self.expires_at_s


@runtime_checkable
class PrincipalStore(Protocol):
    """Principals and the bearer tokens that authenticate them.

    Contract:
        * Tokens are stored only as a hash: reading the store never yields a usable token.
        * ``authenticate`` answers None for unknown, malformed, revoked and expired tokens
          alike (``token_of`` tells them apart for a caller who holds the secret).
        * Writes are durable when they return; every method is thread-safe.
    """

    def add_principal(self, principal: Principal) -> None:
        """Store a new principal.

        Raises:
            PrincipalExistsError: the id is taken.
        """
        ...

    def get_principal(self, principal_id: str) -> Principal | None:
        """The principal with this id, or None."""
        ...

    def principals(self, tenant: str | None = None) -> builtins.list[Principal]:
        """Principals of ``tenant`` (all when None), ordered by id."""
        ...

    def create_token(self, principal_id: str, expires_at_s: float | None = None) -> IssuedToken:
        """Issue a new random token for a principal, valid until ``expires_at_s`` (None: ever).

        Raises:
            NotFoundError: no such principal.
        """
        ...

    def authenticate(self, plaintext: str) -> Principal | None:
        """The principal a live (not revoked, not expired) token belongs to, or None."""
        ...

    def token_of(self, plaintext: str) -> TokenInfo | None:
        """The record of the token with this secret, live or not; None when unknown."""
        ...

    def tokens(self, principal_id: str | None = None) -> builtins.list[TokenInfo]:
        """Tokens of ``principal_id`` (all when None), oldest first, then by id."""
        ...

    def revoke(self, token_id: str) -> bool:
        """Revoke a token for good; True if it was live, False if unknown or already revoked."""
        ...


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


@dataclass(frozen=True, slots=True)
class AgentKeyBinding:
    """An agent's Ed25519 key bound to the node it speaks for.

    Attributes:
        key_id: Id of the key (``security.key_id_of`` of ``public_key``).
        node_id: Node the key signs metric reports for.
        principal_id: Agent principal that bound it.
        public_key: The raw 32-byte public key.
        bound_at_s: When it was (last) bound, seconds since the epoch.
    """

    key_id: str
    node_id: str
    principal_id: str
    public_key: bytes
    bound_at_s: float


@dataclass(frozen=True, slots=True)
class ReportMark:
    """The newest signed report accepted from one agent key (what a restart must not re-accept).

    Attributes:
        key_id: The agent key.
        last_ts_s: Signed timestamp of that report, seconds since the epoch.
        last_nonce: Its nonce.
    """

    key_id: str
    last_ts_s: float
    last_nonce: str


@runtime_checkable
class AgentKeyStore(Protocol):
    """Agent key bindings and report marks, kept so that self-healing survives a restart.

    Contract:
        * Writes are durable when they return; every method is thread-safe (SQL adapters also
          across processes sharing one database).
        * A key has at most one binding: binding it again replaces the row (a newer node or
          time), so a retried enrolment is harmless.
        * ``bind`` with an audit event stores the binding and the entry in one transaction:
          after a crash both are there or neither is.
        * A mark only moves forward: ``save_marks`` keeps, per key, the later of the stored
          and the given ``last_ts_s``.
    """

    def bind(self, binding: AgentKeyBinding, audit: AuditEvent | None = None) -> None:
        """Store (or replace) the binding of ``binding.key_id``, with its audit entry if given.

        Raises:
            StoreUnavailableError: the database cannot be reached.
        """
        ...

    def bindings(self) -> builtins.list[AgentKeyBinding]:
        """Every binding, ordered by key id."""
        ...

    def unbind(self, key_id: str) -> bool:
        """Forget a binding and its mark; True when there was one."""
        ...

    def save_marks(self, marks: builtins.list[ReportMark]) -> None:
        """Store the marks in one transaction, each only where it is newer than the stored one."""
        ...

    def marks(self) -> dict[str, ReportMark]:
        """Every stored mark by key id."""
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
