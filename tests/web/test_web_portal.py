"""The web portal in Debian's Chromium (headless) against a real server on loopback.

Screenshots go to ``test-artifacts/web/``.
"""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import httpx
import pytest
from api_support import INGRESS, PROVIDER_NODE
from playwright.sync_api import Page, expect
from web_support import Portal, api, log_in

from suanwang.control.stores import Principal, Role
from suanwang.security import KeyPair, MetricReport, sign_report
from suanwang.security import Role as KeyRole

pytestmark = pytest.mark.timeout(120)

NONZERO = re.compile(r"^(0\.\d*[1-9]|[1-9])")


def submit_through_form(page: Page, fields: dict[str, str]) -> str:
    page.click("#tabs button[data-tab=submit]")
    for name, value in fields.items():
        selector = f"#submit-form [name={name}]"
        if page.locator(selector).evaluate("e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
    page.click("#submit-form button[type=submit]")
    expect(page.locator("#task-detail h3")).to_contain_text("Task ")
    return page.locator("#task-detail h3").inner_text().removeprefix("Task ").strip()


def test_the_map_shows_every_site(page: Page, portal: Portal, artifacts: Path) -> None:
    log_in(page, portal, "alice")
    with api(portal, "alice") as client:
        sites = client.get("/v1/sites", params={"limit": 100_000}).json()
        links = client.get("/v1/links", params={"limit": 100_000}).json()
    drawn = page.locator("#map-sites .site").evaluate_all("els => els.map(e => e.dataset.id)")
    assert sorted(drawn) == sorted(s["id"] for s in sites)
    tiers = page.locator("#map-sites .site").evaluate_all("els => els.map(e => e.dataset.tier)")
    assert set(tiers) == {s["tier"] for s in sites}
    assert page.locator("#map-links .link").count() == len(links)
    expect(page.locator("#whoami")).to_contain_text("tenant acme")
    page.screenshot(path=str(artifacts / "map.png"), full_page=True)

    # The wheel zooms in about the pointer; a double click shows everything again.
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -600)
    expect(page.locator("#map")).not_to_have_attribute("viewBox", "0 0 1000 640")
    page.screenshot(path=str(artifacts / "map-zoomed.png"), full_page=True)
    page.locator("#map").dblclick(position={"x": 5, "y": 5})
    expect(page.locator("#map")).to_have_attribute("viewBox", "0 0 1000 640")

    # A site's nodes, with capacity and live load, one click away.
    site = max(sites, key=lambda s: s["nodes"] if s["nodes"] <= 300 else 0)
    page.locator(f"#map-sites .site[data-id='{site['id']}']").click()
    rows = page.locator("#nodes tbody tr")
    expect(rows).to_have_count(site["nodes"])
    assert set(rows.locator("td:nth-child(2)").all_inner_texts()) == {site["id"]}
    # Agents' reports are for staff and providers: a consumer is told so.
    rows.first.click()
    expect(page.locator("#node-detail")).to_contain_text("Metrics not shown")
    page.screenshot(path=str(artifacts / "nodes.png"), full_page=True)


def test_a_submitted_task_is_placed_and_its_path_highlighted(
    page: Page, portal: Portal, artifacts: Path
) -> None:
    log_in(page, portal, "alice")
    # Data with a latency budget: the path reserves bandwidth, which the map shows.
    fields = {"ingress_site": INGRESS, "work_gflop": "5", "data_in_mb": "2"}
    fields["latency_budget_ms"] = "1000"
    task_id = submit_through_form(page, fields)
    with api(portal, "alice") as client:
        task = client.get(f"/v1/tasks/{task_id}").json()
    assert task["state"] in ("scheduled", "running", "completed")
    assert task["spec"]["ingress_site"] == INGRESS
    segments = task["placement"]["segments"]
    assert segments  # a terminal site holds no compute: the path leaves it
    highlighted = page.locator("#map-links .link.path").evaluate_all(
        "els => els.map(e => e.dataset.id)"
    )
    assert sorted(highlighted) == sorted(segments)
    ends = page.locator("#map-sites .site.path-end").evaluate_all(
        "els => els.map(e => e.dataset.id)"
    )
    assert INGRESS in ends
    expect(page.locator(f"#tasks tbody tr[data-id='{task_id}']")).to_have_class(
        "state-scheduled selected"
    )
    expect(page.locator("#task-detail .placement")).to_contain_text(task["placement"]["node_id"])
    page.screenshot(path=str(artifacts / "placed-task-path.png"), full_page=True)

    # The live load reaches the map by polling: the path's links carry reserved bandwidth.
    assert task["placement"]["reserved_bandwidth_mbps"] > 0
    for segment in segments:
        line = page.locator(f"#map-links .link[data-id='{segment}']")
        expect(line).to_have_attribute("data-utilisation", NONZERO)


