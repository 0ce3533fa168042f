"""``open_store``: one URL to a ready set of stores, migrated to the current schema.

``Stores``, the bundle it returns, is the ports' (``control.stores``); it is re-exported here
for the adapters' own use.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.exc import InterfaceError, OperationalError

from suanwang.control.stores import Stores, StoreUnavailableError
from suanwang.storage.agents import MemoryAgentKeyStore, SqlAgentKeyStore
from suanwang.storage.changes import MemoryTopologyChangeStore, SqlTopologyChangeStore
from suanwang.storage.engine import make_engine, normalise_url, upgrade
from suanwang.storage.intents import MemoryIntentStore, SqlIntentStore
from suanwang.storage.ledger import MemoryLedgerStore, SqlLedgerStore
from suanwang.storage.memory import MemoryAuditLog, MemoryPrincipalStore, MemoryTaskStore
from suanwang.storage.sql import SqlAuditLog, SqlTaskStore
from suanwang.storage.sql_principals import SqlPrincipalStore
from suanwang.storage.trust import MemoryTrustStore, SqlTrustStore

DATABASE_URL_ENV = "SUANWANG_DATABASE_URL"
"""Environment variable naming the database when ``open_store`` is given no URL."""

MEMORY_URL = "memory://"
"""URL of the in-memory stores (nothing survives the process)."""

DEFAULT_DB_PATH = Path(".suanwang") / "suanwang.db"
"""SQLite file used when neither a URL nor the environment names a database (under the cwd)."""


def default_url() -> str:
    """The SQLite URL of ``./.suanwang/suanwang.db`` (absolute, so a later chdir is harmless)."""
    return f"sqlite:///{(Path.cwd() / DEFAULT_DB_PATH).as_posix()}"


def open_store(url: str | None = None) -> Stores:
    """Open the stores at ``url``, creating or migrating the schema to the head first.

    Args:
        url: ``memory://``; ``sqlite:///PATH`` (parent folders are created); or
            ``postgresql://USER:PASSWORD@HOST:PORT/DB`` (run through psycopg 3). None means
            ``$SUANWANG_DATABASE_URL`` if set, else the SQLite file ``./.suanwang/suanwang.db``.

    Raises:
        StoreUnavailableError: the database cannot be reached or migrated.
        sqlalchemy.exc.ArgumentError: the URL cannot be parsed.
    """
    url = url or os.environ.get(DATABASE_URL_ENV) or default_url()
    if url == MEMORY_URL:
        audit = MemoryAuditLog()
        agents = MemoryAgentKeyStore(audit)
        principals = MemoryPrincipalStore()
        return Stores(
            MemoryTaskStore(),
            principals,
            audit,
            agents,
            MEMORY_URL,
            ledger=MemoryLedgerStore(),
            trust=MemoryTrustStore(principals, agents, audit),
            topology=MemoryTopologyChangeStore(audit),
            intents=MemoryIntentStore(),
        )
    shown = normalise_url(url).render_as_string(hide_password=True)
    engine = make_engine(url)
    try:
        upgrade(engine)
    except (OperationalError, InterfaceError) as exc:
        engine.dispose()
        raise StoreUnavailableError(f"cannot open database {shown}: {exc.orig}") from exc
    return Stores(
        SqlTaskStore(engine),
        SqlPrincipalStore(engine),
        SqlAuditLog(engine),
        SqlAgentKeyStore(engine),
        shown,
        engine,
        SqlLedgerStore(engine),
        SqlTrustStore(engine),
        SqlTopologyChangeStore(engine),
        SqlIntentStore(engine),
    )
