"""Durable storage of the control plane: tasks, principals with their tokens, the audit log.

Adapters of the store ports in ``suanwang.control.stores``: in memory (``memory``) and SQL
(``sql``: SQLite by default, PostgreSQL through psycopg 3), with the schema kept by Alembic
migrations shipped in ``migrations/``. ``open_store(url)`` is the one entry point the
composition root needs.
"""

from suanwang.control.stores import Stores
from suanwang.storage.factory import (
    DATABASE_URL_ENV,
    DEFAULT_DB_PATH,
    MEMORY_URL,
    default_url,
    open_store,
)
from suanwang.storage.memory import MemoryAuditLog, MemoryPrincipalStore, MemoryTaskStore
from suanwang.storage.sql import SqlAuditLog, SqlTaskStore
from suanwang.storage.sql_principals import SqlPrincipalStore

__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_DB_PATH",
    "MEMORY_URL",
    "MemoryAuditLog",
    "MemoryPrincipalStore",
    "MemoryTaskStore",
    "SqlAuditLog",
    "SqlPrincipalStore",
    "SqlTaskStore",
    "Stores",
    "default_url",
    "open_store",
]
