"""Earned trust in the portal: a node quarantined through the real API (its agent's wrong
answer to a challenge) is marked in the nodes table and on the map while the page is open,
its detail shows the badge with the reason (to staff; a consumer is told operators can read
it), in both languages; an attested node shows its claimed against measured rate."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import PROVIDER_NODE
from attest_support import attest, quarantine
from playwright.sync_api import Page, expect
from web_support import Portal, log_in

pytestmark = pytest.mark.timeout(180)

QUARANTINED = PROVIDER_NODE
SITE = "edge-futian"
MEASURED_SHARE = 0.8
"""The attested node's measured rate as a share of its claim (over the 0.1 tolerance)."""


@pytest.fixture(scope="module")
def client(portal: Portal) -> Iterator[httpx.Client]:
    """A client without a default token: the admin's and the played agents' are passed."""
    with httpx.Client(base_url=portal.url, timeout=30.0) as plain:
        yield plain


def admin(portal: Portal) -> dict[str, str]:
    return {"Authorization": f"Bearer {portal.tokens['admin']}"}


def site_nodes(client: httpx.Client, portal: Portal) -> list[dict[str, Any]]:
    listed = client.get("/v1/nodes", params={"site_id": SITE}, headers=admin(portal))
    assert listed.status_code == 200, listed.text
    nodes: list[dict[str, Any]] = listed.json()
    assert QUARANTINED in {n["id"] for n in nodes}
    return nodes


def open_node(page: Page, node_id: str) -> None:
    page.locator(f"#map-sites .site[data-id='{SITE}']").click()
    page.locator(f"#nodes tbody tr[data-id='{node_id}']").click()


def test_a_quarantine_shows_while_open_with_its_badge_and_reason(
    page: Page, portal: Portal, client: httpx.Client, artifacts: Path
) -> None:
    site_nodes(client, portal)
    log_in(page, portal, "ops")
    page.locator(f"#map-sites .site[data-id='{SITE}']").click()
    row = page.locator(f"#nodes tbody tr[data-id='{QUARANTINED}']")
    expect(row).not_to_have_class(re.compile("quarantined"))
    expect(page.locator("#map-sites .site.quarantine")).to_have_count(0)

    reason = quarantine(client, admin(portal), QUARANTINED)
    assert reason.startswith("wrong result")
    # The next polls find it: the row gets its badge, the site its ring.
    expect(row).to_have_class(re.compile("quarantined"))
    expect(row.locator("td:nth-child(3) .badge.quarantined")).to_have_text("quarantined")
    site = page.locator(f"#map-sites .site[data-id='{SITE}']")
    expect(site).to_have_class(re.compile(r"\bquarantine\b"))
    expect(site).to_have_attribute("data-quarantined", "1")
    expect(page.locator("#map-sites .site.quarantine")).to_have_count(1)
    expect(site.locator("title")).to_contain_text("1 node(s) quarantined")

    row.click()
    detail = page.locator("#node-detail .trust")
    expect(detail).to_have_attribute("data-trust", "quarantined")
    alert = detail.locator(".quarantine-reason")
    expect(alert.locator(".badge.quarantined")).to_have_text("quarantined")
    expect(alert).to_contain_text(f"Reason: {reason}")
    page.screenshot(path=str(artifacts / "node-quarantined.png"), full_page=True)
    page.select_option("#lang", "zh")
    expect(alert.locator(".badge.quarantined")).to_have_text("已隔离")
    expect(alert).to_contain_text(f"原因：{reason}")
    expect(detail).to_contain_text("声明的 fp64 峰值")
    page.select_option("#lang", "en")
    expect(alert).to_contain_text("Reason:")


def test_a_consumer_sees_the_badge_and_is_told_who_reads_the_reason(
    page: Page, portal: Portal, client: httpx.Client
) -> None:
    standing = client.get(f"/v1/nodes/{QUARANTINED}/trust", headers=admin(portal)).json()
    if standing["trust"] != "quarantined":  # run alone: quarantine it here
        quarantine(client, admin(portal), QUARANTINED)
    log_in(page, portal, "alice")
    expect(page.locator(f"#map-sites .site[data-id='{SITE}']")).to_have_class(
        re.compile(r"\bquarantine\b")
    )
    open_node(page, QUARANTINED)
    alert = page.locator("#node-detail .trust .quarantine-reason")
    expect(alert.locator(".badge.quarantined")).to_be_visible()
    expect(alert).to_contain_text("Operators can read the reason.")
    expect(alert).not_to_contain_text("wrong result")


def test_an_attested_node_shows_claimed_against_measured(
    page: Page, portal: Portal, client: httpx.Client, artifacts: Path
) -> None:
    node = next(n for n in site_nodes(client, portal) if n["id"] != QUARANTINED)
    claimed = float(node["claimed_gflops"])
    assert claimed > 0
    measured = claimed * MEASURED_SHARE
    attest(client, admin(portal), node["id"], measured, rounds=3)
    standing = client.get(f"/v1/nodes/{node['id']}/trust", headers=admin(portal)).json()
    assert standing["trust"] == "attested"

    log_in(page, portal, "ops")
    open_node(page, node["id"])
    detail = page.locator("#node-detail .trust")
    expect(detail).to_have_attribute("data-trust", "attested")
    expect(detail.locator(".badge.attested")).to_have_text("attested")
    expect(detail).to_contain_text("3 consistent attestation(s) in a row")
    expect(detail).to_contain_text(f"declared trust level {node['trust_level']}")
    figures = detail.locator("table.trust-figures")
    expect(figures.locator("tr[data-figure=claimed] td").last).to_have_text(f"{claimed:.2f}")
    expect(figures.locator("tr[data-figure=measured] td").last).to_have_text(f"{measured:.2f}")
    expect(figures.locator("tr[data-figure=ratio] td").last).to_have_text(f"{MEASURED_SHARE:.2f}")
    expect(detail.locator(".quarantine-reason")).to_have_count(0)
    expect(page.locator(f"#nodes tbody tr[data-id='{node['id']}']")).not_to_have_class(
        re.compile("quarantined")
    )
    page.screenshot(path=str(artifacts / "node-attested.png"), full_page=True)
