"""Screenshots of the web portal for the README: the map, a task's "why here", twin runs.

    .venv/bin/python docs/screenshots.py [--out docs/img]

Starts ``suanwang serve`` on a free loopback port in a temporary data folder, with an admin
token made directly in its database and agentless nodes taking work (as the web tests do),
makes the built-in ``east-west`` the live scenario, submits a few dozen tasks of its catalogue
types, starts a short twin comparison, and saves ``map.png``, ``explain.png`` and ``twin.png``
with Debian's Chromium (headless). Every wait is on page or server state and bounded; the
server is stopped at the end, also on error.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect, sync_playwright

from suanwang.bootstrap import Settings
from suanwang.control.stores import Principal, Role
from suanwang.scenario import load_builtin
from suanwang.storage import open_store

SCENARIO = "east-west"
PROFILES = ("cats-joint", "nearest")
TASKS_PER_TYPE = 3
TWIN_DURATION_S = 20.0
VIEWPORT = {"width": 1280, "height": 800}
MAX_BYTES = 300_000
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
WAIT_MS = 30_000
TWIN_WAIT_MS = 240_000
START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A loopback port free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def admin_token(data_dir: Path) -> str:
    """An admin principal and a token for it, stored before the server first starts."""
    settings = Settings(data_dir=data_dir)
    with open_store(settings.resolved_database_url()) as stores:
        stores.principals.add_principal(Principal("admin", "operator", frozenset({Role.ADMIN})))
        return stores.principals.create_token("admin").plaintext


@contextmanager
def server(data_dir: Path, log: Path) -> Iterator[str]:
    """``suanwang serve`` in a child process; its URL once ``/health`` answers."""
    url = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "suanwang", "serve", "--port", url.rsplit(":", 1)[1]]
    command += ["--data-dir", str(data_dir)]
    env = {**os.environ, "SUANWANG_REQUIRE_AGENT": "false"}  # agentless nodes take work
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not start: {log.read_text()[-2000:]}")
            # Poll again after a short wait on the child, which ends early if it exits.
            with suppress(subprocess.TimeoutExpired):
                process.wait(0.1)
        yield url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def checked(response: httpx.Response) -> Any:
    """The answer's JSON; an error answer raises, with its body."""
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text}")
    return response.json()


def prepare(client: httpx.Client) -> str:
    """Make east-west live, submit tasks of its catalogue types, start a twin comparison.

    Returns:
        The id of the placed task with the longest path.
    """
    checked(client.post("/v1/scenarios/live", json={"builtin": SCENARIO}))
    workload = load_builtin(SCENARIO).workload
    ingress = {a.task_type: [site for site, _ in a.ingress] for a in workload.arrivals}
    placed: list[dict[str, Any]] = []
    for task_type in workload.task_types:
        sites = ingress.get(task_type.name) or [None]
        for i in range(TASKS_PER_TYPE):
            body = {"task_type": task_type.name, "ingress_site": sites[i % len(sites)]}
            task = checked(client.post("/v1/tasks", json=body))
            if task["state"] == "scheduled" and task.get("placement"):
                placed.append(task)
    if not placed:
        raise RuntimeError("no task was placed")
    for profile in PROFILES:
        body = {"profile": profile, "duration_s": TWIN_DURATION_S, "seed": 1}
        checked(client.post("/v1/twin-runs", json=body))
    chosen = max(placed, key=lambda t: len(t["placement"]["segments"]))
    return str(chosen["id"])


def save(page: Page, path: Path, clip: dict[str, float] | None = None) -> None:
    """A PNG of the viewport (or ``clip``), refused over ``MAX_BYTES``."""
    page.screenshot(path=str(path), type="png", clip=clip)
    size = path.stat().st_size
    print(f"{path}: {size // 1024} KB")
    if size > MAX_BYTES:
        raise RuntimeError(f"{path} is {size} bytes, over {MAX_BYTES}")


def box(page: Page, selector: str) -> dict[str, float]:
    """The box of ``selector`` on the page."""
    found = page.locator(selector).bounding_box()
    if found is None:
        raise RuntimeError(f"{selector} is not shown")
    return found


def shoot(url: str, token: str, task_id: str, out: Path) -> None:
    """Log in and save the three screenshots, ``task_id`` the task explained."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(WAIT_MS)
            expect.set_options(timeout=WAIT_MS)
            page.goto(url + "/")
            page.fill("#token", token)
            page.click("#login-form button[type=submit]")
            expect(page.locator("body")).to_have_attribute("data-ready", "map")
            expect(page.locator("#scenario-name")).to_have_text(SCENARIO)
            expect(page.locator("#map")).to_have_attribute("data-outlines", re.compile(r"^\d+$"))
            expect(page.locator("#map-labels text").first).to_be_visible()
            expect(page.locator("#tasks tbody tr").first).to_be_visible()
            save(page, out / "map.png", box(page, "#map-panel"))

            # One task alone in the list, selected: its path on the map, why it went there.
            page.fill("#task-search", task_id)
            expect(page.locator("#tasks tbody tr")).to_have_count(1)
            page.click(f"#tasks tbody tr[data-id='{task_id}']")
            expect(page.locator("#explanation .why-here .headline")).to_contain_text("Why here:")
            expect(page.locator("#map-links .link.path").first).to_be_attached()
            save(page, out / "explain.png")

            page.click("#tabs button[data-tab=twin]")
            runs = page.locator("#twin-runs .twin-run")
            expect(runs).to_have_count(len(PROFILES))
            for i in range(len(PROFILES)):
                title = runs.nth(i).locator("h4")
                expect(title).to_contain_text(" · done", timeout=TWIN_WAIT_MS)
                expect(runs.nth(i).locator("img")).to_have_count(1)
            expect(page.locator("#twin-compare svg.compare")).to_have_count(5)
            page.wait_for_function(
                "() => [...document.querySelectorAll('#twin-runs img')]"
                ".every((i) => i.complete && i.naturalWidth > 0)",
                timeout=WAIT_MS,
            )
            save(page, out / "twin.png")
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    """Run the server, prepare its state, take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).parent / "img"
    parser.add_argument("--out", type=Path, default=default, help=f"folder (default {default})")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        parser.error(f"{CHROMIUM} is missing: run `make deps-debian` as root")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="suanwang-shots-") as tmp:
        data_dir = Path(tmp) / "data"
        token = admin_token(data_dir)
        with server(data_dir, Path(tmp) / "server.log") as url:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=url, headers=headers, timeout=30.0) as client:
                task_id = prepare(client)
            shoot(url, token, task_id, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
