"""Alembic environment: runs the migrations on the engine ``storage.engine.upgrade`` passes.

Run by hand (``alembic -x url=...``) it builds its own engine from ``-x url``, the
``sqlalchemy.url`` option or ``SUANWANG_DATABASE_URL``, so that developers can write new
revisions with ``alembic revision --autogenerate`` against ``suanwang.storage.tables``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Engine, text

from suanwang.storage import intents, market_tables  # noqa: F401  (their models join Base.metadata)
from suanwang.storage.engine import make_engine
from suanwang.storage.tables import Base

# Any fixed number: two processes opening a fresh PostgreSQL database at once would otherwise
# both try to create the tables; the lock makes the second wait and then find them there.
_MIGRATION_LOCK_KEY = 0x5157_414E  # "SQWAN"


def _engine() -> Engine:
    given = context.config.attributes.get("engine")
    if isinstance(given, Engine):
        return given
    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or context.config.get_main_option("sqlalchemy.url")
        or os.environ.get("SUANWANG_DATABASE_URL")
    )
    if not url:
        raise RuntimeError("no database: pass -x url=... or set SUANWANG_DATABASE_URL")
    return make_engine(url)


def run_migrations() -> None:
    """Apply the pending revisions in one transaction."""
    engine = _engine()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            # SQLite alters tables by copying them; batch mode makes later revisions portable.
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
