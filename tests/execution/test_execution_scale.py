"""End to end: a deployment of a tenant's service scales from 1 to 3 replicas under load and back.

A real server and real agent processes (``LocalNet``, three sites of one 2-core node each). The
service is the tenant's own package, pushed in the test; each replica is a run of it on an
agent. The autoscaling rule reads a replica's load as its node's CPU share in use (held by the
scheduler for what runs there, or measured by the node's agent where higher), so the load here
is work of the same tenant that holds 1.8 of each node's 2 cores: the replica's node goes from
0.05 to 0.95, against a target of 0.45 per replica. Cancelling that work brings the load back,
and after the 2 s stabilisation window the deployment is back to its one replica.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from suanwang.cli.localnet import THREE_SITES_NODES, USERS_SITE, LocalNet, write_three_sites

SERVICE = """
import time
from pathlib import Path


def serve(inputs: Path, outputs: Path) -> None:
    print("serving", flush=True)
    deadline = time.monotonic() + 100.0
    while time.monotonic() < deadline:
        time.sleep(0.2)


def hold(inputs: Path, outputs: Path) -> None:
    time.sleep(60.0)
"""

POLICY = {
    "min_replicas": 1,
    "max_replicas": 3,
    "target_utilisation": 0.45,
    "tolerance": 0.1,
    "scale_down_window_s": 2.0,
}

LOAD_CORES = 1.8
"""Cores each load task holds: one fits on a 2-core node beside a replica, never two."""


def _package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("svc/__init__.py", SERVICE)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    folder: Path = tmp_path_factory.mktemp("net")
    local = LocalNet(folder / "data", scenario=str(write_three_sites(folder)))
    try:
        local.start_server()
        for node in THREE_SITES_NODES:
            local.start_agent(node, interval_s=0.5, workers=3, cpu_cores=2.0)
        local.wait_heartbeats(list(THREE_SITES_NODES))
        yield local
    finally:
        local.close()


def _consumer(net: LocalNet) -> str:
    with net.client() as admin:
        body = {"id": "dora", "tenant": "acme", "roles": ["consumer"]}
        admin.post("/v1/principals", json=body).raise_for_status()
        return str(admin.post("/v1/principals/dora/tokens").raise_for_status().json()["token"])


def _until(
    client: httpx.Client, done: Callable[[dict[str, Any]], bool], timeout_s: float
) -> dict[str, Any]:
    """The deployment once ``done`` holds for it, polled every 0.2 s; fails after the bound."""
    deadline = time.monotonic() + timeout_s
    doc: dict[str, Any] = {}
    while time.monotonic() < deadline:
        doc = client.get("/v1/deployments/web").raise_for_status().json()
        if done(doc):
            return doc
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout_s} s: {doc}")


def _running(count: int) -> Callable[[dict[str, Any]], bool]:
    def check(doc: dict[str, Any]) -> bool:
        states = [r["state"] for r in doc["replicas"]]
        return doc["desired"] == count and states == ["running"] * count

    return check


def test_a_service_scales_out_under_load_and_back_in(net: LocalNet) -> None:
    with net.client(_consumer(net)) as client:
        pushed = client.post("/v1/artefacts", params={"entry": "svc:serve"}, content=_package())
        assert pushed.status_code == 201, pushed.text
        artefact = pushed.json()["digest"]
        task = {"work_gflop": 1.0, "mem_gib": 0.25, "ingress_site": USERS_SITE}
        template = {**task, "artefact": artefact, "cpu_cores": 0.1}
        made = client.post("/v1/deployments", json={"name": "web", "template": template, **POLICY})
        assert made.status_code == 201, made.text

        quiet = _until(client, _running(1), timeout_s=30.0)
        first = quiet["replicas"][0]["task_id"]
        assert quiet["last_decision"]["desired"] == 1

        load = {**task, "artefact": artefact, "entry": "svc:hold", "cpu_cores": LOAD_CORES}
        held = []
        for _ in THREE_SITES_NODES:  # one per node: 1.8 + 1.8 cores do not fit on one
            submitted = client.post("/v1/tasks", json=load)
            assert submitted.status_code == 201, submitted.text
            held.append(submitted.json()["id"])
        loaded_at_s = time.monotonic()
        busy = _until(client, _running(3), timeout_s=30.0)
        scale_up_s = time.monotonic() - loaded_at_s
        assert len({r["site_id"] for r in busy["replicas"]}) == 3  # one replica per site
        assert first in {r["task_id"] for r in busy["replicas"]}
        assert any(event.startswith("up 1 -> 3") for event in busy["events"]), busy["events"]
        assert busy["last_decision"]["measured"] > POLICY["target_utilisation"]
        assert scale_up_s < 30.0

        for task_id in held:
            client.post(f"/v1/tasks/{task_id}/cancel").raise_for_status()
        unloaded_at_s = time.monotonic()
        calm = _until(client, _running(1), timeout_s=30.0)
        scale_down_s = time.monotonic() - unloaded_at_s
        assert [r["task_id"] for r in calm["replicas"]] == [first]  # the newest ones went
        assert any(event.startswith("down 3 -> 1") for event in calm["events"]), calm["events"]
        # the window: a recommendation of 3 was made at most one tick (1 s) before the cancel
        assert scale_down_s >= POLICY["scale_down_window_s"] - 1.0
        for replica in busy["replicas"]:
            if replica["task_id"] != first:
                ended = client.get(f"/v1/tasks/{replica['task_id']}").json()
                assert ended["state"] == "cancelled"
                assert "scaled down" in ended["reason"]

        assert client.delete("/v1/deployments/web").json() == {"cancelled": 1}
