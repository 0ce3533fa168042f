"""What the portal tests share besides fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
from api_support import Server
from playwright.sync_api import Page, expect

from suanwang.bootstrap import Settings
from suanwang.control.stores import Principal
from suanwang.storage import open_store


class Portal:
    """A running server with a token per principal (see ``api_support.PRINCIPALS``)."""

    def __init__(self, server: Server, settings: Settings, tokens: dict[str, str]) -> None:
        self.server, self.settings, self.tokens = server, settings, tokens

    @property
    def url(self) -> str:
        return self.server.url

    def add_principal(self, principal: Principal) -> str:
        """Store a principal and a token for it, directly on the server's database."""
        with open_store(self.settings.resolved_database_url()) as stores:
            stores.principals.add_principal(principal)
            token = stores.principals.create_token(principal.id).plaintext
        self.tokens[principal.id] = token
        return token


def api(portal: Portal, who: str) -> httpx.Client:
    """An API client with ``who``'s token."""
    headers = {"Authorization": f"Bearer {portal.tokens[who]}"}
    return httpx.Client(base_url=portal.url, headers=headers, timeout=10.0)


def log_in(page: Page, portal: Portal, who: str) -> None:
    """Log in through the form and wait until the map is painted."""
    page.goto(portal.url + "/")
    page.fill("#token", portal.tokens[who])
    page.click("#login-form button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-ready", "map")


def restart_on_its_port(server: Server, timeout_s: float = 60.0) -> None:
    """Start a stopped server again on the port it had, as a supervisor would: a page open
    on it finds it again at the same address."""
    port = server.url.rsplit(":", 1)[1]
    command = [sys.executable, "-m", "suanwang", "serve", "--port", port]
    command += ["--data-dir", str(server.data_dir), *server.args]
    with server.log.open("ab") as log:
        server.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **server.env}
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited: {server.log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(f"the server did not start again: {server.log.read_text()[-2000:]}")
