"""The task list (newest first, paged by the server, searched, counted) and the submit form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from api_support import INGRESS
from playwright.sync_api import Page, expect
from web_support import Portal, api, log_in

from suanwang.control.stores import Principal, Role
from suanwang.scenario import load_builtin

pytestmark = pytest.mark.timeout(180)

# More than a thousand, as an operator's live plane holds: the newest must come first.
TASKS = 1_000
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# Small enough that TASKS of them fit the network many times over.
TINY = {"work_gflop": 0.5, "cpu_cores": 0.01, "mem_gib": 0.01, "ingress_site": INGRESS}


def test_more_tasks_than_a_page_newest_first_with_a_count(
    page: Page, portal: Portal, artifacts: Path
) -> None:
    # A tenant of its own: the count is of this test's tasks only.
    portal.add_principal(Principal("dora", "initech", frozenset({Role.CONSUMER})))
    ids = []
    with api(portal, "dora") as client:
        for i in range(TASKS):
            kind = "bulk-even" if i % 2 == 0 else "bulk-odd"
            response = client.post("/v1/tasks", json={**TINY, "task_type": kind})
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
    log_in(page, portal, "dora")
    rows = page.locator("#tasks tbody tr")
    expect(page.locator("#task-count")).to_have_text(f"showing 50 of {TASKS}, newest first")
    expect(rows).to_have_count(50)
    listed = rows.evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert listed == ids[::-1][:50]
    submitted = rows.locator("td:nth-child(5)").all_inner_texts()
    assert all(ISO.match(t) for t in submitted), submitted[:3]
    page.screenshot(path=str(artifacts / "tasks-newest-first.png"), full_page=True)

    # Older pages follow the server's cursor; the oldest task is on the last one.
    page.click("#tasks-older")
    expect(page.locator("#task-count")).to_have_text(f"showing 51–100 of {TASKS}, newest first")
    expect(rows.first).to_have_attribute("data-id", ids[-51])
    for _ in range(TASKS // 50 - 2):
        page.click("#tasks-older")
    expect(page.locator("#task-count")).to_have_text(
        f"showing {TASKS - 49}–{TASKS} of {TASKS}, newest first"
    )
    expect(rows.last).to_have_attribute("data-id", ids[0])
    expect(page.locator("#tasks-older")).to_be_disabled()
    page.click("#tasks-newer")
    expect(rows.first).to_have_attribute("data-id", ids[-(TASKS - 99)])

    # A search by type goes back to the newest page of that type; by id prefix, to one task.
    page.fill("#task-search", "bulk-odd")
    page.press("#task-search", "Enter")
    expect(page.locator("#task-count")).to_have_text(f"showing 50 of {TASKS // 2}, newest first")
    expect(rows.first).to_have_attribute("data-id", ids[-1])
    page.fill("#task-search", ids[123][:10])
    page.press("#task-search", "Enter")
    expect(page.locator("#task-count")).to_have_text("showing 1 of 1, newest first")
    expect(rows.first).to_have_attribute("data-id", ids[123])

    # A task submitted now appears on top without a reload, and the count follows.
    page.fill("#task-search", "")
    page.press("#task-search", "Enter")
    with api(portal, "dora") as client:
        late = client.post("/v1/tasks", json=TINY).json()["id"]
    expect(rows.first).to_have_attribute("data-id", late)
    expect(page.locator("#task-count")).to_have_text(f"showing 50 of {TASKS + 1}, newest first")


def test_the_form_submits_a_catalogue_type_unchanged(page: Page, portal: Portal) -> None:
    log_in(page, portal, "alice")
    catalogue = {t.name: t.spec for t in load_builtin("metro-edge").workload.task_types}
    spec = catalogue["ar-vr-frame"]
    page.click("#tabs button[data-tab=submit]")
    page.fill("#submit-form [name=task_type]", "ar-vr-frame")
    page.select_option("#submit-form [name=ingress_site]", INGRESS)
    page.click("#submit-form button[type=submit]")
    expect(page.locator("#task-detail h3")).to_contain_text("Task ")
    task_id = page.locator("#task-detail h3").inner_text().removeprefix("Task ").strip()
    with api(portal, "alice") as client:
        stored = client.get(f"/v1/tasks/{task_id}").json()["spec"]
    assert stored["task_type"] == "ar-vr-frame"
    assert stored["task_class"] == spec.task_class.value == "hot"
    assert stored["work_gflop"] == spec.work_gflop
    assert stored["cpu_cores"] == spec.cpu_cores
    assert stored["mem_gib"] == spec.mem_gib
    assert stored["data_in_mb"] == spec.data_in_mb
    assert stored["latency_budget_ms"] == spec.latency_budget_ms
    assert spec.accelerator is not None
    assert stored["accelerator"]["kind"] == spec.accelerator.kind.value
    assert stored["ingress_site"] == INGRESS


def test_the_form_checks_its_numbers_and_fits_a_narrow_window(
    page: Page, portal: Portal, artifacts: Path
) -> None:
    page.set_viewport_size({"width": 360, "height": 800})
    log_in(page, portal, "alice")
    with api(portal, "alice") as client:
        before = client.get("/v1/tasks", params={"include_total": True}).json()["total"]
    page.click("#tabs button[data-tab=submit]")
    # Never wider than the window: nothing scrolls sideways.
    width = "document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(width)
    page.fill("#submit-form [name=work_gflop]", "-3")
    page.fill("#submit-form [name=cpu_cores]", "-1")
    page.fill("#submit-form [name=latency_budget_ms]", "0")
    page.click("#submit-form button[type=submit]")
    expect(page.locator("#error-work_gflop")).to_have_text("Work (GFLOP) must be more than 0")
    expect(page.locator("#error-cpu_cores")).to_have_text("CPU cores must be 0 or more")
    expect(page.locator("#error-latency_budget_ms")).to_contain_text("must be more than 0")
    expect(page.locator("#submit-result")).to_contain_text("Not sent")
    expect(page.locator("#submit-form [name=work_gflop]")).to_have_attribute("aria-invalid", "")
    assert page.evaluate(width)
    page.screenshot(path=str(artifacts / "submit-form-errors.png"), full_page=True)
    # Neither work nor a type: said so before anything is sent.
    for name in ("work_gflop", "cpu_cores", "latency_budget_ms"):
        page.fill(f"#submit-form [name={name}]", "")
    page.click("#submit-form button[type=submit]")
    expect(page.locator("#error-work_gflop")).to_contain_text("unless a catalogue task type")
    expect(page.locator("#error-cpu_cores")).to_have_text("")
    with api(portal, "alice") as client:
        after = client.get("/v1/tasks", params={"include_total": True}).json()["total"]
    assert after == before
    # Corrected, it goes.
    page.fill("#submit-form [name=work_gflop]", "2")
    page.click("#submit-form button[type=submit]")
    expect(page.locator("#task-detail h3")).to_contain_text("Task ")
    expect(page.locator("#error-work_gflop")).to_have_text("")