def test_a_refused_task_shows_why(page: Page, portal: Portal, artifacts: Path) -> None:
    log_in(page, portal, "alice")
    # No node lies within 10 µs of the ingress: every one is turned away, each with a reason.
    fields = {"ingress_site": INGRESS, "work_gflop": "1", "latency_budget_ms": "0.01"}
    task_id = submit_through_form(page, fields)
    expect(page.locator("#task-detail")).to_contain_text("rejected")
    explanation = page.locator("#explanation")
    expect(explanation).to_contain_text("Why not:")
    with api(portal, "alice") as client:
        why = client.get(f"/v1/tasks/{task_id}/explain").json()
    assert not why["placeable"]
    expect(explanation).to_contain_text(why["summary"])
    assert explanation.locator("li").count() == len(why["verdicts"]) > 0
    # Grouped by plugin and shortfall, each group's closest nodes first.
    group = why["refusals"][0]
    rows = explanation.locator("#refusals tbody tr")
    expect(rows.first).to_contain_text(f"{group['plugin']} — {group['kind']}: {group['count']}")
    expect(rows.nth(1)).to_contain_text(group["closest"][0]["node_id"])
    expect(rows.nth(1)).to_contain_text(group["closest"][0]["reason"])
    expect(rows).to_have_count(sum(1 + len(g["closest"]) for g in why["refusals"]))
    # "Why not node X?" for one node named by the user.
    node = why["verdicts"][0]["node_id"]
    page.fill("#why-not [name=node]", node)
    page.click("#why-not button")
    expect(page.locator("#why-not .verdict")).to_contain_text(why["verdicts"][0]["reason"])
    page.screenshot(path=str(artifacts / "refused-task.png"), full_page=True)


def test_a_placed_task_shows_why_here(page: Page, portal: Portal, artifacts: Path) -> None:
    log_in(page, portal, "alice")
    task_id = submit_through_form(page, {"ingress_site": INGRESS, "work_gflop": "5"})
    explanation = page.locator("#explanation")
    expect(explanation).to_contain_text("Why here:")
    with api(portal, "alice") as client:
        task = client.get(f"/v1/tasks/{task_id}").json()
        why = client.get(f"/v1/tasks/{task_id}/explain").json()
    assert task["state"] == "scheduled"  # no agent runs it here
    here = why["why_here"]
    chosen = here["chosen"]
    expect(explanation.locator(".why-here .headline")).to_contain_text(
        f"{chosen['node_id']} scores {chosen['score']:.1f} of {here['score_max']:g} points"
    )
    # One row per score plugin and the total, which is the sum of the weighted points.
    rows = explanation.locator("#why-here tbody tr")
    expect(rows).to_have_count(len(chosen["scores"]) + 1)
    plugins = rows.locator("td:first-child").all_inner_texts()
    assert plugins == [p["plugin"] for p in chosen["scores"]] + ["total"]
    expect(rows.last).to_contain_text(f"{chosen['score']:.1f}")
    # The chosen node and the runners-up, best first, with their estimates.
    ranked = explanation.locator("#alternatives tbody tr td:first-child").all_inner_texts()
    assert ranked == [f"{chosen['node_id']} (chosen)"] + [
        a["node_id"] for a in here["alternatives"]
    ]
    network = f"{here['alternatives'][0]['estimate']['network_ms']:.2f}"
    expect(explanation.locator("#alternatives tbody tr").nth(1)).to_contain_text(network)
    expect(explanation).to_contain_text(f"Placed on {task['placement']['node_id']}")
    page.screenshot(path=str(artifacts / "placed-task-why-here.png"), full_page=True)


def test_a_wrong_token_is_refused(page: Page, portal: Portal, artifacts: Path) -> None:
    page.goto(portal.url + "/")
    page.fill("#token", "swt_not-a-token")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("Token refused")
    expect(page.locator("#portal")).to_be_hidden()
    assert page.locator("#map-sites .site").count() == 0
    assert page.locator("#tasks tbody tr").count() == 0
    assert page.evaluate("sessionStorage.length") == 0
    page.screenshot(path=str(artifacts / "wrong-token.png"), full_page=True)


