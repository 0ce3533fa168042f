"""Fixtures of the command-line tests: a real ``suanwang serve`` on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data = tmp_path_factory.mktemp("cli") / "data"
    url = f"http://127.0.0.1:{_free_port()}"
    command = [sys.executable, "-m", "suanwang", "serve", "--port", url.rsplit(":", 1)[1]]
    # metro-edge's nodes have no agents: they stand in as capacity (require_agent off)
    env = {**os.environ, "SUANWANG_TOKEN_CACHE_S": "0", "SUANWANG_REQUIRE_AGENT": "false"}
    log = data.parent / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--data-dir", str(data)], stdout=out, stderr=out, env=env
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(log.read_text())
        yield url, data
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
