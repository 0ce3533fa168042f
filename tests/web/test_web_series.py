"""The time-series tab, the twin runs' series, and polls of an unchanged load answered by 304."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import CPU_TASK, Server, make_settings, seed_principals
from playwright.sync_api import Page, expect
from web_support import Portal, api, log_in

pytestmark = pytest.mark.timeout(180)

# True once the named line of the chart has left its baseline (a value above zero).
RISEN = """([title, series]) => {
  const svg = document.querySelector(`#series-charts svg.chart[data-title="${title}"]`);
  if (!svg) return false;
  const base = Number(svg.querySelector("line.axis").getAttribute("y2"));
  return [...svg.querySelectorAll(`polyline[data-series="${series}"]`)].some((line) =>
    line.getAttribute("points").split(" ").some((p) => Number(p.split(",")[1]) < base - 0.5));
}"""


@pytest.fixture(scope="module")
def sampled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """A server that samples its series on every tick of its writer (about once a second)."""
    root = tmp_path_factory.mktemp("series")
    settings = make_settings(root)
    tokens = seed_principals(settings)
    server = Server(root / "data", root / "server.log")
    server.env["SUANWANG_SERIES_PERIOD_S"] = "0.1"
    try:
        server.start()
        yield Portal(server, settings, tokens)
    finally:
        server.stop()


def test_the_series_tab_draws_arrivals_and_utilisation(
    page: Page, sampled: Portal, artifacts: Path
) -> None:
    log_in(page, sampled, "alice")
    with api(sampled, "alice") as alice:
        for _ in range(4):
            created = alice.post("/v1/tasks", json={**CPU_TASK, "cpu_cores": 2.0})
            assert created.status_code == 201, created.text
    page.click("#tabs button[data-tab=series]")
    expect(page.locator("#tab-series")).to_be_visible()
    charts = page.locator("#series-charts svg.chart")
    expect(charts).to_have_count(4)
    page.wait_for_function(RISEN, arg=["Tasks per interval", "arrived"])
    page.wait_for_function(RISEN, arg=["Tasks per interval", "placed"])
    # Placed tasks hold cores: some tier's and some site's line rises too.
    tiers = page.locator('#series-charts svg.chart[data-title="CPU cores reserved per tier"]')
    expect(tiers.locator("polyline").first).to_be_attached()
    sites = page.locator('#series-charts svg.chart[data-title="CPU cores reserved, busiest sites"]')
    expect(sites.locator("polyline").first).to_be_attached()
    expect(page.locator("#series-info")).to_contain_text("samples")
    page.select_option("#lang", "zh")
    expect(page.locator("#tabs [data-tab=series]")).to_have_text("时间序列")
    expect(page.locator("#series-charts svg.chart").first).to_have_attribute(
        "data-title", "每个区间的任务数"
    )
    page.select_option("#lang", "en")
    page.screenshot(path=str(artifacts / "series.png"), full_page=True)


def test_an_unchanged_load_is_answered_by_304(page: Page, sampled: Portal) -> None:
    log_in(page, sampled, "alice")
    # The first poll fetched the load; with nothing placed or freed since, a later one is 304.
    with page.expect_response(
        lambda r: r.url.endswith("/v1/load") and r.status == 304, timeout=20_000
    ) as answered:
        pass
    assert answered.value.headers.get("etag")
    expect(page.locator("#map-sites .site").first).to_be_attached()


def test_twin_runs_are_drawn_over_simulated_time(
    page: Page, sampled: Portal, artifacts: Path
) -> None:
    log_in(page, sampled, "alice")
    page.click("#tabs button[data-tab=twin]")
    page.select_option("#twin-scenario", "campus")
    page.fill("#twin-form [name=duration_s]", "5")
    page.click("#twin-form button[type=submit]")
    runs = page.locator("#twin-runs .twin-run")
    expect(runs).to_have_count(2)
    for i in range(2):
        expect(runs.nth(i).locator("h4")).to_contain_text("done", timeout=60_000)
    charts = page.locator("#twin-series svg.chart")
    expect(charts).to_have_count(4)
    arrivals = page.locator('#twin-series svg.chart[data-title="Arrivals per bucket"]')
    expect(arrivals.locator('polyline[data-series="cats-joint (campus)"]')).to_have_count(1)
    expect(arrivals.locator('polyline[data-series="nearest (campus)"]')).to_have_count(1)
    page.screenshot(path=str(artifacts / "twin-series.png"), full_page=True)
