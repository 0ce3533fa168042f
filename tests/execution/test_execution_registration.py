"""End to end: a provider registers a node at runtime, enrols its agent, the node gets work;
then the provider retires it and the service running there moves without a break, from its
instance (CSCI-ID) on the node to its other instance. The provider cannot drain another's node.

A real server and real agent processes on loopback; the provider registers and enrols with
the command line (``site | link | node register``, ``agent enroll``) and retires over HTTP
(``node retire`` is tested in ``tests/cli``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from suanwang.cli.localnet import LocalNet

SCENARIO = """\
version: 1
name: registration
sites:
  - {id: users, tier: terminal}
  - {id: edge-a, tier: edge}
nodes:
  - {id: keep-1, site: edge-a, cpu_cores: 2, mem_gib: 8, cpu_peak_gflops: {fp64: 0.01, fp32: 0.02}}
links:
  - {a: users, b: edge-a, bandwidth_mbps: 1000, latency_ms: 3}
"""
SITE = "id: edge-new\ntier: edge\n"
LINK = "{a: users, b: edge-new, bandwidth_mbps: 1000, latency_ms: 1}\n"
NODE = (
    "id: new-1\nsite: edge-new\ncpu_cores: 2\nmem_gib: 8\n"
    "cpu_peak_gflops: {fp64: 0.01, fp32: 0.02}\n"
)
TASK = {"work_gflop": 0.05, "cpu_cores": 1.0, "ingress_site": "users", "task_type": "transcode"}
SERVICE = {
    "work_gflop": 600.0,  # long enough here to be retired mid-run (about 5 s)
    "cpu_cores": 1.0,
    "mem_gib": 0.5,
    "ingress_site": "users",
    "task_type": "inference",
    "service_id": "cs-infer",
    "long_running": True,
}
INSTANCES = {
    "id": "cs-infer",
    "instances": [{"id": "csci-new", "node": "new-1"}, {"id": "csci-keep", "node": "keep-1"}],
}
FINAL = {"completed", "failed", "rejected", "cancelled"}


def _until(what: str, check: Any, timeout_s: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy; bounded in time."""
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)
    return found


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "suanwang", *args]
    env = {**os.environ, "COLUMNS": "250"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    scenario = tmp_path / "registration.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    local = LocalNet(tmp_path / "data", scenario=str(scenario))
    try:
        local.start_server()
        yield local
    finally:
        local.close()


def _provider_token(net: LocalNet) -> str:
    with net.client() as client:
        body = {"id": "prov", "tenant": "prov-co", "roles": ["provider"], "node_ids": []}
        client.post("/v1/principals", json=body).raise_for_status()
        return str(client.post("/v1/principals/prov/tokens").raise_for_status().json()["token"])


def _task(client: httpx.Client, task_id: str) -> dict[str, Any]:
    return dict(client.get(f"/v1/tasks/{task_id}").raise_for_status().json())


def test_a_node_registered_at_runtime_gets_work_and_retires_without_a_break(
    net: LocalNet, tmp_path: Path
) -> None:
    net.start_agent("keep-1", interval_s=0.2)
    provider = ["--url", net.url, "--token", _provider_token(net)]
    for name, text in (("site", SITE), ("link", LINK), ("node", NODE)):
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    _cli("site", "register", "-f", str(tmp_path / "site.yaml"), *provider)
    _cli("link", "register", "-f", str(tmp_path / "link.yaml"), *provider)
    made = _cli(
        "node", "register", "-f", str(tmp_path / "node.yaml"), "--enrol-ttl", "600",
        "-o", "json", *provider,
    )  # fmt: skip
    registered = json.loads(made.stdout)
    assert (registered["version"], registered["body"]["owner"]) == (3, "prov-co")
    with net.client() as client:
        assert client.get("/v1/nodes/new-1").json()["state"] == "no-agent"
    credentials = tmp_path / "new-1.json"
    _cli(
        "agent", "enroll", "--server", net.url, "--enrol-token", registered["enrol_token"],
        "--node", "new-1", "--credentials", str(credentials),
    )  # fmt: skip
    command = [sys.executable, "-m", "suanwang", "agent", "--credentials", str(credentials)]
    command += ["--interval-s", "0.2", "--load-source", "workers"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with (tmp_path / "agent-new-1.log").open("ab") as log:
        agent = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    net.agents["new-1"], net._started = agent, [*net._started, agent]
    with net.client(provider[-1]) as client:  # a provider acts on its own nodes only
        refused = client.post("/v1/nodes/keep-1/drain", json={"reason": "not mine"})
        assert refused.status_code == 403, refused.text
    with net.client() as client:
        client.post("/v1/services", json=INSTANCES).raise_for_status()
        _until("new-1 up", lambda: client.get("/v1/nodes/new-1").json()["state"] == "up")
        net.wait_heartbeats(["keep-1", "new-1"])
        # Work within one cycle: with keep-1 drained the next placement is the new node.
        client.post("/v1/nodes/keep-1/drain", json={"reason": "room"}).raise_for_status()
        created = client.post("/v1/tasks", json=TASK)
        assert created.status_code == 201, created.text
        assert created.json()["placement"]["node_id"] == "new-1"
        task_id = created.json()["id"]
        done = _until("task final", lambda: (d := _task(client, task_id))["state"] in FINAL and d)
        assert done["state"] == "completed", done["reason"]
        assert done["reason"].startswith("completed on new-1 ")

        service = client.post("/v1/tasks", json=SERVICE).raise_for_status().json()
        assert (service["placement"]["node_id"], service["placement"]["instance_id"]) == (
            "new-1",
            "csci-new",
        )
        _until("service running", lambda: _task(client, service["id"])["state"] == "running")
        client.post("/v1/nodes/keep-1/up").raise_for_status()

    with net.client(provider[-1]) as client:
        retired = client.post("/v1/nodes/new-1/retire", json={"reason": "lease over"})
    assert retired.json() == {"id": "new-1", "state": "retired", "moving": 1}
    with net.client() as client:
        doc = _until(
            "service final",
            lambda: (d := _task(client, service["id"]))["state"] in FINAL and d,
            timeout_s=120.0,
        )
        assert doc["state"] == "completed", doc["reason"]
        assert (doc["placement"]["node_id"], doc["placement"]["instance_id"]) == (
            "keep-1",
            "csci-keep",
        )
        match = re.match(r"completed on (\S+) ", doc["reason"])
        assert match, doc["reason"]
        assert match.group(1) == "keep-1", doc["reason"]
        states = [step["to_state"] for step in doc["history"]]
        reasons = [step["reason"] for step in doc["history"]]
        # Serving all along: RUNNING on new-1 until the replacement started on keep-1.
        assert states == ["pending", "scheduled", "running", "running", "running", "completed"]
        assert "node new-1 draining: retired: lease over" in reasons[3]
        assert "moved to keep-1 without a break" in reasons[4]
        _until(
            "new-1 down for good",
            lambda: (
                "node.retired"
                in {e["action"] for e in client.get("/v1/audit", params={"limit": 1000}).json()}
            ),
        )
        assert client.get("/v1/nodes/new-1").json()["state"] == "retired"
        actions = [e["action"] for e in client.get("/v1/audit", params={"limit": 1000}).json()]
        assert {"site.register", "link.register", "node.register", "node.retire"} <= set(actions)
        assert {"agent.enrol", "agent.key"} <= set(actions)
