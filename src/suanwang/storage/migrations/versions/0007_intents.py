"""The table of applied intents.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``intents``."""
    op.create_table(
        "intents",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("tenant", sa.String(255), nullable=False),
        sa.Column("who", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("task_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("created_at_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intents")),
    )
    op.create_index(op.f("ix_intents_tenant"), "intents", ["tenant"])
    op.create_index(op.f("ix_intents_created_at_s"), "intents", ["created_at_s"])


def downgrade() -> None:
    """Drop what ``upgrade`` created."""
    op.drop_index(op.f("ix_intents_created_at_s"), table_name="intents")
    op.drop_index(op.f("ix_intents_tenant"), table_name="intents")
    op.drop_table("intents")
