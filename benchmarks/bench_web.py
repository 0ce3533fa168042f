"""Web portal benchmark: time until the network map of a 1,000-node scenario is drawn.

Target (issue "web portal"): the page stays usable with a 1,000-node scenario, the map drawn in
under 2 s.

One run of ``suanwang serve`` on a fresh SQLite file in a temporary folder; an operator loads
``generate_scenario(1000)`` as the live topology through ``POST /v1/scenarios/live``. Debian's
Chromium (headless, through Playwright) logs in once through the page's form; each measured run
then navigates to the portal afresh (the token stays in the tab's session storage), so a run
covers loading the page and its modules, checking the token, fetching sites, nodes and links,
and drawing and painting the SVG map. The figure is the page's own ``performance.now()`` when it
marks the map drawn (``document.body.dataset.readyMs``), i.e. milliseconds since navigation
started.

Run: ``.venv/bin/python -m benchmarks.bench_web [--runs N] [--quick] [--nodes N]``. Results go
to ``bench-results/web-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from suanwang.bootstrap import Settings
from suanwang.control.stores import Principal, Role
from suanwang.scenario import dumps_scenario
from suanwang.scenario.generate import generate_scenario
from suanwang.storage import open_store

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 2000.0
NODES = 1000
RUNS, QUICK_RUNS = 7, 2
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
MAX_BODY_BYTES = 64 * 1024 * 1024  # the generated scenario's text exceeds the default 1 MiB


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(folder: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    settings = Settings(data_dir=folder)
    with open_store(settings.resolved_database_url()) as stores:
        stores.principals.add_principal(Principal("ops", "ops", frozenset({Role.OPERATOR})))
        token = stores.principals.create_token("ops").plaintext
    port = _free_port()
    command = [sys.executable, "-m", "suanwang", "serve", "--port", str(port)]
    command += ["--data-dir", str(folder), "--max-body-bytes", str(MAX_BODY_BYTES)]
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {(folder / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return server, url, token
        except httpx.HTTPError:
            time.sleep(0.1)
    server.terminate()
    raise TimeoutError("the server did not start")


def _load(url: str, token: str, nodes: int) -> dict[str, int]:
    text = dumps_scenario(generate_scenario(nodes), "json")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120.0) as client:
        response = client.post("/v1/scenarios/live", json={"text": text, "format": "json"})
        response.raise_for_status()
        sites = client.get("/v1/sites", params={"limit": 100_000}).json()
        links = client.get("/v1/links", params={"limit": 100_000}).json()
    return {"nodes": response.json()["nodes"], "sites": len(sites), "links": len(links)}


def _measure(url: str, token: str, runs: int, sites: int, shot: Path) -> list[float]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(30_000)
            page.goto(url + "/")
            page.fill("#token", token)
            page.click("#login-form button[type=submit]")
            page.wait_for_selector("body[data-ready=map]")
            times_ms = []
            for _ in range(runs):
                page.goto(url + "/")
                page.wait_for_selector("body[data-ready=map]")
                drawn = page.locator("#map-sites .site").count()
                if drawn != sites:
                    raise AssertionError(f"{drawn} sites drawn, {sites} expected")
                times_ms.append(float(page.evaluate("document.body.dataset.readyMs")))
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    return times_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=RUNS, help="page loads (median reported)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RUNS} page loads")
    parser.add_argument("--nodes", type=int, default=NODES, help="nodes of the scenario")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results", help="result folder")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.nodes < 1:
        parser.error("--runs and --nodes must be at least 1")
    runs = QUICK_RUNS if args.quick else args.runs
    print(
        f"web: {runs} page loads, generated scenario of {args.nodes:,} nodes; Python "
        f"{platform.python_version()}, playwright {metadata.version('playwright')}, "
        f"{os.cpu_count()} CPUs"
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    shot = args.out / f"web-{stamp}.png"
    with tempfile.TemporaryDirectory(prefix="suanwang-bench-web-") as folder:
        server, url, token = _start(Path(folder))
        try:
            size = _load(url, token, args.nodes)
            times_ms = _measure(url, token, runs, size["sites"], shot)
        finally:
            server.terminate()
            server.wait(30)
    median = statistics.median(times_ms)
    print(f"{size['nodes']:,} nodes, {size['sites']:,} sites, {size['links']:,} links")
    print(f"map drawn after {median:,.0f} ms (median; {min(times_ms):,.0f}-{max(times_ms):,.0f})")
    met = "met" if median < TARGET_MS else "NOT met"
    print(f"target < {TARGET_MS:,.0f} ms: {met}")
    print(f"screenshot: {shot}")
    result: dict[str, Any] = {**size, "runs_ms": times_ms, "median_ms": median}
    (args.out / f"web-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
