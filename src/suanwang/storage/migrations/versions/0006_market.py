"""The market's tables: offers, nodes for sale, leases, accounts, settlements, usage, periods.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = 255


def upgrade() -> None:
    """Create the market's tables."""
    op.create_table(
        "market_offers",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("offer_id", sa.String(_ID), nullable=False),
        sa.Column("provider", sa.String(_ID), nullable=False),
        sa.Column("unit", sa.String(_ID), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("region", sa.String(_ID), nullable=False),
        sa.Column("trust", sa.Integer(), nullable=False),
        sa.Column("rental", sa.String(16), nullable=False),
        sa.Column("node_ids", sa.JSON(), nullable=False),
        sa.Column("listed_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_market_offers")),
        sa.UniqueConstraint("offer_id", name=op.f("uq_market_offers_offer_id")),
    )
    op.create_table(
        "market_nodes",
        sa.Column("node_id", sa.String(_ID), nullable=False),
        sa.Column("offer_id", sa.String(_ID), nullable=False),
        sa.Column("lease_id", sa.String(_ID), nullable=True),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_market_nodes")),
    )
    op.create_index(op.f("ix_market_nodes_offer_id"), "market_nodes", ["offer_id"])
    op.create_table(
        "market_leases",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lease_id", sa.String(_ID), nullable=False),
        sa.Column("tenant", sa.String(_ID), nullable=False),
        sa.Column("provider", sa.String(_ID), nullable=False),
        sa.Column("offer_id", sa.String(_ID), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("rental", sa.String(16), nullable=False),
        sa.Column("node_ids", sa.JSON(), nullable=False),
        sa.Column("started_s", sa.Float(), nullable=False),
        sa.Column("ended_s", sa.Float(), nullable=True),
        sa.Column("end_reason", sa.String(1000), nullable=True),
        sa.Column("held_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_market_leases")),
        sa.UniqueConstraint("lease_id", name=op.f("uq_market_leases_lease_id")),
    )
    op.create_index(op.f("ix_market_leases_tenant"), "market_leases", ["tenant"])
    op.create_table(
        "market_accounts",
        sa.Column("owner", sa.String(_ID + 16), nullable=False),
        sa.Column("cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_market_accounts")),
    )
    op.create_table(
        "market_settlements",
        sa.Column("lease_id", sa.String(_ID), nullable=False),
        sa.Column("period", sa.BigInteger(), nullable=False),
        sa.Column("charge_cents", sa.BigInteger(), nullable=False),
        sa.Column("payout_cents", sa.BigInteger(), nullable=False),
        sa.Column("fee_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("lease_id", "period", name=op.f("pk_market_settlements")),
    )
    op.create_table(
        "usage_events",
        sa.Column("key", sa.String(2 * _ID), nullable=False),
        sa.Column("run_id", sa.String(_ID), nullable=False),
        sa.Column("tenant", sa.String(_ID), nullable=False),
        sa.Column("provider", sa.String(_ID), nullable=False),
        sa.Column("dimension", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("ended_s", sa.Float(), nullable=False),
        sa.Column("sla_met", sa.Boolean(), nullable=False),
        sa.Column("period", sa.BigInteger(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_usage_events")),
    )
    op.create_index("ix_usage_events_period_tenant", "usage_events", ["period", "tenant"])
    op.create_table(
        "market_periods",
        sa.Column("period", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_market_periods")),
    )


def downgrade() -> None:
    """Drop what ``upgrade`` created."""
    for table in (
        "market_periods",
        "usage_events",
        "market_settlements",
        "market_accounts",
        "market_leases",
        "market_nodes",
        "market_offers",
    ):
        op.drop_table(table)
