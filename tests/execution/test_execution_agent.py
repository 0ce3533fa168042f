"""End to end: a real server, three agent processes, real work; one agent killed mid-run.

The network is ``THREE_SITES`` (every node has an agent). Self-healing runs with short
thresholds so that a lost site is noticed in about two seconds.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from suanwang.cli.localnet import THREE_SITES_NODES, USERS_SITE, LocalNet, write_three_sites

HEARTBEAT_S = 0.5
SUSPECT_S = 1.0
DOWN_S = 2.0
TICK_S = 0.2
KINDS = ("matmul", "transcode", "inference")
CLASSES = ("hot", "warm", "cold")
FINAL = {"completed", "failed", "rejected", "cancelled"}
VICTIM = "edge-north-1"


def _body(i: int, work_gflop: float) -> dict[str, Any]:
    body: dict[str, Any] = {
        "work_gflop": work_gflop,
        "cpu_cores": 1.0,
        "mem_gib": 0.5,
        "ingress_site": USERS_SITE,
        "task_class": CLASSES[i % 3],
        "task_type": KINDS[i % 3],
    }
    if body["task_class"] == "hot":
        body["latency_budget_ms"] = 20_000.0
    return body


def _submit(client: httpx.Client, count: int, work_gflop: float) -> list[str]:
    ids = []
    for i in range(count):
        response = client.post("/v1/tasks", json=_body(i, work_gflop))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def _wait_final(client: httpx.Client, ids: list[str], timeout_s: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        docs = [client.get(f"/v1/tasks/{task_id}").json() for task_id in ids]
        if all(doc["state"] in FINAL for doc in docs) or time.monotonic() > deadline:
            return docs
        time.sleep(0.2)


def _ran_on(doc: dict[str, Any]) -> str:
    match = re.match(r"completed on (\S+) ", doc["reason"])
    assert match, doc["reason"]
    return match.group(1)


def _node_state(client: httpx.Client, node: str) -> str:
    return str(client.get(f"/v1/nodes/{node}").json()["state"])


def _wait_node(client: httpx.Client, node: str, state: str, timeout_s: float) -> float:
    started = time.monotonic()
    while _node_state(client, node) != state:
        assert time.monotonic() - started < timeout_s, f"{node} never became {state}"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    folder: Path = tmp_path_factory.mktemp("net")
    scenario = write_three_sites(folder)
    health = {"suspect_after_s": str(SUSPECT_S), "down_after_s": str(DOWN_S)}
    health["health_tick_s"] = str(TICK_S)
    local = LocalNet(folder / "data", scenario=str(scenario), health=health)
    try:
        local.start_server()
        for node in THREE_SITES_NODES:
            local.start_agent(node, interval_s=HEARTBEAT_S)
        local.wait_heartbeats(list(THREE_SITES_NODES))
        yield local
    finally:
        local.close()


def test_every_task_runs_where_it_was_placed(net: LocalNet) -> None:
    with net.client() as client:
        docs = _wait_final(client, _submit(client, 9, 1.0), timeout_s=40.0)
    assert [doc["state"] for doc in docs] == ["completed"] * 9, [d["reason"] for d in docs]
    placed = {doc["placement"]["node_id"] for doc in docs}
    assert placed <= set(THREE_SITES_NODES)
    for doc in docs:
        assert _ran_on(doc) == doc["placement"]["node_id"]
        states = [step["to_state"] for step in doc["history"]]
        assert states == ["pending", "scheduled", "running", "completed"]


def test_work_an_agent_cannot_run_is_reported_failed_with_the_reason(net: LocalNet) -> None:
    body = _body(1, 0.1) | {"task_type": "os:system"}  # user functions are off on agents
    with net.client() as client:
        response = client.post("/v1/tasks", json=body)
        assert response.status_code == 201, response.text
        [doc] = _wait_final(client, [response.json()["id"]], timeout_s=20.0)
    assert doc["state"] == "failed"
    assert doc["reason"].startswith("cannot run:")
    assert "user functions are disabled" in doc["reason"]


def test_a_drained_node_hands_its_service_over_without_a_break(net: LocalNet) -> None:
    body = _body(2, 60.0) | {"task_type": "inference", "long_running": True}
    with net.client() as client:
        response = client.post("/v1/tasks", json=body)
        assert response.status_code == 201, response.text
        task_id = response.json()["id"]
        deadline = time.monotonic() + 20.0
        while (doc := client.get(f"/v1/tasks/{task_id}").json())["state"] != "running":
            assert time.monotonic() < deadline, doc["reason"]
            time.sleep(0.05)
        first = doc["placement"]["node_id"]
        drained = client.post(f"/v1/nodes/{first}/drain", json={"reason": "kernel update"})
        assert drained.json() == {"id": first, "state": "draining", "replaced_tasks": 1}
        [doc] = _wait_final(client, [task_id], timeout_s=90.0)
        client.post(f"/v1/nodes/{first}/up").raise_for_status()
    assert doc["state"] == "completed", doc["reason"]
    second = doc["placement"]["node_id"]
    assert second != first
    assert _ran_on(doc) == second
    reasons = [step["reason"] for step in doc["history"]]
    states = [step["to_state"] for step in doc["history"]]
    # Serving all along: RUNNING on the first node until the replacement started on the second.
    assert states == ["pending", "scheduled", "running", "running", "running", "completed"]
    assert f"node {first} draining: kernel update" in reasons[3]
    assert f"placed on {second}" in reasons[3]
    assert f"moved to {second} without a break" in reasons[4]


def test_a_killed_agents_tasks_complete_elsewhere_and_it_returns(net: LocalNet) -> None:
    with net.client() as client:
        ids = _submit(client, 9, 6.0)
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:  # until the victim is busy with one of them
            docs = [client.get(f"/v1/tasks/{task_id}").json() for task_id in ids]
            victims = [d for d in docs if (d["placement"] or {}).get("node_id") == VICTIM]
            if any(d["state"] == "running" for d in victims):
                break
            time.sleep(0.05)
        assert victims, "nothing was placed on the victim"
        killed_at_s = time.time()
        net.kill_agent(VICTIM)
        kill_to_down_s = _wait_node(client, VICTIM, "down", timeout_s=DOWN_S + 5.0)
        docs = _wait_final(client, ids, timeout_s=60.0)
        audit = client.get("/v1/audit", params={"since_s": killed_at_s, "limit": 1000}).json()
        metrics = client.get("/metrics").text

        assert [doc["state"] for doc in docs] == ["completed"] * 9, [d["reason"] for d in docs]
        moved = [d for d in docs if d["id"] in {v["id"] for v in victims}]
        for doc in moved:  # re-placed off the lost node, and run where re-placed
            assert doc["placement"]["node_id"] != VICTIM
            assert _ran_on(doc) == doc["placement"]["node_id"]
            assert any(f"node {VICTIM} down" in step["reason"] for step in doc["history"])
        for doc in docs:
            assert _ran_on(doc) == doc["placement"]["node_id"]

        # Every step logged with its reason, in order; the times recorded and within bounds.
        steps = [
            (e["action"], e["detail"])
            for e in audit
            if e["target"] == f"node:{VICTIM}" and e["action"].startswith("node.")
        ]
        actions = [action for action, _ in steps]
        assert actions[:4] == ["node.suspected", "node.drain", "node.down", "node.healed"], steps
        detection_s = float(re.findall(r"detection ([\d.]+) s", steps[3][1])[0])
        replacement_s = float(re.findall(r"re-placement ([\d.]+) s", steps[3][1])[0])
        assert DOWN_S <= detection_s < DOWN_S + 2 * TICK_S + 0.5
        assert replacement_s < 1.0
        assert DOWN_S - HEARTBEAT_S <= kill_to_down_s < DOWN_S + 2 * TICK_S + 1.0
        assert "suanwang_failure_detection_seconds_count 1.0" in metrics
        assert "suanwang_replacement_seconds_count 1.0" in metrics

        # The site comes back: a fresh heartbeat returns the node to the pool.
        net.start_agent(VICTIM, interval_s=HEARTBEAT_S)
        _wait_node(client, VICTIM, "up", timeout_s=30.0)
        after = client.get("/v1/audit", params={"since_s": killed_at_s, "limit": 1000}).json()
        assert "node.up" in [e["action"] for e in after if e["target"] == f"node:{VICTIM}"]
