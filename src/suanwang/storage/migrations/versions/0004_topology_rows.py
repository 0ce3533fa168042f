"""Tables for the live topology kept as rows (sites, nodes, links, services), versioned.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the tables (filled in by the change that adds them)."""


def downgrade() -> None:
    """Drop what upgrade created."""
