"""Database engines: URL handling, SQLite settings for durability, and migrations to the head.

SQLite runs in WAL mode with ``synchronous=FULL``: every commit is fsynced to the WAL before it
returns, so a task the API acknowledged survives a process crash *and* a power loss. (WAL with
``synchronous=NORMAL`` would survive a process crash but could lose the last commits on power
loss, which breaks "committed before 2xx".) PostgreSQL is reached through psycopg 3 with its
server defaults (``synchronous_commit=on``), which give the same guarantee.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
"""Alembic scripts shipped inside the package (``env.py`` and ``versions/``)."""

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another connection's write lock before failing."""


def normalise_url(url: str) -> URL:
    """A database URL with the driver this package installs.

    ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://`` (psycopg 3), since
    SQLAlchemy would otherwise reach for psycopg2, which is not a dependency.

    Raises:
        sqlalchemy.exc.ArgumentError: the URL cannot be parsed.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers run while one writer commits; FULL fsyncs each commit (see above).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the settings the stores rely on (no migration run).

    For a SQLite file the parent folder is created. ``pool_pre_ping`` replaces connections a
    restarted PostgreSQL server dropped instead of failing the next request.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic configuration built in code (no ``alembic.ini`` needed at run time).

    Args:
        engine: Engine the migrations run on; stored in ``config.attributes`` for ``env.py``.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` (a no-op when already there)."""
    command.upgrade(alembic_config(engine), revision)
