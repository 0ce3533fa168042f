"""Web portal benchmark: bytes one 2 s poll of the portal moves, plain and compressed/conditional.

One run of ``suanwang serve`` on a fresh SQLite file; an operator loads
``generate_scenario(N)`` as the live topology and submits ``TASKS`` tasks, so the task page the
portal reads is full. A poll is what the portal's timer fetches every 2 s: ``GET /health``,
``GET /v1/load`` and ``GET /v1/tasks?limit=50&order=newest&include_total=true``; with the time
series tab open also ``GET /v1/series?since=<next>``. Figures are bytes on the wire of the
answers: status line, headers and body as sent (compressed when it was).

* **plain**: no ``Accept-Encoding`` and no ``If-None-Match`` (what the portal sent before);
* **gzip, idle**: ``Accept-Encoding: gzip`` and the ETags of the load and the task page held,
  nothing changed since the last poll (both are a 304);
* **gzip, busy**: as above, one task placed since the last poll (both are sent again).

The server runs without agents (``SUANWANG_REQUIRE_AGENT=false``), so tasks are placed.

Run: ``.venv/bin/python -m benchmarks.bench_poll [--nodes N] [--runs N] [--quick]``. Results go
to ``bench-results/poll-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench_web import _load, _start

ROOT = Path(__file__).resolve().parent.parent
NODES = (1000, 10_000)
TASKS = 60
RUNS, QUICK_RUNS = 5, 1
TASK = {"work_gflop": 5.0, "cpu_cores": 0.1, "mem_gib": 0.1}
TASK_PAGE = {"limit": 50, "order": "newest", "include_total": "true"}


def _wire_bytes(response: httpx.Response) -> int:
    """Status line, headers and body as they came over the connection."""
    head = len(f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n")
    head += sum(len(k) + len(v) + 4 for k, v in response.headers.raw) + 2
    return head + response.num_bytes_downloaded


def _poll(client: httpx.Client, held: dict[str, str], *, compressed: bool) -> dict[str, int]:
    """One poll; ``held`` keeps the ETags and the series' index between polls."""
    headers = {"Accept-Encoding": "gzip" if compressed else "identity"}
    sizes = {}
    for name, path, params in (
        ("health", "/health", None),
        ("load", "/v1/load", None),
        ("tasks", "/v1/tasks", TASK_PAGE),
        ("series", "/v1/series", {"since": held.get("series_next", "0")}),
    ):
        extra = dict(headers)
        if compressed and name in held:
            extra["If-None-Match"] = held[name]
        response = client.get(path, params=params, headers=extra)
        assert response.status_code in (200, 304), response.text
        if compressed and "etag" in response.headers:
            held[name] = response.headers["etag"]
        if name == "series":
            held["series_next"] = str(response.json()["next"])
        sizes[name] = _wire_bytes(response)
    sizes["poll"] = sizes["health"] + sizes["load"] + sizes["tasks"]
    return sizes


def _measure(url: str, token: str, ingress: str, runs: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, list[dict[str, int]]] = {"plain": [], "gzip_idle": [], "gzip_busy": []}
    with httpx.Client(base_url=url, headers=headers, timeout=60.0) as client:
        for _ in range(TASKS):
            created = client.post("/v1/tasks", json={**TASK, "ingress_site": ingress})
            assert created.status_code == 201, created.text
        for _ in range(runs):
            out["plain"].append(_poll(client, {}, compressed=False))
            held: dict[str, str] = {}
            _poll(client, held, compressed=True)  # the first poll fetches every body
            out["gzip_idle"].append(_poll(client, held, compressed=True))
            created = client.post("/v1/tasks", json={**TASK, "ingress_site": ingress})
            assert created.status_code == 201, created.text
            out["gzip_busy"].append(_poll(client, held, compressed=True))
    return {
        mode: {key: statistics.median(p[key] for p in polls) for key in polls[0]}
        for mode, polls in out.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=RUNS, help="polls per mode (median)")
    parser.add_argument("--quick", action="store_true", help="1,000 nodes, one poll per mode")
    parser.add_argument("--nodes", type=int, action="append", help="scenario sizes")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results", help="result folder")
    args = parser.parse_args(argv)
    runs = QUICK_RUNS if args.quick else args.runs
    sizes = args.nodes or ([NODES[0]] if args.quick else list(NODES))
    results: dict[str, Any] = {}
    # Nodes without agents stand in as capacity, so that the tasks are placed and hold load.
    os.environ["SUANWANG_REQUIRE_AGENT"] = "false"
    for nodes in sizes:
        with tempfile.TemporaryDirectory(prefix="suanwang-bench-poll-") as folder:
            server, url, token = _start(Path(folder))
            try:
                size = _load(url, token, nodes)
                with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
                    sites = c.get("/v1/sites", params={"limit": 100_000}).json()
                terminals = [s["id"] for s in sites if s["tier"] == "terminal"]
                ingress = terminals[0] if terminals else sites[0]["id"]
                figures = _measure(url, token, ingress, runs)
            finally:
                server.terminate()
                server.wait(30)
        results[str(nodes)] = {**size, **figures}
        print(f"{size['nodes']:,} nodes, {size['sites']:,} sites, {size['links']:,} links:")
        for mode, figure in figures.items():
            parts = ", ".join(f"{k} {v:,.0f}" for k, v in figure.items())
            print(f"  {mode:<10} bytes per poll {figure['poll']:>9,.0f}  ({parts})")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (args.out / f"poll-{stamp}.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
