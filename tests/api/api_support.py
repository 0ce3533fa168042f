"""What the API tests share: an app on a SQLite file with one principal per role and tenant,
and a real server process.

Principals (id: tenant, roles):
    admin: operator, admin             ops: operator, operator
    alice: acme, consumer              bob: globex, consumer
    prov: acme-compute, provider (speaks for PROVIDER_NODE)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note on httpx
    from fastapi.testclient import TestClient

from suanwang.bootstrap import Settings
from suanwang.control.stores import Principal, Role
from suanwang.storage import open_store

PROVIDER_NODE = "edge-futian-mec-1"
INGRESS = "term-futian"
CPU_TASK = {"work_gflop": 5.0, "cpu_cores": 1.0, "mem_gib": 0.5, "ingress_site": INGRESS}

PRINCIPALS = [
    Principal("admin", "operator", frozenset({Role.ADMIN})),
    Principal("ops", "operator", frozenset({Role.OPERATOR})),
    Principal("alice", "acme", frozenset({Role.CONSUMER})),
    Principal("bob", "globex", frozenset({Role.CONSUMER})),
    Principal("prov", "acme-compute", frozenset({Role.PROVIDER}), frozenset({PROVIDER_NODE})),
]


@dataclass
class Api:
    """A running app, its client and a token per principal."""

    client: TestClient
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def call(self, who: str | None, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**(self.auth(who) if who else {}), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def submit(self, who: str, body: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        response = self.call(who, "POST", "/v1/tasks", json=body or CPU_TASK, **kwargs)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def add_principal(self, principal: Principal) -> str:
        with open_store(self.settings.resolved_database_url()) as stores:
            stores.principals.add_principal(principal)
            token = stores.principals.create_token(principal.id).plaintext
        self.tokens[principal.id] = token
        return token


# The API tests place work on metro-edge's nodes, which have no agents: they stand in as
# capacity (a served network with ``require_agent`` on places nothing there).
SIMULATED_CAPACITY = {"require_agent": False}


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    fields = {**SIMULATED_CAPACITY, **overrides}
    return Settings(data_dir=tmp_path / "data", token_cache_s=0.0, tune_gc=False, **fields)


def seed_principals(settings: Settings) -> dict[str, str]:
    tokens = {}
    with open_store(settings.resolved_database_url()) as stores:
        for principal in PRINCIPALS:
            stores.principals.add_principal(principal)
            tokens[principal.id] = stores.principals.create_token(principal.id).plaintext
    return tokens


class Server:
    """``suanwang serve`` in a child process on a free loopback port (a real uvicorn)."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.data_dir, self.log = data_dir, log
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.args: list[str] = []  # further options of ``suanwang serve``
        self.env = {"SUANWANG_REQUIRE_AGENT": "false"}  # as make_settings: agentless capacity

    def start(self, timeout_s: float = 60.0) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "suanwang", "serve", "--port", str(port)]
        command += ["--data-dir", str(self.data_dir), *self.args]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise TimeoutError(f"the server did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
