"""End to end: a provider's machine joins with a one-time token, is attested, and gets work.

A real server and real agent processes on loopback. ``honest-1`` declares a modest fp64 peak
and is enrolled with ``suanwang agent enroll``; ``boaster-1`` declares a peak no machine has
(its real agent's measured rate gives it away); ``liar-1``'s agent is played by the test over
HTTP (signed heartbeats, a wrong answer to the challenge).
"""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from suanwang.cli.localnet import LocalNet
from suanwang.security import KeyPair, MetricReport, Role, sign_report

JOINING = """\
version: 1
name: joining
node_profiles:
  box: {cpu_cores: 2, mem_gib: 8, cpu_peak_gflops: {fp64: 0.01, fp32: 0.02}, price_per_hour: 0.5}
sites:
  - {id: users, tier: terminal}
  - {id: edge-a, tier: edge}
  - {id: edge-b, tier: edge}
  - {id: edge-c, tier: edge}
nodes:
  - {id: honest-1, site: edge-a, profile: box}
  - {id: boaster-1, site: edge-b, profile: box, cpu_peak_gflops: {fp64: 1000000, fp32: 2000000}}
  - {id: liar-1, site: edge-c, profile: box}
links:
  - {a: users, b: edge-a, bandwidth_mbps: 1000, latency_ms: 3}
  - {a: users, b: edge-b, bandwidth_mbps: 1000, latency_ms: 1}
  - {a: users, b: edge-c, bandwidth_mbps: 1000, latency_ms: 1}
"""

SETTINGS = {"attest_interval_s": "0.3", "attest_jitter": "0.2", "attest_trust_after": "3"}
TASK = {"work_gflop": 0.05, "cpu_cores": 1.0, "ingress_site": "users", "task_type": "transcode"}
FINAL = {"completed", "failed", "rejected", "cancelled"}


