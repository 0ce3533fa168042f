"""Fixtures of the service tests: stores on a SQLite file, and the storage tests' PostgreSQL
server for the plane over SQL."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from suanwang.storage import Stores, open_store

_spec = importlib.util.spec_from_file_location(
    "storage_fixtures", Path(__file__).parent.parent / "storage" / "conftest.py"
)
assert _spec is not None
assert _spec.loader is not None
_storage = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_storage)

postgres_server = _storage.postgres_server
postgres_url = _storage.postgres_url


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    """Stores on a SQLite file of the test's own."""
    with open_store(f"sqlite:///{tmp_path / 'plane.db'}") as opened:
        yield opened
