"""Usage events numbered in the order stored, for the events feed and the metrics to page by.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 1000
"""Rows numbered per statement batch when upgrading a database that holds usage."""


def upgrade() -> None:
    """Add ``usage_events.seq``: events already stored are numbered in (ended_s, key) order."""
    with op.batch_alter_table("usage_events") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    events = sa.table("usage_events", sa.column("key", sa.String()), sa.column("seq"))
    keys = [
        row[0]
        for row in bind.execute(sa.text("SELECT key FROM usage_events ORDER BY ended_s, key"))
    ]
    update = (
        sa.update(events).where(events.c.key == sa.bindparam("k")).values(seq=sa.bindparam("s"))
    )
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        bind.execute(update, [{"k": key, "s": start + i + 1} for i, key in enumerate(chunk)])
    with op.batch_alter_table("usage_events") as batch:
        batch.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch.create_index("ux_usage_events_seq", ["seq"], unique=True)


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_index("ux_usage_events_seq")
        batch.drop_column("seq")
