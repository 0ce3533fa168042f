"""Tables for the tamper-evident ledger (Merkle log leaves, subtree hashes, signed tree heads).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the tables (filled in by the change that adds them)."""


def downgrade() -> None:
    """Drop what upgrade created."""
