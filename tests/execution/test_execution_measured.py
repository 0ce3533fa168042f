"""End to end: what real agents measure decides where work goes (a real server, real agents).

* Load: every agent offers one core (``--cpu-cores 1``) and measures its own workers' CPU time.
  A CPU-bound task saturates the core of the node it lands on; that node's agent reports it
  full, and no new task lands there while the ledger alone would still have room (2 cores).
* Latency: agents probe the links the control plane assigns them and post the RTTs. The cloud
  is reached over edge-north (1 + 6 ms) or edge-south (2 + 6 ms); when edge-north's echo
  endpoint answers slowly, the measured latency of the cloud's link to it rises and new tasks
  for the cloud are routed over edge-south.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from suanwang.cli.localnet import THREE_SITES_NODES, USERS_SITE, LocalNet, write_three_sites
from suanwang.execution.netprobe import EchoServer

HEARTBEAT_S = 0.3
FINAL = {"completed", "failed", "rejected", "cancelled"}

# The cloud's link to edge-north is probed from the cloud (its ``a`` end) against edge-north's
# echo endpoint; edge-south probes its own link to the cloud. Only the cloud can take a 2-core
# task.
ROUTES = """\
version: 1
name: measured-routes
node_profiles:
  small: {cpu_cores: 1, mem_gib: 4, cpu_peak_gflops: {fp64: 10, fp32: 20}, price_per_hour: 0.5}
  big: {cpu_cores: 4, mem_gib: 16, cpu_peak_gflops: {fp64: 40, fp32: 80}, price_per_hour: 0.5}
sites:
  - {id: users, tier: terminal}
  - {id: edge-north, tier: edge}
  - {id: edge-south, tier: edge}
  - {id: cloud, tier: region}
nodes:
  - {id: edge-north-1, site: edge-north, profile: small}
  - {id: edge-south-1, site: edge-south, profile: small}
  - {id: cloud-1, site: cloud, profile: big}
links:
  - {id: users-north, a: users, b: edge-north, bandwidth_mbps: 1000, latency_ms: 1}
  - {id: users-south, a: users, b: edge-south, bandwidth_mbps: 1000, latency_ms: 2}
  - {id: cloud-north, a: cloud, b: edge-north, bandwidth_mbps: 10000, latency_ms: 6}
  - {id: south-cloud, a: edge-south, b: cloud, bandwidth_mbps: 10000, latency_ms: 6}
