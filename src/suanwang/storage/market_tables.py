"""The market's SQL tables (migration 0006): offers and their nodes, leases, money, usage.

Money is kept in whole cents (``BigInteger``), never in a floating or driver-dependent decimal
column, so amounts read back exact on SQLite and PostgreSQL alike. A node's row carries the
lease that binds it; leasing is ``UPDATE ... WHERE lease_id IS NULL``, so two buyers can never
bind one node. Usage events have their idempotency key as primary key: exactly once per key
across processes and crashes.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from suanwang.storage.tables import ID_CHARS, Base


class MarketOfferRow(Base):
    """A listed offer; its nodes are ``MarketNodeRow``s."""

    __tablename__ = "market_offers"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    offer_id: Mapped[str] = mapped_column(String(ID_CHARS), unique=True)
    provider: Mapped[str] = mapped_column(String(ID_CHARS))
    unit: Mapped[str] = mapped_column(String(ID_CHARS))
    units: Mapped[int] = mapped_column(Integer)
    price_cents: Mapped[int] = mapped_column(BigInteger)
    region: Mapped[str] = mapped_column(String(ID_CHARS))
    trust: Mapped[int] = mapped_column(Integer)
    rental: Mapped[str] = mapped_column(String(16))
    node_ids: Mapped[list[str]] = mapped_column(JSON)
    listed_s: Mapped[float] = mapped_column(Float)


class MarketNodeRow(Base):
    """A node for sale, and the lease that binds it now (NULL: free)."""

    __tablename__ = "market_nodes"

    node_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    offer_id: Mapped[str] = mapped_column(String(ID_CHARS), index=True)
    lease_id: Mapped[str | None] = mapped_column(String(ID_CHARS))


class MarketLeaseRow(Base):
    """A lease with the funds still held for it."""

    __tablename__ = "market_leases"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lease_id: Mapped[str] = mapped_column(String(ID_CHARS), unique=True)
    tenant: Mapped[str] = mapped_column(String(ID_CHARS), index=True)
    provider: Mapped[str] = mapped_column(String(ID_CHARS))
    offer_id: Mapped[str] = mapped_column(String(ID_CHARS))
    units: Mapped[int] = mapped_column(Integer)
    price_cents: Mapped[int] = mapped_column(BigInteger)
    rental: Mapped[str] = mapped_column(String(16))
    node_ids: Mapped[list[str]] = mapped_column(JSON)
    started_s: Mapped[float] = mapped_column(Float)
    ended_s: Mapped[float | None] = mapped_column(Float)
    end_reason: Mapped[str | None] = mapped_column(String(1000))
    held_cents: Mapped[int] = mapped_column(BigInteger)


class MarketAccountRow(Base):
    """A balance in cents: ``tenant:<id>``, ``provider:<id>`` (payouts) or ``platform`` (fees)."""

    __tablename__ = "market_accounts"

    owner: Mapped[str] = mapped_column(String(ID_CHARS + 16), primary_key=True)
    cents: Mapped[int] = mapped_column(BigInteger)


class MarketSettlementRow(Base):
    """One settled period of a lease: at most one per (lease, period)."""

    __tablename__ = "market_settlements"

    lease_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    period: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    charge_cents: Mapped[int] = mapped_column(BigInteger)
    payout_cents: Mapped[int] = mapped_column(BigInteger)
    fee_cents: Mapped[int] = mapped_column(BigInteger)


class UsageEventRow(Base):
    """A metered usage event, under its idempotency key, in the period it was billed to."""

    __tablename__ = "usage_events"
    __table_args__ = (
        Index("ix_usage_events_period_tenant", "period", "tenant"),
        Index("ux_usage_events_seq", "seq", unique=True),
    )

    key: Mapped[str] = mapped_column(String(2 * ID_CHARS), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(ID_CHARS))
    tenant: Mapped[str] = mapped_column(String(ID_CHARS))
    provider: Mapped[str] = mapped_column(String(ID_CHARS))
    dimension: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[float] = mapped_column(Float)
    ended_s: Mapped[float] = mapped_column(Float)
    sla_met: Mapped[bool] = mapped_column(Boolean)
    period: Mapped[int] = mapped_column(BigInteger)
    late: Mapped[bool] = mapped_column(Boolean)
    seq: Mapped[int] = mapped_column(BigInteger)
    """Order stored, from 1: what the events feed pages by (``MarketStore.usage_after``)."""


class MarketPeriodRow(Base):
    """A closed billing period."""

    __tablename__ = "market_periods"

    period: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
