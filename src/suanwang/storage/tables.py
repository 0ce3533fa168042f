"""The SQL schema as typed ORM models (SQLAlchemy 2); migrations in ``migrations/`` create it.

Tasks keep their spec, placement and history in JSON columns (plain ``JSON``, which PostgreSQL
stores as the text written, so floats read back bit for bit) and copy the fields that listings
filter on into indexed columns. Idempotency is a UNIQUE (tenant, idempotency_key) constraint, so
it holds across processes and crashes; rows without a key have NULL there, which both SQLite and
PostgreSQL treat as distinct.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so that later migrations can name what they alter on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite gives a rowid alias (and AUTOINCREMENT-free increasing ids) only to INTEGER PRIMARY KEY.
SeqType = BigInteger().with_variant(Integer(), "sqlite")

ID_CHARS = 255


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TaskRow(Base):
    """One task: its record as JSON plus the columns listings filter and order on."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("tenant", "idempotency_key", name="uq_tasks_tenant_idempotency_key"),
        Index("ix_tasks_tenant_seq", "tenant", "seq"),
        Index("ix_tasks_state_seq", "state", "seq"),
    )

    # Submission order: listings page on it and it never changes after insert.
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(ID_CHARS), unique=True)
    tenant: Mapped[str] = mapped_column(String(ID_CHARS))
    idempotency_key: Mapped[str | None] = mapped_column(String(ID_CHARS))
    state: Mapped[str] = mapped_column(String(16))
    task_type: Mapped[str | None] = mapped_column(String(ID_CHARS))
    submitted_at_s: Mapped[float] = mapped_column(Float)
    # Number of history steps: the optimistic-concurrency version of ``update``.
    version: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    placement: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class PrincipalRow(Base):
    """A principal; roles and bound nodes as sorted JSON lists."""

    __tablename__ = "principals"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(ID_CHARS), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    node_ids: Mapped[list[str]] = mapped_column(JSON)
    agent_key_id: Mapped[str | None] = mapped_column(String(ID_CHARS))


class TokenRow(Base):
    """A bearer token, kept only as the SHA-256 of its text (see ``security.tokens.hash_token``)."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # None: never expires.
    expires_at_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    # None: issued before the schema kept it.
    created_at_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class AgentKeyRow(Base):
    """An agent's signing key bound to its node, so that bindings survive a restart."""

    __tablename__ = "agent_keys"

    key_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(ID_CHARS), index=True)
    principal_id: Mapped[str] = mapped_column(String(ID_CHARS))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    bound_at_s: Mapped[float] = mapped_column(Float)


class ReportMarkRow(Base):
    """The newest signed report accepted per agent key: replays stay refused after a restart."""

    __tablename__ = "report_marks"

    key_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    last_ts_s: Mapped[float] = mapped_column(Float)
    last_nonce: Mapped[str] = mapped_column(String(ID_CHARS))


class AuditRow(Base):
    """One audit entry; triggers installed by the migration refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    at_s: Mapped[float] = mapped_column(Float, index=True)
    who: Mapped[str] = mapped_column(String(ID_CHARS))
    action: Mapped[str] = mapped_column(String(ID_CHARS))
    target: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)


class LedgerLeafRow(Base):
    """One leaf of the audit ledger's Merkle log: the audit entry it records and its hash."""

    __tablename__ = "ledger_leaves"

    idx: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerNodeRow(Base):
    """The hash of a complete subtree ``(level, idx)`` of the ledger (level >= 1)."""

    __tablename__ = "ledger_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerHeadRow(Base):
    """A signed tree head of the ledger."""

    __tablename__ = "ledger_heads"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[str] = mapped_column(String(ID_CHARS))
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class EnrolTokenRow(Base):
    """A one-time enrolment token for one node, kept only as the SHA-256 of its text."""

    __tablename__ = "enrol_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    node_id: Mapped[str] = mapped_column(String(ID_CHARS))
    tenant: Mapped[str] = mapped_column(String(ID_CHARS))
    created_at_s: Mapped[float] = mapped_column(Float)
    expires_at_s: Mapped[float] = mapped_column(Float)
    # None until redeemed; then when, and the key it enrolled.
    used_at_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    used_by_key_id: Mapped[str | None] = mapped_column(String(ID_CHARS), nullable=True)


class AttestationRow(Base):
    """One answered attestation challenge and its verdict."""

    __tablename__ = "attestations"
    __table_args__ = (Index("ix_attestations_node_id_seq", "node_id", "seq"),)

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    node_id: Mapped[str] = mapped_column(String(ID_CHARS))
    at_s: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(Integer)
    claimed_gflops: Mapped[float] = mapped_column(Float)
    measured_gflops: Mapped[float] = mapped_column(Float)
    verdict: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)


class TopologyChangeRow(Base):
    """One runtime change of the live topology; its version is the primary key (no gaps)."""

    __tablename__ = "topology_changes"

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(ID_CHARS))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    who: Mapped[str] = mapped_column(String(ID_CHARS))
    at_s: Mapped[float] = mapped_column(Float)