"""


def _submit(client: httpx.Client, body: dict[str, Any]) -> str:
    response = client.post("/v1/tasks", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _wait(client: httpx.Client, task_id: str, states: set[str], timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (doc := client.get(f"/v1/tasks/{task_id}").json())["state"] not in states:
        assert time.monotonic() < deadline, f"task never reached {states}: {doc['reason']}"
        time.sleep(0.05)
    return dict(doc)


def _load(client: httpx.Client, node: str) -> float:
    values = client.get(f"/v1/nodes/{node}/metrics").json()["values"]
    return float(values.get("load_ratio", 0.0))


@pytest.fixture
def loaded_net(tmp_path: Path) -> Iterator[LocalNet]:
    scenario = write_three_sites(tmp_path)
    local = LocalNet(tmp_path / "data", scenario=str(scenario))
    try:
        local.start_server()
        for node in THREE_SITES_NODES:
            local.start_agent(node, interval_s=HEARTBEAT_S, cpu_cores=1.0)
        local.wait_heartbeats(list(THREE_SITES_NODES))
        yield local
    finally:
        local.close()


def test_a_node_whose_agent_reports_full_load_gets_no_new_work(loaded_net: LocalNet) -> None:
    busy_body = {
        "work_gflop": 1000.0,
        "cpu_cores": 1.0,
        "ingress_site": USERS_SITE,
        "task_type": "matmul",
        "task_class": "cold",
    }
    with loaded_net.client() as client:
        busy = _wait(client, _submit(client, busy_body), {"running"}, timeout_s=30.0)
        hot = busy["placement"]["node_id"]
        deadline = time.monotonic() + 30.0
        while _load(client, hot) < 0.5:
            assert time.monotonic() < deadline, "the busy node never reported its load"
            time.sleep(0.05)
        quiet = [node for node in THREE_SITES_NODES if node != hot]
        assert all(_load(client, node) < 0.5 for node in quiet)
        short = busy_body | {"work_gflop": 0.05, "task_type": "transcode", "task_class": "hot"}
        probe = _submit(client, short)
        # The writer's feed gives the state the report at its next tick (about a second).
        deadline = time.monotonic() + 10.0
        while True:
            why = client.get(f"/v1/tasks/{probe}/explain", params={"node_id": hot}).json()
            verdict = why["why_not"]
            if verdict is not None and verdict["plugin"] == "resource-fit":
                break
            assert time.monotonic() < deadline, f"{hot} was never turned away: {why}"
            time.sleep(0.1)
        assert "measured by its agent" in verdict["reason"]
        placed = [_wait(client, probe, FINAL, 30.0)]
        placed += [_wait(client, _submit(client, short), FINAL, 30.0) for _ in range(3)]
        assert client.get(f"/v1/tasks/{busy['id']}").json()["state"] == "running"
    assert [doc["state"] for doc in placed] == ["completed"] * 4, [d["reason"] for d in placed]
    assert {doc["placement"]["node_id"] for doc in placed} <= set(quiet)


@pytest.fixture
def probing_net(tmp_path: Path) -> Iterator[LocalNet]:
    scenario = tmp_path / "routes.yaml"
    scenario.write_text(ROUTES, encoding="utf-8")
    local = LocalNet(tmp_path / "data", scenario=str(scenario))
    cores = {"edge-north-1": 1.0, "edge-south-1": 1.0, "cloud-1": 4.0}
    try:
        local.start_server()
        for node in THREE_SITES_NODES:
            local.start_agent(
                node, interval_s=HEARTBEAT_S, cpu_cores=cores[node], probe_interval_s=0.3
            )
        local.wait_heartbeats(list(THREE_SITES_NODES))
        yield local
    finally:
        local.close()


def _segments_to_cloud(client: httpx.Client) -> tuple[list[str], float]:
    body = {"work_gflop": 0.05, "cpu_cores": 2.0, "ingress_site": USERS_SITE}
    doc = _wait(client, _submit(client, body), FINAL, timeout_s=30.0)
    assert doc["state"] == "completed", doc["reason"]
    placement = doc["placement"]
    assert placement["node_id"] == "cloud-1"
    return list(placement["segments"]), float(placement["estimate"]["network_ms"])


def test_a_link_whose_measured_rtt_rises_is_routed_around(probing_net: LocalNet) -> None:
    with probing_net.client() as client:
        # Loopback RTTs are well under a millisecond: once both cloud links are measured and
        # past the hold-down, the round trip over edge-north drops from 14 ms to about 2 ms.
        # (While only south-cloud is measured, the route goes south: the probes' order decides.)
        deadline = time.monotonic() + 30.0
        while True:
            segments, network_ms = _segments_to_cloud(client)
            if segments == ["users-north", "cloud-north"] and network_ms < 4.0:
                break
            assert time.monotonic() < deadline, f"measured latency never used: {network_ms} ms"
        # edge-north's echo endpoint now answers 30 ms late: the cloud measures that link slow.
        token, _ = probing_net.enrol("edge-north-1")
        with EchoServer(delay_s=0.03) as slow:
            agent = httpx.Client(
                base_url=probing_net.url, headers={"Authorization": f"Bearer {token}"}
            )
            with agent:
                where = {"host": slow.host, "port": slow.port}
                agent.put("/v1/agents/edge-north-1/echo", json=where).raise_for_status()
            deadline = time.monotonic() + 40.0
            while True:
                segments, network_ms = _segments_to_cloud(client)
                if segments == ["users-south", "south-cloud"]:
                    break
                assert segments == ["users-north", "cloud-north"]
                assert time.monotonic() < deadline, "the slow link was never routed around"
    # users-south is configured (2 ms, no agent at users), south-cloud measured on loopback
    assert 4.0 <= network_ms < 6.0