def _until(what: str, check: Any, timeout_s: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy; bounded in time."""
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.1)
    return found


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "suanwang", *args]
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, env=env
    )


def _trust(client: httpx.Client, node: str) -> dict[str, Any]:
    return dict(client.get(f"/v1/nodes/{node}/trust").raise_for_status().json())


def _enrol_token(client: httpx.Client, node: str) -> str:
    created = client.post("/v1/enrol-tokens", json={"node_id": node, "tenant": "prov"})
    assert created.status_code == 201, created.text
    return str(created.json()["token"])


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    folder = tmp_path_factory.mktemp("joining")
    scenario = folder / "joining.yaml"
    scenario.write_text(JOINING, encoding="utf-8")
    local = LocalNet(folder / "data", scenario=str(scenario), health=SETTINGS)
    try:
        local.start_server()
        yield local
    finally:
        local.close()


def _start_agent(net: LocalNet, credentials: Path, node: str) -> None:
    command = [sys.executable, "-m", "suanwang", "agent", "--credentials", str(credentials)]
    command += ["--interval-s", "0.2", "--load-source", "workers"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with (net.data_dir / f"agent-{node}.log").open("ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    net.agents[node] = process
    net._started.append(process)  # stopped with the network


def _enroll(net: LocalNet, node: str, token: str, credentials: Path) -> None:
    done = _cli(
        "agent",
        "enroll",
        "--server",
        net.url,
        "--enrol-token",
        token,
        "--node",
        node,
        "--credentials",
        str(credentials),
    )
    assert done.returncode == 0, done.stderr


def test_a_provider_enrols_with_a_one_time_token_is_attested_and_gets_work(
    net: LocalNet,
) -> None:
    made = _cli(
        "agent",
        "enrol-token",
        "--node",
        "honest-1",
        "--tenant",
        "prov",
        "--json",
        "--database",
        f"sqlite:///{(net.data_dir / 'suanwang.db').resolve()}",
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.split('"token": "')[1].split('"')[0]
    credentials = net.data_dir / "honest-1.json"
    _enroll(net, "honest-1", token, credentials)
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    _start_agent(net, credentials, "honest-1")
    with net.client() as client:
        standing = _until(
            "honest-1 attested",
            lambda: (t := _trust(client, "honest-1"))["trust"] == "attested" and t,
        )
        assert standing["consistent"] >= 3
        assert standing["claimed_gflops"] == 0.01
        assert standing["measured_gflops"] > standing["claimed_gflops"]
        assert {a["verdict"] for a in standing["attestations"]} == {"consistent"}
        shown = client.get("/v1/nodes/honest-1").json()
        assert shown["attestation"] == "attested"
        assert shown["measured_gflops"] > 0
        listed = _cli("node", "list", "-o", "wide", "--url", net.url, "--token", net.admin_token)
        line = next(row for row in listed.stdout.splitlines() if "honest-1" in row)
        assert "attested" in line, listed.stdout
        assert " 0.01 " in line, listed.stdout
        created = client.post("/v1/tasks", json=TASK)
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]
        done = _ended(client, task_id)
        assert done["state"] == "completed", done["reason"]
        assert done["placement"]["node_id"] == "honest-1"
        actions = [e["action"] for e in client.get("/v1/audit", params={"limit": 1000}).json()]
        assert {"agent.enrol", "agent.key", "node.attest"} <= set(actions)


def test_a_reused_token_is_refused_with_its_reason_and_audited(net: LocalNet) -> None:
    with net.client() as client:
        token = _enrol_token(client, "boaster-1")
        _enroll(net, "boaster-1", token, net.data_dir / "boaster-1.json")
        again = _cli(
            "agent",
            "enroll",
            "--server",
            net.url,
            "--enrol-token",
            token,
            "--node",
            "boaster-1",
            "--credentials",
            str(net.data_dir / "boaster-again.json"),
        )
        assert again.returncode == 2, again.stderr
        assert "refused (used)" in again.stderr
        key = base64.b64encode(KeyPair.generate(Role.AGENT).public_bytes).decode()
        body = {"enrol_token": token, "node_id": "boaster-1", "public_key": key}
        reused = httpx.post(f"{net.url}/v1/enrol", json=body, timeout=30.0)
        assert reused.status_code == 409
        assert reused.json()["reason"] == "used"
        unknown = httpx.post(f"{net.url}/v1/enrol", json=body | {"enrol_token": "swe_x"})
        assert unknown.status_code == 403
        assert unknown.json()["reason"] == "unknown"
        entries = client.get("/v1/audit", params={"limit": 1000}).json()
        refused = [e for e in entries if e["action"] == "agent.enrol-refused"]
        # Coalesced per node and reason a minute: the CLI's and the API's reuse are one entry.
        assert sorted(e["detail"].split(":")[0] for e in refused) == ["unknown", "used"]


def test_an_inflated_claim_puts_the_node_in_quarantine_with_the_reason(net: LocalNet) -> None:
    _start_agent(net, net.data_dir / "boaster-1.json", "boaster-1")
    with net.client() as client:
        standing = _until(
            "boaster-1 quarantined",
            lambda: (t := _trust(client, "boaster-1"))["trust"] == "quarantined" and t,
        )
        assert standing["reason"].startswith("inflated claim: measured")
        assert standing["attestations"][0]["verdict"] == "inflated"
        assert client.get("/v1/nodes/boaster-1").json()["state"] == "quarantined"
        _no_work_on(client, "boaster-1")


def _no_work_on(client: httpx.Client, node: str) -> None:
    """Tasks submitted now go elsewhere, and the node is turned away by its state."""
    for _ in range(3):
        task_id = client.post("/v1/tasks", json=TASK).json()["id"]
        done = _ended(client, task_id)
        assert done["state"] == "completed"
        assert done["placement"]["node_id"] != node
    why = client.get(f"/v1/tasks/{task_id}/explain", params={"node_id": node}).json()
    assert why["why_not"]["plugin"] == "node-health", why["why_not"]


def _ended(client: httpx.Client, task_id: str) -> dict[str, Any]:
    def final() -> dict[str, Any] | None:
        document: dict[str, Any] = client.get(f"/v1/tasks/{task_id}").json()
        return document if document["state"] in FINAL else None

    found: dict[str, Any] = _until(f"task {task_id} ended", final)
    return found


def _liar_beats(url: str, token: str, keys: KeyPair) -> dict[str, Any] | None:
    report = MetricReport("liar-1", {"load_ratio": 0.0, "cpu_free_cores": 2.0}, time.time())
    wire = sign_report(keys, report).to_wire().decode()
    headers = {"Authorization": f"Bearer {token}"}
    answer = httpx.post(
        f"{url}/v1/agents/liar-1/metrics", json={"envelope": wire}, headers=headers, timeout=30.0
    )
    assert answer.status_code == 200, answer.text
    challenge: dict[str, Any] | None = answer.json()["challenge"]
    return challenge


def test_a_wrong_answer_puts_the_node_in_quarantine_and_it_gets_no_new_work(
    net: LocalNet,
) -> None:
    keys = KeyPair.generate(Role.AGENT)
    with net.client() as client:
        body = {
            "enrol_token": _enrol_token(client, "liar-1"),
            "node_id": "liar-1",
            "public_key": base64.b64encode(keys.public_bytes).decode(),
        }
        enrolled = httpx.post(f"{net.url}/v1/enrol", json=body, timeout=30.0)
        assert enrolled.status_code == 201, enrolled.text
        token = enrolled.json()["token"]
        challenge = _until("a challenge", lambda: _liar_beats(net.url, token, keys), 30.0)
        wrong = {
            "challenge_id": challenge["id"],
            "row_checksums": [1.0] * challenge["size"],
            "measured_gflops": 5.0,
        }
        judged = httpx.post(
            f"{net.url}/v1/agents/liar-1/attestation",
            json=wrong,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
        )
        assert judged.status_code == 200
        assert judged.json()["verdict"] == "wrong-result"
        standing = _trust(client, "liar-1")
        assert standing["trust"] == "quarantined"
        assert standing["reason"].startswith("wrong result")
        assert client.get("/v1/nodes/liar-1").json()["state"] == "quarantined"
        assert _liar_beats(net.url, token, keys) is None  # no more challenges in quarantine
        _no_work_on(client, "liar-1")
        actions = [e["action"] for e in client.get("/v1/audit", params={"limit": 1000}).json()]
        assert actions.count("node.quarantine") == 2
