"""The banner when the control plane stops answering, and its end when answers come back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from web_support import Portal, log_in, restart_on_its_port

pytestmark = pytest.mark.timeout(120)

SINCE = re.compile(r"not answering since \d\d:\d\d:\d\d; retrying")
# Two polls (2 s apart) and the browser's own work: "within a few seconds".
NOTICED_MS = 6000


def test_a_killed_server_is_said_so_and_its_return_noticed(
    page: Page, portal: Portal, artifacts: Path
) -> None:
    log_in(page, portal, "alice")
    banner = page.locator("#offline")
    expect(page.locator("#task-count")).to_have_text("no tasks")  # the first poll answered
    expect(banner).to_be_hidden()
    portal.server.kill()
    expect(banner).to_be_visible(timeout=NOTICED_MS)
    expect(banner).to_have_text(SINCE)
    expect(page.locator("#portal")).to_have_class(re.compile(r"\bstale\b"))
    page.screenshot(path=str(artifacts / "server-not-answering.png"), full_page=True)

    restart_on_its_port(portal.server)
    expect(banner).to_be_hidden()
    expect(page.locator("#portal")).not_to_have_class(re.compile(r"\bstale\b"))
