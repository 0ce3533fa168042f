"""Fixtures of the storage tests: every store contract runs on memory, SQLite and PostgreSQL.

PostgreSQL is a real server from Debian's ``postgresql`` package, started once per session in a
temporary folder on a free loopback port (``initdb`` + ``pg_ctl``; as the ``postgres`` user when
the tests run as root, since the server refuses to run as root). Each test gets a fresh database
on it. Without the binaries the PostgreSQL cases skip, or fail when ``SUANWANG_REQUIRE_POSTGRES=1``
(``make test`` sets it, after ``make deps-debian`` installed the package).
``SUANWANG_TEST_DATABASE_URL`` points the tests at an existing server instead.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from suanwang.storage import Stores, open_store

ADAPTERS = ["memory", "sqlite", "postgresql"]

PG_START_TIMEOUT_S = 60
_database_numbers = itertools.count(1)


def _postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries folder on this machine, if any."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _no_postgres(reason: str) -> None:
    if os.environ.get("SUANWANG_REQUIRE_POSTGRES") == "1":
        pytest.fail(
            f"PostgreSQL is required (SUANWANG_REQUIRE_POSTGRES=1) but {reason}; "
            "run `make deps-debian` (apt-get install postgresql) first",
            pytrace=False,
        )
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL (``postgresql+psycopg://...``) of the maintenance database of a test server."""
    external = os.environ.get("SUANWANG_TEST_DATABASE_URL")
    if external:
        yield external
        return
    bindir = _postgres_bin()
    if bindir is None:
        _no_postgres("no initdb under /usr/lib/postgresql/*/bin or on PATH")
        return
    as_user: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="suanwang-pg-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _no_postgres("running as root and there is no 'postgres' user to run the server as")
            return
        os.chown(workdir, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = workdir / "data", workdir / "server.log"
    port = _free_port()

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120)

    try:
        # Trust auth and fsync=off are for this throwaway loopback cluster only.
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-t",
            str(PG_START_TIMEOUT_S),
            "-o",
            options,
            "start",
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = log.read_text() if log.exists() else ""
        shutil.rmtree(workdir, ignore_errors=True)
        stderr = getattr(exc, "stderr", b"") or b""
        pytest.fail(f"PostgreSQL did not start: {exc}\n{stderr.decode()}\n{detail}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=120,
            check=False,
        )
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """URL of a fresh, empty database on the test server."""
    name = f"suanwang_t{os.getpid()}_{next(_database_numbers)}"
    server = make_url(postgres_server)
    conninfo = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=ADAPTERS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of empty stores of each adapter kind."""
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'stores.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def open_stores(store_url: str) -> Iterator[Callable[[], Stores]]:
    """Opens the stores at ``store_url``; a second call is a restart (memory: the same stores)."""
    opened: list[Stores] = []

    def opener() -> Stores:
        if store_url == "memory://" and opened:
            return opened[0]
        opened.append(open_store(store_url))
        return opened[-1]

    yield opener
    for stores in opened:
        stores.close()


@pytest.fixture
def stores(open_stores: Callable[[], Stores]) -> Stores:
    """Empty stores of each adapter kind."""
    return open_stores()
