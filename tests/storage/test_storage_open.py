"""``open_store``: URLs, the default SQLite file, migrations and unreachable databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from suanwang.control.stores import StoreUnavailableError
from suanwang.model import Task, TaskSpec
from suanwang.storage import DATABASE_URL_ENV, MEMORY_URL, open_store
from suanwang.storage.engine import MIGRATIONS_DIR, normalise_url
from suanwang.storage.memory import MemoryTaskStore
from suanwang.storage.tables import Base

# Tests that look into the database itself (the in-memory stores have none).
SQL_ONLY = pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)


def test_no_url_means_a_sqlite_file_under_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with open_store() as stores:
        stores.tasks.add(Task.submit("t1", TaskSpec(1.0), "acme", 1.0))
        assert stores.engine is not None
        with stores.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    assert (tmp_path / ".suanwang" / "suanwang.db").is_file()
    with open_store() as again:
        assert [t.id for t in again.tasks.non_terminal()] == ["t1"]


def test_the_environment_names_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, MEMORY_URL)
    with open_store() as stores:
        assert isinstance(stores.tasks, MemoryTaskStore)
        assert stores.url == MEMORY_URL


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u:p@db:5432/sw", "postgresql+psycopg"),
        ("postgres://u:p@db/sw", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db/sw", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_urls_get_the_installed_driver(given: str, driver: str) -> None:
    assert normalise_url(given).drivername == driver


def test_an_unreachable_server_is_reported_without_its_password() -> None:
    # Port 9 (discard) is closed on loopback here: the connection is refused at once.
    with pytest.raises(StoreUnavailableError, match="cannot open database") as caught:
        open_store("postgresql://suanwang:s3cret@127.0.0.1:9/suanwang?connect_timeout=5")
    assert "s3cret" not in str(caught.value)


@SQL_ONLY
def test_the_migrations_build_exactly_the_models(store_url: str) -> None:
    with open_store(store_url) as stores:
        assert stores.engine is not None
        with stores.engine.connect() as connection:
            context = MigrationContext.configure(connection)
            assert context.get_current_revision() == "0009"
            assert compare_metadata(context, Base.metadata) == []
            triggers = connection.execute(
                text("SELECT count(*) FROM information_schema.triggers")
                if connection.dialect.name == "postgresql"
                else text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")
            ).scalar()
            # UPDATE and DELETE (PostgreSQL lists TRUNCATE nowhere in information_schema).
            assert triggers == 2
    with open_store(store_url) as reopened:  # a second upgrade to the head changes nothing
        assert reopened.engine is not None


def test_the_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert list((MIGRATIONS_DIR / "versions").glob("0001_*.py"))
    assert list((MIGRATIONS_DIR / "versions").glob("0002_*.py"))
