"""The agent-key port: agents' Ed25519 key bindings and their report marks.

Kept so that self-healing and replay protection survive a restart (``stores`` re-exports all
of it).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from suanwang.control.audit import AuditEvent


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
