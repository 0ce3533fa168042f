"""Enrolment tokens and attestations: the ``TrustStore`` adapters, in memory and in SQL.

The SQL ``redeem`` consumes the token with ``UPDATE ... WHERE used_at_s IS NULL AND
expires_at_s > now``: of concurrent redemptions exactly one sees a row changed, and the
principal, its token, the key binding and the audit rows are written in that same transaction.
"""

from __future__ import annotations

import builtins
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanwang.control.stores import (
    AgentKeyBinding,
    AgentKeyStore,
    AuditEvent,
    AuditLog,
    IssuedToken,
    Principal,
    PrincipalExistsError,
    PrincipalStore,
    Role,
)
from suanwang.control.trust import (
    Attestation,
    Enrolment,
    EnrolRefusal,
    EnrolRefusedError,
    IssuedEnrolToken,
    Verdict,
)
from suanwang.security.tokens import hash_token, new_token
from suanwang.storage.agents import SqlAgentKeyStore
from suanwang.storage.sql import _reachable
from suanwang.storage.tables import (
    AttestationRow,
    AuditRow,
    EnrolTokenRow,
    PrincipalRow,
    TokenRow,
)

ENROL_PREFIX = "swe_"
"""Prefix of enrolment tokens, so that people and scanners tell them from bearer tokens."""


def _new_enrol_token() -> tuple[str, str, str]:
    plaintext = ENROL_PREFIX + secrets.token_urlsafe(32)
    return secrets.token_hex(8), plaintext, hash_token(plaintext)


def enrolment_of(
    node_id: str, tenant: str, public_key: bytes, key_id: str, now_s: float
) -> tuple[Principal, AgentKeyBinding]:
    """The principal and key binding one enrolment makes (both adapters make the same)."""
    principal = Principal(
        f"agent-{node_id}-{key_id}"[:255],
        tenant,
        frozenset({Role.AGENT}),
        frozenset({node_id}),
        key_id,
    )
    return principal, AgentKeyBinding(key_id, node_id, principal.id, public_key, now_s)


def _refusal(
    node_id: str, stored_node: str | None, used: bool, expires_at_s: float, now_s: float
) -> EnrolRefusedError:
    if stored_node is None:
        return EnrolRefusedError(EnrolRefusal.UNKNOWN, "the enrolment token is unknown")
    if used:
        return EnrolRefusedError(EnrolRefusal.USED, "the enrolment token was already used")
    if now_s >= expires_at_s:
        return EnrolRefusedError(EnrolRefusal.EXPIRED, "the enrolment token has expired")
    return EnrolRefusedError(
        EnrolRefusal.OTHER_NODE, f"the enrolment token is for node {stored_node}, not {node_id}"
    )


def _audit(
    principal: Principal, binding: AgentKeyBinding, token_id: str, now_s: float
) -> list[AuditEvent]:
    target = f"node:{binding.node_id}"
    return [
        AuditEvent(principal.id, "agent.enrol", target, f"enrol token {token_id}", now_s),
        AuditEvent(principal.id, "agent.key", target, binding.key_id, now_s),
    ]


@dataclass(slots=True)
class _Enrol:
    node_id: str
    tenant: str
    expires_at_s: float
    used: bool = False


class MemoryTrustStore:
    """A ``TrustStore`` in dicts over the in-memory principal, key and audit stores.

    Args:
        principals: The principal store of the same stores.
        agents: The agent key store of the same stores.
        audit: The audit log of the same stores.
    """

    def __init__(self, principals: PrincipalStore, agents: AgentKeyStore, audit: AuditLog) -> None:
        self._lock = threading.Lock()
        self._principals, self._agents, self._audit = principals, agents, audit
        self._tokens: dict[str, tuple[str, _Enrol]] = {}  # by hash: (token id, token)
        self._attestations: list[Attestation] = []

    def create_enrol_token(
        self, node_id: str, tenant: str, expires_at_s: float, now_s: float
    ) -> IssuedEnrolToken:
        """See ``TrustStore.create_enrol_token``."""
        token_id, plaintext, token_hash = _new_enrol_token()
        with self._lock:
            self._tokens[token_hash] = (token_id, _Enrol(node_id, tenant, expires_at_s))
        return IssuedEnrolToken(token_id, node_id, tenant, plaintext, expires_at_s)

    def redeem(
        self, plaintext: str, node_id: str, public_key: bytes, key_id: str, now_s: float
    ) -> Enrolment:
        """See ``TrustStore.redeem`` (atomic under this store's lock)."""
        with self._lock:
            token_id, token = self._tokens.get(hash_token(plaintext), ("", None))
            if (
                token is None
                or token.used
                or now_s >= token.expires_at_s
                or (token.node_id != node_id)
            ):
                stored = None if token is None else token.node_id
                used = token is not None and token.used
                expires_s = 0.0 if token is None else token.expires_at_s
                raise _refusal(node_id, stored, used, expires_s, now_s)
            principal, binding = enrolment_of(node_id, token.tenant, public_key, key_id, now_s)
            self._principals.add_principal(principal)  # may refuse: the token stays unused
            token.used = True
            issued = self._principals.create_token(principal.id)
            enrol, bound = _audit(principal, binding, token_id, now_s)
            self._audit.append(enrol.who, enrol.action, enrol.target, enrol.detail, enrol.at_s)
            self._agents.bind(binding, bound)
        return Enrolment(principal, issued, binding)

    def add_attestation(self, attestation: Attestation, audit: AuditEvent) -> None:
        """See ``TrustStore.add_attestation``."""
        with self._lock:
            self._attestations.append(attestation)
            self._audit.append(audit.who, audit.action, audit.target, audit.detail, audit.at_s)

    def attestations(
        self, node_id: str | None = None, limit: int = 100
    ) -> builtins.list[Attestation]:
        """See ``TrustStore.attestations``."""
        with self._lock:
            found = [a for a in self._attestations if node_id is None or a.node_id == node_id]
        return found[::-1][:limit]


