"""Agent key bindings and report marks that survive a restart; token expiry and issue time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(255)


def upgrade() -> None:
    """Add ``agent_keys``, ``report_marks``, ``tokens.expires_at_s`` and ``created_at_s``."""
    op.create_table(
        "agent_keys",
        sa.Column("key_id", _ID, nullable=False),
        sa.Column("node_id", _ID, nullable=False),
        sa.Column("principal_id", _ID, nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("bound_at_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_agent_keys")),
    )
    op.create_index(op.f("ix_agent_keys_node_id"), "agent_keys", ["node_id"])
    op.create_table(
        "report_marks",
        sa.Column("key_id", _ID, nullable=False),
        sa.Column("last_ts_s", sa.Float(), nullable=False),
        sa.Column("last_nonce", _ID, nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_report_marks")),
    )
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("expires_at_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("created_at_s", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("created_at_s")
        batch.drop_column("expires_at_s")
    op.drop_table("report_marks")
    op.drop_index(op.f("ix_agent_keys_node_id"), table_name="agent_keys")
    op.drop_table("agent_keys")
