"""`suanwang serve --log-format json`: every line the server writes is one JSON object."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_server_with_json_logs_writes_only_json_lines(tmp_path: Path) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "suanwang", "serve", "--port", str(port)]
    command += ["--data-dir", str(tmp_path / "data"), "--log-format", "json", "--access-log"]
    log = tmp_path / "server.log"
    env = {**os.environ, "SUANWANG_TUNE_GC": "false"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60.0
        while True:  # bounded by the deadline
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert httpx.get(f"{url}/v1/tasks", timeout=5.0).status_code == 401
    finally:
        process.terminate()
        process.wait(15)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    for record in records:
        assert {"ts", "level", "logger", "message"} <= set(record), record
    token = [r for r in records if "token" in r]
    assert len(token) == 1
    assert token[0]["token"].startswith("swt_")
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert {(r["method"], r["path"], r["status"]) for r in access} >= {("GET", "/v1/tasks", 401)}
    assert any(r["message"] == "Application startup complete." for r in records)
