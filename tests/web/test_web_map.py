"""The map at national scale (built-in east-west: 126 sites): labels that never overlap, hubs
and regions always labelled, co-located sites clustered, province outlines, nothing fetched
from anywhere but the server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect
from web_support import Portal, api, log_in

pytestmark = pytest.mark.timeout(180)

# Every shown label's box on screen, and the site it names.
LABEL_BOXES = """() => [...document.querySelectorAll('#map-labels text')]
  .filter((t) => t.style.display !== 'none')
  .map((t) => { const b = t.getBoundingClientRect();
    return {id: t.dataset.for, x0: b.left, y0: b.top, x1: b.right, y1: b.bottom}; })"""


@pytest.fixture(scope="module")
def sites(portal: Portal) -> list[dict[str, Any]]:
    with api(portal, "ops") as ops:
        loaded = ops.post("/v1/scenarios/live", json={"builtin": "east-west"})
        assert loaded.status_code == 200, loaded.text
        listed: list[dict[str, Any]] = ops.get("/v1/sites", params={"limit": 1000}).json()
    assert len(listed) == 126
    return listed


def open_map(page: Page, portal: Portal) -> list[str]:
    """Log in with a log of every URL the page asks for; wait for the outlines."""
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request_url(request)))
    log_in(page, portal, "alice")
    expect(page.locator("#map")).to_have_attribute("data-outlines", re.compile(r"^\d+$"))
    return requested


def request_url(request: Request) -> str:
    return request.url


def overlapping(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (a["id"], b["id"])
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a["x0"] < b["x1"] and b["x0"] < a["x1"] and a["y0"] < b["y1"] and b["y0"] < a["y1"]
    ]


def test_labels_never_overlap_and_every_hub_and_region_is_labelled(
    page: Page, portal: Portal, sites: list[dict[str, Any]], artifacts: Path
) -> None:
    requested = open_map(page, portal)
    boxes = page.evaluate(LABEL_BOXES)
    page.screenshot(path=str(artifacts / "map-east-west.png"))
    assert overlapping(boxes) == []
    majors = {s["id"] for s in sites if s["tier"] in ("hub", "region")}
    assert len(majors) == 36
    assert majors <= {b["id"] for b in boxes}
    # Co-located small sites are drawn as counted clusters, and every site is accounted for.
    clusters = page.locator("#map-sites .cluster")
    assert clusters.count() > 0
    counts = clusters.evaluate_all("(cs) => cs.map((c) => Number(c.dataset.count))")
    shown = page.locator("#map-sites .site:not([style*='display: none'])").count()
    assert shown + sum(counts) == 126
    # The outlines are drawn, and nothing came from outside the server.
    assert page.locator("#map-outlines path.outline").count() >= 30
    assert requested
    outside = [url for url in requested if not url.startswith(portal.url + "/")]
    assert outside == []
    assert portal.url.startswith("http://127.0.0.1:")


def test_zooming_in_splits_clusters_and_keeps_labels_apart(
    page: Page, portal: Portal, sites: list[dict[str, Any]]
) -> None:
    open_map(page, portal)
    svg = page.locator("#map")
    before = int(svg.get_attribute("data-layout") or "0")
    clusters_before = page.locator("#map-sites .cluster").count()
    # Zoom in over the Yangtze delta's crowd (Shanghai) with the wheel.
    shanghai = page.locator("#map-sites .site[data-id='rc-shanghai']").bounding_box()
    assert shanghai is not None
    page.mouse.move(shanghai["x"] + shanghai["width"] / 2, shanghai["y"] + shanghai["height"] / 2)
    for _ in range(4):
        page.mouse.wheel(0, -600)
    expect(svg).not_to_have_attribute("data-layout", str(before))
    page.wait_for_function("() => document.querySelector('#map').viewBox.baseVal.width < 400")
    # Laid out for the view it shows now, not one the wheel passed through.
    page.wait_for_function(
        "() => { const m = document.querySelector('#map');"
        " return m.dataset.layoutWidth === m.viewBox.baseVal.width.toFixed(3); }"
    )
    assert overlapping(page.evaluate(LABEL_BOXES)) == []
    assert page.locator("#map-sites .cluster").count() <= clusters_before
    labelled = {b["id"] for b in page.evaluate(LABEL_BOXES)}
    assert "rc-shanghai" in labelled


def test_clicking_a_cluster_zooms_into_it(
    page: Page, portal: Portal, sites: list[dict[str, Any]]
) -> None:
    open_map(page, portal)
    svg = page.locator("#map")
    cluster = page.locator("#map-sites .cluster").first
    members = (cluster.get_attribute("data-members") or "").split()
    assert len(members) >= 2
    width = svg.evaluate("(s) => s.viewBox.baseVal.width")
    cluster.click()
    page.wait_for_function(
        "(w) => document.querySelector('#map').viewBox.baseVal.width < w", arg=width
    )
    # Now each member is a mark of its own or in a smaller cluster.
    page.wait_for_function(
        """(ids) => ![...document.querySelectorAll('#map-sites .cluster')]
             .some((c) => ids.every((id) => c.dataset.members.split(' ').includes(id)))""",
        arg=members,
    )


def test_clicking_a_hub_opens_that_hubs_nodes(
    page: Page, portal: Portal, sites: list[dict[str, Any]]
) -> None:
    open_map(page, portal)
    hubs = [s["id"] for s in sites if s["tier"] == "hub"]
    assert "hub-tianfu" in hubs
    for hub in hubs:
        # Playwright clicks the mark's centre and fails if another element would take the click.
        page.locator(f"#map-sites .site[data-id='{hub}']").click()
        expect(page.locator("#node-site")).to_have_value(hub)
        rows = page.locator("#nodes tbody tr")
        expect(rows.first).to_be_visible()
        site_cells = rows.evaluate_all("(rs) => rs.map((r) => r.children[1].textContent)")
        assert set(site_cells) == {hub}


def test_a_tooltip_gives_load_and_free_accelerators(
    page: Page, portal: Portal, sites: list[dict[str, Any]]
) -> None:
    open_map(page, portal)
    title = page.locator("#map-sites .site[data-id='hub-zhangjiakou'] title")
    expect(title).to_contain_text("most constrained")
    expect(title).to_contain_text("nodes full")