def _audit_row(event: AuditEvent) -> AuditRow:
    return AuditRow(
        at_s=event.at_s,
        who=event.who,
        action=event.action,
        target=event.target,
        detail=event.detail,
    )


class SqlTrustStore:
    """A ``TrustStore`` in the ``enrol_tokens`` and ``attestations`` tables.

    Args:
        engine: Engine on a database migrated to the head.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_enrol_token(
        self, node_id: str, tenant: str, expires_at_s: float, now_s: float
    ) -> IssuedEnrolToken:
        """See ``TrustStore.create_enrol_token``."""
        token_id, plaintext, token_hash = _new_enrol_token()
        row = EnrolTokenRow(
            id=token_id,
            token_hash=token_hash,
            node_id=node_id,
            tenant=tenant,
            created_at_s=now_s,
            expires_at_s=expires_at_s,
        )
        with _reachable(), Session(self._engine) as session, session.begin():
            session.add(row)
        return IssuedEnrolToken(token_id, node_id, tenant, plaintext, expires_at_s)

    def redeem(
        self, plaintext: str, node_id: str, public_key: bytes, key_id: str, now_s: float
    ) -> Enrolment:
        """See ``TrustStore.redeem``."""
        token_hash = hash_token(plaintext)
        consume = (
            update(EnrolTokenRow)
            .where(
                EnrolTokenRow.token_hash == token_hash,
                EnrolTokenRow.node_id == node_id,
                EnrolTokenRow.used_at_s.is_(None),
                EnrolTokenRow.expires_at_s > now_s,
            )
            .values(used_at_s=now_s, used_by_key_id=key_id)
            .returning(EnrolTokenRow.id, EnrolTokenRow.tenant)
        )
        try:
            with _reachable(), Session(self._engine) as session, session.begin():
                consumed = session.execute(consume).one_or_none()
                if consumed is None:
                    row = session.scalar(
                        select(EnrolTokenRow).where(EnrolTokenRow.token_hash == token_hash)
                    )
                    if row is None:
                        raise _refusal(node_id, None, False, 0.0, now_s)
                    raise _refusal(
                        node_id, row.node_id, row.used_at_s is not None, row.expires_at_s, now_s
                    )
                token_id, tenant = consumed
                principal, binding = enrolment_of(node_id, tenant, public_key, key_id, now_s)
                session.add(
                    PrincipalRow(
                        id=principal.id,
                        tenant=tenant,
                        roles=[Role.AGENT.value],
                        node_ids=[node_id],
                        agent_key_id=key_id,
                    )
                )
                bearer_id, bearer, bearer_hash = new_token()
                session.flush()  # the principal before its token (foreign key)
                session.add(
                    TokenRow(
                        id=bearer_id,
                        principal_id=principal.id,
                        token_hash=bearer_hash,
                        created_at_s=time.time(),
                        expires_at_s=None,
                    )
                )
                session.execute(SqlAgentKeyStore.upsert(self._engine, binding))
                session.add_all(_audit_row(e) for e in _audit(principal, binding, token_id, now_s))
        except IntegrityError:
            raise PrincipalExistsError(f"key {key_id} is enrolled already") from None
        return Enrolment(principal, IssuedToken(bearer_id, principal.id, bearer), binding)

    def add_attestation(self, attestation: Attestation, audit: AuditEvent) -> None:
        """See ``TrustStore.add_attestation``."""
        row = AttestationRow(
            node_id=attestation.node_id,
            at_s=attestation.at_s,
            seed=attestation.seed,
            size=attestation.size,
            claimed_gflops=attestation.claimed_gflops,
            measured_gflops=attestation.measured_gflops,
            verdict=attestation.verdict.value,
            reason=attestation.reason,
        )
        with _reachable(), Session(self._engine) as session, session.begin():
            session.add(row)
            session.add(_audit_row(audit))

    def attestations(
        self, node_id: str | None = None, limit: int = 100
    ) -> builtins.list[Attestation]:
        """See ``TrustStore.attestations``."""
        query = select(AttestationRow).order_by(AttestationRow.seq.desc()).limit(limit)
        if node_id is not None:
            query = query.where(AttestationRow.node_id == node_id)
        with _reachable(), Session(self._engine) as session:
            return [
                Attestation(
                    row.node_id,
                    row.at_s,
                    row.seed,
                    row.size,
                    row.claimed_gflops,
                    row.measured_gflops,
                    Verdict(row.verdict),
                    row.reason,
                )
                for row in session.scalars(query)
            ]
