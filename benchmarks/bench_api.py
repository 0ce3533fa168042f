"""Control-plane API benchmark: end-to-end task submissions per second, durability on.

Target (issue "control-plane service"): at least 1,000 submissions per second on SQLite with
``synchronous=FULL`` (every commit fsynced), and the p99 latency of a submission.

Each run starts ``suanwang serve`` (uvicorn, one process) on a fresh SQLite file in a temporary
folder, with the ``metro-edge`` scenario and the ``cats-joint`` profile, and drives it from this
process with aiohttp (the httpx client tops out near 500 requests/s): ``--clients`` concurrent
connections submit small CPU tasks with distinct idempotency keys, each over the full path
(token check, validation, scheduling decision, group commit, JSON answer). The tasks are small
enough never to fill the network, so every submission is a placement. After the clock stops,
the run checks that every acknowledged task is in the database exactly once and reads the
server's own figures (group-commit sizes, commit and decision times) from ``/metrics``.

Run: ``.venv/bin/python -m benchmarks.bench_api [--runs N] [--quick] [--requests N]
[--clients N]``. Results go to ``bench-results/api-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from suanwang.bootstrap import Settings
from suanwang.control.stores import Principal, Role
from suanwang.storage import open_store

ROOT = Path(__file__).resolve().parent.parent
TARGET_PER_S = 1000.0
REQUESTS, QUICK_REQUESTS = 20_000, 2_000
WARM_UP = 300
INGRESS = ("term-futian", "term-luohu", "term-nanshan", "term-baoan", "term-longhua")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(folder: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    settings = Settings(data_dir=folder)
    with open_store(settings.resolved_database_url()) as stores:
        stores.principals.add_principal(Principal("bench", "bench", frozenset({Role.CONSUMER})))
        token = stores.principals.create_token("bench").plaintext
        stores.principals.add_principal(Principal("ops", "ops", frozenset({Role.OPERATOR})))
        ops = stores.principals.create_token("ops").plaintext
    port = _free_port()
    command = [sys.executable, "-m", "suanwang", "serve", "--port", str(port)]
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [*command, "--data-dir", str(folder)], stdout=log, stderr=subprocess.STDOUT
    )
    return server, f"http://127.0.0.1:{port}", f"{token} {ops}"


async def _wait_healthy(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{url}/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError("the server did not start")


async def _drive(url: str, token: str, requests: int, clients: int, prefix: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    latencies_s: list[float] = []
    acked: list[str] = []
    failures = 0
    counter = iter(range(requests))
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(url, headers=headers, connector=connector) as session:

        async def client() -> None:
            nonlocal failures
            for i in counter:
                body = {
                    "work_gflop": 1.0,
                    "cpu_cores": 0.01,
                    "mem_gib": 0.01,
                    "ingress_site": INGRESS[i % len(INGRESS)],
                }
                key = {"Idempotency-Key": f"{prefix}-{i}"}
                started = time.perf_counter()
                async with session.post("/v1/tasks", json=body, headers=key) as response:
                    answer = await response.read()
                latencies_s.append(time.perf_counter() - started)
                if response.status == 201:
                    acked.append(json.loads(answer)["id"])
                else:
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed_s = time.perf_counter() - started
    latencies_s.sort()
    return {
        "requests": requests,
        "elapsed_s": elapsed_s,
        "per_s": requests / elapsed_s,
        "p50_ms": 1000 * latencies_s[len(latencies_s) // 2],
        "p99_ms": 1000 * latencies_s[int(len(latencies_s) * 0.99)],
        "max_ms": 1000 * latencies_s[-1],
        "failures": failures,
        "acked": acked,
    }


async def _server_figures(url: str, ops_token: str) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {ops_token}"}
    async with (
        aiohttp.ClientSession(url, headers=headers) as session,
        session.get("/metrics") as response,
    ):
        text = await response.text()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and " " in line:
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)

    def mean(metric: str) -> float:
        count = values.get(f"{metric}_count", 0.0)
        return values.get(f"{metric}_sum", 0.0) / count if count else 0.0

    return {
        "mean_batch": mean("suanwang_batch_requests"),
        "commits": values.get("suanwang_commit_seconds_count", 0.0),
        "mean_commit_ms": 1000 * mean("suanwang_commit_seconds"),
        "mean_decision_us": 1e6 * mean("suanwang_decision_seconds"),
    }


def _thread_cpu_s(pid: int) -> dict[int, float]:
    return {t.id: t.user_time + t.system_time for t in psutil.Process(pid).threads()}


def _stored_once(database: Path, acked: list[str]) -> bool:
    with sqlite3.connect(database) as connection:
        ids = [row[0] for row in connection.execute("SELECT id FROM tasks")]
    return len(ids) == len(set(ids)) and set(acked) <= set(ids)


def _one_run(requests: int, clients: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="suanwang-bench-api-") as folder_name:
        folder = Path(folder_name)
        server, url, tokens = _start(folder)
        token, ops = tokens.split()
        try:
            asyncio.run(_wait_healthy(url))
            asyncio.run(_drive(url, token, WARM_UP, clients, "warm"))
            before = _thread_cpu_s(server.pid)
            result = asyncio.run(_drive(url, token, requests, clients, "run"))
            # CPU the server spent per submission, split into the event loop's thread (HTTP,
            # validation, answers) and the others (the writer: decisions and commits). They
            # share one GIL, so their sum bounds the rate.
            after = _thread_cpu_s(server.pid)
            http_s = after.pop(server.pid) - before.pop(server.pid, 0.0)
            other_s = sum(after.values()) - sum(before.get(tid, 0.0) for tid in after)
            result["http_cpu_us"] = 1e6 * http_s / requests
            result["writer_cpu_us"] = 1e6 * other_s / requests
            result["server_cpu_us"] = result["http_cpu_us"] + result["writer_cpu_us"]
            result |= asyncio.run(_server_figures(url, ops))
        finally:
            server.terminate()
            server.wait(30)
        # Checked after the clock stops: figures only count for a right result.
        assert result["failures"] == 0, result["failures"]
        assert _stored_once(folder / "suanwang.db", result.pop("acked"))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="repetitions (median reported)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_REQUESTS:,} requests, 1 run")
    parser.add_argument("--requests", type=int, default=REQUESTS, help="submissions per run")
    parser.add_argument("--clients", type=int, default=64, help="concurrent connections")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results", help="result folder")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.clients < 1 or args.requests < args.clients:
        parser.error("--runs and --clients must be at least 1, --requests at least --clients")
    runs = 1 if args.quick else args.runs
    requests = QUICK_REQUESTS if args.quick else args.requests
    print(
        f"api: {runs} runs of {requests:,} submissions from {args.clients} connections; Python "
        f"{platform.python_version()}, fastapi {metadata.version('fastapi')}, uvicorn "
        f"{metadata.version('uvicorn')}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs"
    )
    load_before = os.getloadavg()[0]
    results = [_one_run(requests, args.clients) for _ in range(runs)]
    load_after = os.getloadavg()[0]
    columns = ("per_s", "p50_ms", "p99_ms", "max_ms", "server_cpu_us", "http_cpu_us")
    columns += ("writer_cpu_us", "mean_batch", "mean_commit_ms", "mean_decision_us")
    print(" | ".join(f"{c:>16}" for c in ("figure", "median", "min-max")))
    for column in columns:
        values = [r[column] for r in results]
        print(
            f"{column:>16} | {statistics.median(values):16,.1f} | "
            f"{min(values):,.1f}-{max(values):,.1f}"
        )
    best = statistics.median(r["per_s"] for r in results)
    met = "met" if best >= TARGET_PER_S else "NOT met"
    load = f"load {load_before:.1f} -> {load_after:.1f}"
    print(f"target >= {TARGET_PER_S:,.0f} submissions/s: {met}; {load}")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (args.out / f"api-{stamp}.json").write_text(
        json.dumps(
            {
                "requests": requests,
                "clients": args.clients,
                "runs": results,
                "load_before": load_before,
                "load_after": load_after,
                "machine": platform.platform(),
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
