"""The trust port: one-time enrolment tokens and the attestations that earn or lose a node's trust.

A provider's machine joins with an enrolment token an admin made for one node: redeeming it
creates the agent's principal and bearer token and binds its key, all in one transaction with
the token's consumption and the audit entries, so that a token works once and a crash leaves
either a whole enrolment or none. Attestations (a challenge's seeded matrix product, checked by
the control plane) are kept with their verdict, and written to the audit log in the same
transaction, so that they are checkpointed into the ledger.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from suanwang.control.stores import (
    AgentKeyBinding,
    AuditEvent,
    IssuedToken,
    Principal,
    StoreError,
)


class EnrolRefusal(StrEnum):
    """Why an enrolment token was refused."""

    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    OTHER_NODE = "other-node"


class EnrolRefusedError(StoreError):
    """An enrolment token cannot be redeemed; ``reason`` says why.

    Args:
        reason: The refusal's kind.
        detail: One line for people.
    """

    def __init__(self, reason: EnrolRefusal, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IssuedEnrolToken:
    """An enrolment token as issued: the only time its plaintext exists outside the caller.

    Attributes:
        token_id: Id of the token (not secret).
        node_id: The one node it enrols.
        tenant: Tenant of the agent principal it creates.
        plaintext: The secret, handed to the provider once; the store keeps only its hash.
        expires_at_s: When it stops working, seconds since the epoch.
    """

    token_id: str
    node_id: str
    tenant: str
    plaintext: str
    expires_at_s: float


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What one redeemed enrolment token made (all of it committed together).

    Attributes:
        principal: The agent principal, bound to the node and the key.
        token: Its bearer token (plaintext: the agent's credential, shown once).
        binding: The key binding.
    """

    principal: Principal
    token: IssuedToken
    binding: AgentKeyBinding


class Verdict(StrEnum):
    """The outcome of one attestation."""

    CONSISTENT = "consistent"
    WRONG_RESULT = "wrong-result"
    INFLATED = "inflated"


@dataclass(frozen=True, slots=True)
class Attestation:
    """One answered challenge and what the control plane made of it.

    Attributes:
        node_id: The node attested.
        at_s: When the answer was checked, seconds since the epoch.
        seed: The challenge's seed (both matrices derive from it).
        size: Side of the square matrices multiplied.
        claimed_gflops: The node's declared fp64 peak in the topology, GFLOP/s.
        measured_gflops: The rate the agent measured for the product, GFLOP/s.
        verdict: Consistent, a wrong result, or an inflated claim.
        reason: Why, in words.
    """

    node_id: str
    at_s: float
    seed: int
    size: int
    claimed_gflops: float
    measured_gflops: float
    verdict: Verdict
    reason: str


@runtime_checkable
class TrustStore(Protocol):
    """Enrolment tokens (hashed, single use, expiring) and attestations.

    Contract:
        * Enrolment tokens are stored only as a hash; reading the store never yields one.
        * ``redeem`` is atomic: the token's consumption, the principal, its bearer token, the
          key binding and the audit entries commit together or not at all, and of concurrent
          redemptions of one token (threads or processes) exactly one succeeds.
        * ``add_attestation`` stores the attestation and its audit entry in one transaction.
        * Writes are durable when they return; every method is thread-safe.
    """

    def create_enrol_token(
        self, node_id: str, tenant: str, expires_at_s: float, now_s: float
    ) -> IssuedEnrolToken:
        """Issue a token that enrols one agent for ``node_id`` until ``expires_at_s``."""
        ...

    def redeem(
        self, plaintext: str, node_id: str, public_key: bytes, key_id: str, now_s: float
    ) -> Enrolment:
        """Consume the token and enrol the agent whose key this is (see the contract).

        The principal is ``agent-<node>-<key id>`` of the token's tenant, role ``agent``.

        Raises:
            EnrolRefusedError: the token is unknown, already used, expired, or for another
                node; nothing is written.
            PrincipalExistsError: this key was enrolled before (nothing is written).
            StoreUnavailableError: the database cannot be reached.
        """
        ...

    def add_attestation(self, attestation: Attestation, audit: AuditEvent) -> None:
        """Store an attestation with its audit entry (one transaction)."""
        ...

    def attestations(
        self, node_id: str | None = None, limit: int = 100
    ) -> builtins.list[Attestation]:
        """The latest attestations (of ``node_id``, or all), newest first, at most ``limit``."""
        ...