def test_views_are_scoped_to_the_tenant_and_live(page: Page, portal: Portal) -> None:
    with api(portal, "alice") as client:
        response = client.post("/v1/tasks", json={"work_gflop": 1.0, "ingress_site": INGRESS})
        assert response.status_code == 201, response.text
        alices = response.json()["id"]
    log_in(page, portal, "bob")
    expect(page.locator("#whoami")).to_contain_text("tenant globex")
    page.wait_for_timeout(500)
    assert page.locator(f"#tasks tbody tr[data-id='{alices}']").count() == 0

    # Bob's own task, submitted elsewhere, appears without a reload (polling).
    with api(portal, "bob") as client:
        bobs = client.post("/v1/tasks", json={"work_gflop": 1.0, "ingress_site": INGRESS})
        assert bobs.json()["state"] == "scheduled"
        bobs = bobs.json()["id"]
    expect(page.locator(f"#tasks tbody tr[data-id='{bobs}']")).to_be_visible()
    assert page.locator(f"#tasks tbody tr[data-id='{alices}']").count() == 0
    # The state filter asks the server for one state only.
    page.select_option("#filter-state", "rejected")
    expect(page.locator(f"#tasks tbody tr[data-id='{bobs}']")).to_have_count(0)


def test_twin_runs_are_compared(page: Page, portal: Portal, artifacts: Path) -> None:
    log_in(page, portal, "alice")
    page.click("#tabs button[data-tab=twin]")
    page.select_option("#twin-scenario", "campus")
    page.fill("#twin-form [name=duration_s]", "5")
    page.click("#twin-form button[type=submit]")
    expect(page.locator("#twin-status")).to_contain_text("Started 2 run(s)")
    runs = page.locator("#twin-runs .twin-run")
    expect(runs).to_have_count(2)
    for i in range(2):
        expect(runs.nth(i).locator("h4")).to_contain_text("done", timeout=60_000)
        expect(runs.nth(i).locator("img")).to_have_count(1)
    charts = page.locator("#twin-compare svg.compare")
    expect(charts).to_have_count(5)
    expect(charts.first.locator("rect")).to_have_count(2)
    labels = charts.first.locator("text").all_text_contents()
    assert {"cats-joint (campus)", "nearest (campus)"} <= set(labels)
    page.screenshot(path=str(artifacts / "twin-runs.png"), full_page=True)


def test_a_nodes_levels_are_shown_to_its_keepers(
    page: Page, portal: Portal, artifacts: Path
) -> None:
    # The node's agent binds its key and sends one signed report.
    keys = KeyPair.generate(KeyRole.AGENT)
    agent = Principal(
        "web-agent",
        "acme-compute",
        frozenset({Role.AGENT}),
        frozenset({PROVIDER_NODE}),
        keys.key_id,
    )
    token = portal.add_principal(agent)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=portal.url, headers=headers, timeout=10.0) as client:
        key = base64.b64encode(keys.public_bytes).decode()
        bound = client.put(f"/v1/agents/{PROVIDER_NODE}/key", json={"public_key": key})
        assert bound.status_code == 200, bound.text
        report = MetricReport(
            PROVIDER_NODE, {"load_ratio": 0.25, "cpu_free_cores": 12.0}, time.time()
        )
        wire = sign_report(keys, report).to_wire().decode()
        sent = client.post(f"/v1/agents/{PROVIDER_NODE}/metrics", json={"envelope": wire})
        assert sent.status_code == 200, sent.text
    with api(portal, "ops") as client:
        levels = client.get(f"/v1/nodes/{PROVIDER_NODE}/levels").json()

    log_in(page, portal, "ops")
    site = PROVIDER_NODE.rsplit("-", 2)[0]
    page.locator(f"#map-sites .site[data-id='{site}']").click()
    page.locator(f"#nodes tbody tr[data-id='{PROVIDER_NODE}']").click()
    detail = page.locator("#node-detail")
    expect(detail).to_contain_text(f"L2 {levels['l2']:.1f} / 10")
    rows = detail.locator("table.levels tr")
    expect(rows).to_have_count(len(levels["l1"]) + len(levels["l0"]))
    expect(detail).to_contain_text("load_ratio")
    page.screenshot(path=str(artifacts / "node-levels.png"), full_page=True)
