"""End to end with a warm pool: an agent serves a tenant's function from a pre-started process.

A real server (``LocalNet``) on a one-node network and the node's agent in this process with
``warm_per_function=1``, so that the test can wait on its pool: the first run of a function is
cold, the next one, once its process is ready, warm, with the same output.
"""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from suanwang.cli.localnet import LocalNet
from suanwang.execution.agent import AgentConfig, NodeAgent

NODE = "fn-1"
# The node claims less than a busy test machine measures, so that attestation never
# quarantines it in the middle of the test.
ONE_NODE = """\
version: 1
name: one-node
sites:
  - {id: users, tier: terminal, geo: {lat_deg: 22.54, lon_deg: 114.05}}
  - {id: edge, tier: edge, geo: {lat_deg: 22.60, lon_deg: 114.05}}
nodes:
  - {id: fn-1, site: edge, cpu_cores: 2, mem_gib: 16, cpu_peak_gflops: {fp64: 0.5, fp32: 1}}
links:
  - {a: users, b: edge, bandwidth_mbps: 1000, latency_ms: 1}
"""
FINAL = {"completed", "failed", "rejected", "cancelled"}
SHOUT = """
from pathlib import Path


def run(inputs: Path, outputs: Path) -> None:
    text = "".join(p.read_text() for p in sorted(inputs.iterdir()))
    (outputs / "shout.txt").write_text(text.upper())
"""


def _package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("shout/__init__.py", SHOUT)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalNet, NodeAgent]]:
    folder: Path = tmp_path_factory.mktemp("warmnet")
    scenario = folder / "one-node.yaml"
    scenario.write_text(ONE_NODE)
    local = LocalNet(folder / "data", scenario=str(scenario))
    agent: NodeAgent | None = None
    thread: threading.Thread | None = None
    try:
        local.start_server()
        token, key_path = local.enrol(NODE)
        config = AgentConfig(
            controller_url=local.url,
            token=token,
            node_id=NODE,
            key_path=key_path,
            interval_s=0.5,
            poll_s=0.02,
            load_source="workers",
            work_dir=folder / "agent",
            warm_per_function=1,
        )
        agent = NodeAgent(config)
        thread = threading.Thread(target=agent.run, name="agent-fn-1", daemon=True)
        thread.start()
        local.wait_heartbeats([NODE])
        yield local, agent
    finally:
        if agent is not None and thread is not None:
            agent.stopping.set()
            thread.join(60.0)
        local.close()


def _consumer(local: LocalNet, name: str, tenant: str) -> str:
    with local.client() as admin:
        body = {"id": name, "tenant": tenant, "roles": ["consumer"]}
        admin.post("/v1/principals", json=body).raise_for_status()
        return str(admin.post(f"/v1/principals/{name}/tokens").raise_for_status().json()["token"])


def _run(client: httpx.Client, artefact: str, inputs: list[str]) -> dict[str, Any]:
    body = {"work_gflop": 1.0, "cpu_cores": 1.0, "mem_gib": 0.5, "ingress_site": "users"}
    answer = client.post("/v1/tasks", json=body | {"artefact": artefact, "inputs": inputs})
    assert answer.status_code == 201, answer.text
    deadline_s = time.monotonic() + 60.0
    for _ in range(1200):  # 50 ms apart, a minute at most
        doc: dict[str, Any] = client.get(f"/v1/tasks/{answer.json()['id']}").json()
        if doc["state"] in FINAL or time.monotonic() > deadline_s:
            return doc
        time.sleep(0.05)
    return doc


def _output(client: httpx.Client, task_id: str) -> bytes:
    result = client.get(f"/v1/tasks/{task_id}/result")
    assert result.status_code == 200, result.text
    with zipfile.ZipFile(io.BytesIO(result.content)) as archive:
        return archive.read("shout.txt")


def test_a_functions_second_run_is_warm_with_the_same_output(
    net: tuple[LocalNet, NodeAgent],
) -> None:
    local, agent = net
    alice, eve = _consumer(local, "alice", "acme"), _consumer(local, "eve", "rival")
    with local.client(alice) as client, local.client(eve) as other:
        pushed = client.post("/v1/artefacts", params={"entry": "shout:run"}, content=_package())
        assert pushed.status_code == 201, pushed.text
        artefact = pushed.json()["digest"]
        text = client.post("/v1/objects", content=b"warm hello\n").json()["digest"]
        cold = _run(client, artefact, [text])
        assert cold["state"] == "completed", cold["reason"]
        assert ", cold start; staged 11 B of input" in cold["reason"]
        assert agent._warm is not None
        assert agent._warm.wait_settled(timeout_s=30.0)
        warm = _run(client, artefact, [text])
        assert warm["state"] == "completed", warm["reason"]
        assert ", warm start; staged 11 B of input" in warm["reason"]
        assert _output(client, cold["id"]) == _output(client, warm["id"]) == b"WARM HELLO\n"
        # the same package pushed by another tenant: its own digest space, never acme's process
        pushed = other.post("/v1/artefacts", params={"entry": "shout:run"}, content=_package())
        theirs = other.post("/v1/objects", content=b"rival\n").json()["digest"]
        rival = _run(other, pushed.json()["digest"], [theirs])
        assert rival["state"] == "completed", rival["reason"]
        assert ", cold start;" in rival["reason"]
        assert _output(other, rival["id"]) == b"RIVAL\n"
