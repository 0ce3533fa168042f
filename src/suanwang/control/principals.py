"""The principal port: who may call the control plane, and the bearer tokens that say so.

``Principal`` and ``Role`` are what the API authorises against; ``PrincipalStore`` keeps them
with tokens stored only as a hash (``stores`` re-exports all of it).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from suanwang.control.store_errors import MAX_KEY_CHARS


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
