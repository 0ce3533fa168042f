"""Fixtures of the service tests: the storage tests' PostgreSQL server, for the plane over SQL."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "storage_fixtures", Path(__file__).parent.parent / "storage" / "conftest.py"
)
assert _spec is not None
assert _spec.loader is not None
_storage = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_storage)

postgres_server = _storage.postgres_server
postgres_url = _storage.postgres_url
