"""Tables for one-time enrolment tokens and attestations of nodes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``enrol_tokens`` and ``attestations``."""
    op.create_table(
        "enrol_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(255), nullable=False),
        sa.Column("tenant", sa.String(255), nullable=False),
        sa.Column("created_at_s", sa.Float(), nullable=False),
        sa.Column("expires_at_s", sa.Float(), nullable=False),
        sa.Column("used_at_s", sa.Float(), nullable=True),
        sa.Column("used_by_key_id", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrol_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_enrol_tokens_token_hash")),
    )
    op.create_table(
        "attestations",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("node_id", sa.String(255), nullable=False),
        sa.Column("at_s", sa.Float(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("claimed_gflops", sa.Float(), nullable=False),
        sa.Column("measured_gflops", sa.Float(), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_attestations")),
    )
    op.create_index("ix_attestations_node_id_seq", "attestations", ["node_id", "seq"])


def downgrade() -> None:
    """Drop what ``upgrade`` created."""
    op.drop_index("ix_attestations_node_id_seq", table_name="attestations")
    op.drop_table("attestations")
    op.drop_table("enrol_tokens")
