"""The map's colours: a site is as loaded as its most constrained resource (GPUs here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from web_support import Portal, api, log_in

pytestmark = pytest.mark.timeout(120)

# A GPU hub with plenty of cores and a terminal whose one small node has no accelerator:
# eight GPU tasks take every GPU of the hub and an eighth of its cores.
GPU_SCENARIO = """
version: 1
name: gpu-hub
description: A terminal and a GPU hub.
node_profiles:
  gpu-box:
    cpu_cores: 32
    mem_gib: 256
    cpu_peak_gflops: {fp64: 800, fp32: 1600}
    accelerators:
      - {kind: gpu, model: A100-80G, count: 4, mem_gib: 80, power_w: 400,
         peak_gflops: {fp64: 9700, fp32: 19500, fp16: 312000, int8: 624000}}
    idle_power_w: 300
    peak_power_w: 2400
sites:
  - {id: user-a, tier: terminal, geo: {lat_deg: 39.9, lon_deg: 116.4}}
  - {id: hub-west, tier: hub, region: CN-NX, geo: {lat_deg: 38.5, lon_deg: 106.3}}
nodes:
  - {id: gpu, site: hub-west, profile: gpu-box, count: 2}
  - {id: edge-box, site: user-a, cpu_cores: 4, mem_gib: 8}
links:
  - {a: user-a, b: hub-west, bandwidth_mbps: 10000, latency_ms: 10}
"""
GPU_TASK = {
    "work_gflop": 10.0,
    "cpu_cores": 1.0,
    "mem_gib": 1.0,
    "accelerator": {"kind": "gpu", "count": 1},
    "ingress_site": "user-a",
}


def fill(page: Page, selector: str) -> str:
    return str(page.locator(selector).evaluate("e => getComputedStyle(e).fill"))


def test_a_site_whose_gpus_are_full_is_drawn_full(
    page: Page, portal: Portal, artifacts: Path
) -> None:
    with api(portal, "ops") as ops:
        loaded = ops.post("/v1/scenarios/live", json={"text": GPU_SCENARIO, "format": "yaml"})
        assert loaded.status_code == 200, loaded.text
    log_in(page, portal, "alice")
    hub = "#map-sites .site[data-id='hub-west']"
    expect(page.locator(hub)).to_have_attribute("data-load", "0.000")
    free = page.locator("#scale .swatch[data-share='0']").evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    full = page.locator("#scale .swatch[data-share='1']").evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    assert free != full
    assert fill(page, hub) == free
    expect(page.locator(f"{hub} title")).to_contain_text("gpu 8/8 free")

    with api(portal, "alice") as client:
        for _ in range(8):
            task = client.post("/v1/tasks", json=GPU_TASK).json()
            assert task["state"] == "scheduled", task["reason"]
        ninth = client.post("/v1/tasks", json=GPU_TASK).json()
        assert ninth["state"] in ("pending", "rejected")  # every GPU is taken: it waits
    # The hub's cores are an eighth reserved, its GPUs all: it is drawn full, not free.
    expect(page.locator(hub)).to_have_attribute("data-load", "1.000")
    expect(page.locator(hub)).to_have_attribute("data-binding", "gpu")
    assert fill(page, hub) == full
    assert fill(page, "#map-sites .site[data-id='user-a']") == free
    title = page.locator(f"{hub} title")
    expect(title).to_contain_text("most constrained: gpu 100%")
    expect(title).to_contain_text("cpu 13%")
    expect(title).to_contain_text("gpu 0/8 free")
    expect(title).to_contain_text("2 of 2 nodes full")
    page.screenshot(path=str(artifacts / "gpu-site-full.png"), full_page=True)

    # The nodes table says how many devices each node has free.
    page.locator(hub).click()
    rows = page.locator("#nodes tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first.locator("td:nth-child(6)")).to_have_text("gpu 0/4 free")
