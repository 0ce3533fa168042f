"""The fork's prediction stored with each applied intent.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``intents.prediction`` (null for intents applied before)."""
    with op.batch_alter_table("intents") as batch:
        batch.add_column(sa.Column("prediction", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    with op.batch_alter_table("intents") as batch:
        batch.drop_column("prediction")
