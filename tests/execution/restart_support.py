"""A ``LocalNet`` whose server can be killed and started again on the same port.

Agents keep the controller URL they were started with, so a restart on the same loopback port
is what a real restart looks like to them. The server is a real ``suanwang serve`` process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from suanwang.bootstrap.build import ensure_admin
from suanwang.bootstrap.settings import Settings
from suanwang.cli.localnet import LocalNet, free_port
from suanwang.storage import open_store


class RestartingNet:
    """A server process that can be SIGKILLed and restarted, and the agents of a ``LocalNet``.

    Args:
        data_dir: Database, logs, agents' keys.
        scenario: Scenario file or built-in name.
        settings: Extra ``SUANWANG_*`` settings of the server.
    """

    def __init__(self, data_dir: Path, scenario: str, settings: dict[str, str]) -> None:
        self.net = LocalNet(data_dir, scenario=scenario)
        self.settings = settings
        self.port = free_port()
        self.net.url = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen[bytes] | None = None
        data_dir.mkdir(parents=True, exist_ok=True)
        with open_store(Settings(data_dir=data_dir).resolved_database_url()) as stores:
            issued = ensure_admin(stores.principals, "operator")
            if issued is None:
                issued = stores.principals.create_token("admin")
            self.net.admin_token = issued.plaintext

    @property
    def database(self) -> Path:
        """The server's SQLite file."""
        return self.net.data_dir / "suanwang.db"

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the server on this net's port and wait until it answers ``/health``."""
        command = [sys.executable, "-m", "suanwang", "serve", "--port", str(self.port)]
        command += ["--data-dir", str(self.net.data_dir), "--scenario", self.net.scenario]
        env = {**os.environ, **{f"SUANWANG_{k.upper()}": v for k, v in self.settings.items()}}
        log = self.net.data_dir / "logs" / "server.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            self.server = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"the server exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.net.url}/health", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.05)
        raise TimeoutError("the server did not start in time")

    def kill(self) -> None:
        """SIGKILL the server: no shutdown code runs."""
        assert self.server is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.pid, signal.SIGKILL)
        self.server.wait(10)
        self.server = None

    def query(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        """Rows of a read-only query on the server's database."""
        with contextlib.closing(sqlite3.connect(self.database, timeout=10.0)) as connection:
            return connection.execute(sql, args).fetchall()

    def close(self) -> None:
        """Stop the agents and the server."""
        self.net.close()
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
            self.server = None
