"""Self-healing across server restarts, with a real server process and real agent processes.

- The server is SIGKILLed and started again on the same port while three agents run: their key
  bindings were kept, so their heartbeats go on being accepted without a new binding, and an
  agent killed after the restart still has its node taken down and its tasks finished
  elsewhere.
- SIGKILL at random points of an agent's enrolment (key binding, first heartbeat), 20 rounds:
  a binding is either stored with its audit entry and works after the restart, or absent and
  the agent binds again; never one without the other.
- A task past its tenant's maximum run time is stopped by its agent (its worker killed) and
  reported failed with the reason; the agent goes on serving.
"""

from __future__ import annotations

import base64
import random
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from restart_support import RestartingNet

from suanwang.cli.localnet import THREE_SITES_NODES, USERS_SITE, write_three_sites
from suanwang.security import KeyPair, MetricReport, sign_report
from suanwang.security import Role as KeyRole

HEARTBEAT_S = 0.5
HEALTH = {"suspect_after_s": "1.0", "down_after_s": "2.0", "health_tick_s": "0.2"}
SLOW_TENANT = "slow"
MAX_RUN_S = 2.0
VICTIM = "edge-south-1"
FINAL = {"completed", "failed", "rejected", "cancelled"}
ENROL_ROUNDS = 20


def _wait(check: Any, what: str, timeout_s: float) -> Any:
    """Poll ``check`` until it returns something true, or fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _heartbeat_after(client: httpx.Client, node: str, after_s: float) -> bool:
    doc = client.get(f"/v1/nodes/{node}/metrics").json()
    age_s = doc.get("age_s")
    return age_s is not None and time.time() - age_s > after_s


def _final(client: httpx.Client, ids: list[str]) -> list[dict[str, Any]] | None:
    docs = [client.get(f"/v1/tasks/{task_id}").json() for task_id in ids]
    return docs if all(doc["state"] in FINAL for doc in docs) else None


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartingNet]:
    folder: Path = tmp_path_factory.mktemp("restart")
    scenario = write_three_sites(folder)
    settings = HEALTH | {"max_run_s_by_tenant": f'{{"{SLOW_TENANT}": {MAX_RUN_S}}}'}
    running = RestartingNet(folder / "data", str(scenario), settings)
    try:
        running.start()
        for node in THREE_SITES_NODES:
            running.net.start_agent(node, interval_s=HEARTBEAT_S)
        running.net.wait_heartbeats(list(THREE_SITES_NODES))
        yield running
    finally:
        running.close()


@pytest.mark.timeout(180)
def test_after_a_restart_a_killed_agents_tasks_finish_elsewhere(net: RestartingNet) -> None:
    bindings_before = net.query("SELECT key_id, node_id FROM agent_keys ORDER BY node_id")
    assert len(bindings_before) == len(THREE_SITES_NODES)
    net.kill()
    restarted_at_s = time.time()
    net.start()
    with net.net.client() as client:
        # Heartbeats are accepted again with the bindings kept: no agent binds anew.
        for node in THREE_SITES_NODES:
            _wait(
                lambda n=node: _heartbeat_after(client, n, restarted_at_s),
                f"no heartbeat of {node} accepted after the restart",
                timeout_s=20.0,
            )
        audit = client.get("/v1/audit", params={"since_s": restarted_at_s, "limit": 1000}).json()
        assert "agent.key" not in [e["action"] for e in audit]
        assert net.query("SELECT key_id, node_id FROM agent_keys ORDER BY node_id") == (
            bindings_before
        )

        body = {"work_gflop": 6.0, "cpu_cores": 1.0, "mem_gib": 0.5, "ingress_site": USERS_SITE}
        ids = []
        for _ in range(9):
            response = client.post("/v1/tasks", json=body)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])

        def victim_busy() -> list[str]:
            docs = [client.get(f"/v1/tasks/{task_id}").json() for task_id in ids]
            on_victim = [d for d in docs if (d["placement"] or {}).get("node_id") == VICTIM]
            return (
                [d["id"] for d in on_victim]
                if any(d["state"] == "running" for d in on_victim)
                else []
            )

        victims = _wait(victim_busy, "the victim never ran a task", timeout_s=30.0)
        net.net.kill_agent(VICTIM)
        _wait(
            lambda: client.get(f"/v1/nodes/{VICTIM}").json()["state"] == "down",
            f"{VICTIM} never went down after its agent was killed",
            timeout_s=15.0,
        )
        docs = _wait(lambda: _final(client, ids), "the tasks never finished", timeout_s=90.0)
    assert [doc["state"] for doc in docs] == ["completed"] * len(ids), [d["reason"] for d in docs]
    for doc in docs:
        ran_on = re.match(r"completed on (\S+) ", doc["reason"])
        assert ran_on, doc["reason"]
        assert ran_on.group(1) == doc["placement"]["node_id"]
        if doc["id"] in victims:
            assert doc["placement"]["node_id"] != VICTIM
            assert any(f"node {VICTIM} down" in step["reason"] for step in doc["history"])


@pytest.mark.timeout(120)
def test_a_task_past_its_maximum_run_time_is_stopped_by_its_agent(net: RestartingNet) -> None:
    with net.net.client() as admin:
        principal = {"id": "slow-user", "tenant": SLOW_TENANT, "roles": ["consumer"]}
        assert admin.post("/v1/principals", json=principal).status_code == 201
        token = admin.post("/v1/principals/slow-user/tokens").raise_for_status().json()["token"]
    endless = {"work_gflop": 1e15, "cpu_cores": 1.0, "mem_gib": 0.5, "ingress_site": USERS_SITE}
    with net.net.client(token) as client:
        task_id = client.post("/v1/tasks", json=endless).raise_for_status().json()["id"]
        [doc] = _wait(lambda: _final(client, [task_id]), "never stopped", timeout_s=60.0)
        assert doc["state"] == "failed", doc["reason"]
        assert f"past its maximum run time of {MAX_RUN_S:g} s" in doc["reason"]
        started = next(s["at_s"] for s in doc["history"] if s["to_state"] == "running")
        ran_s = doc["history"][-1]["at_s"] - started
        assert MAX_RUN_S <= ran_s < MAX_RUN_S + 5.0
        # The node's agent serves on with a fresh worker.
        node = doc["placement"]["node_id"]
        small = {"work_gflop": 0.5, "cpu_cores": 1.0, "mem_gib": 0.5, "ingress_site": USERS_SITE}
        later = [client.post("/v1/tasks", json=small).json()["id"] for _ in range(6)]
        docs = _wait(lambda: _final(client, later), "small tasks never finished", timeout_s=60.0)
    assert [d["state"] for d in docs] == ["completed"] * 6, [d["reason"] for d in docs]
    assert any(d["placement"]["node_id"] == node for d in docs)


def _enrol(url: str, token: str, node: str, keys: KeyPair, outcome: dict[str, object]) -> None:
    """An agent's enrolment: bind the key, then the first heartbeat (errors are recorded)."""
    public = base64.b64encode(keys.public_bytes).decode()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=5.0) as client:
            outcome["bind"] = client.put(
                f"/v1/agents/{node}/key", json={"public_key": public}
            ).status_code
            wire = sign_report(keys, MetricReport(node, {"load_ratio": 0.1}, time.time()))
            outcome["beat"] = client.post(
                f"/v1/agents/{node}/metrics", json={"envelope": wire.to_wire().decode()}
            ).status_code
    except httpx.HTTPError as error:
        outcome["error"] = type(error).__name__


@pytest.mark.timeout(400)
def test_sigkill_during_enrolment_leaves_a_binding_whole_or_absent(tmp_path: Path) -> None:
    scenario = write_three_sites(tmp_path)
    net = RestartingNet(tmp_path / "data", str(scenario), HEALTH)
    rng = random.Random(14)
    outcomes = {"bound": 0, "absent": 0}
    try:
        net.start()
        for round_no in range(ENROL_ROUNDS):
            node = THREE_SITES_NODES[round_no % len(THREE_SITES_NODES)]
            keys = KeyPair.generate(KeyRole.AGENT)
            principal = f"agent-r{round_no}"
            body = {"id": principal, "tenant": "sites", "roles": ["agent"]}
            body |= {"node_ids": [node], "agent_key_id": keys.key_id}
            with net.net.client() as admin:
                admin.post("/v1/principals", json=body).raise_for_status()
                token = admin.post(f"/v1/principals/{principal}/tokens").json()["token"]
            outcome: dict[str, object] = {}
            enrolling = threading.Thread(
                target=_enrol, args=(net.net.url, token, node, keys, outcome)
            )
            enrolling.start()
            time.sleep(rng.uniform(0.0, 0.06))  # the kill point, drawn at random
            net.kill()
            enrolling.join(30)
            net.start()

            stored = net.query("SELECT node_id FROM agent_keys WHERE key_id = ?", keys.key_id)
            audited = net.query(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'agent.key' AND detail = ?",
                keys.key_id,
            )[0][0]
            assert (stored == [(node,)]) == (audited == 1), (round_no, outcome, stored, audited)
            if outcome.get("bind") == 200:
                assert stored == [(node,)], (round_no, outcome)  # acknowledged: kept
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=net.net.url, headers=headers, timeout=10.0) as agent:
                wire = sign_report(keys, MetricReport(node, {"load_ratio": 0.2}, time.time()))
                envelope = {"envelope": wire.to_wire().decode()}
                beat = agent.post(f"/v1/agents/{node}/metrics", json=envelope)
                if stored:
                    assert beat.status_code == 200, (round_no, beat.text)
                    outcomes["bound"] += 1
                    continue
                assert beat.status_code == 403, beat.text
                assert beat.json()["reason"] == "unknown-key"
                outcomes["absent"] += 1
                public = base64.b64encode(keys.public_bytes).decode()
                rebound = agent.put(f"/v1/agents/{node}/key", json={"public_key": public})
                assert rebound.status_code == 200, rebound.text
                again = sign_report(keys, MetricReport(node, {"load_ratio": 0.2}, time.time()))
                envelope = {"envelope": again.to_wire().decode()}
                assert agent.post(f"/v1/agents/{node}/metrics", json=envelope).status_code == 200
    finally:
        net.close()
    assert sum(outcomes.values()) == ENROL_ROUNDS
    print(f"enrolment kill rounds: {outcomes}")  # the report of the rounds (pytest -s)


REGISTER_ROUNDS = 20


def _register(url: str, token: str, body: dict[str, Any], outcome: dict[str, object]) -> None:
    """Register a node with an enrolment token, noting the answer (if one came)."""
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=10.0) as client:
            answer = client.post("/v1/nodes", params={"enrol_ttl_s": 600}, json=body)
            outcome["status"] = answer.status_code
    except httpx.HTTPError as error:
        outcome["error"] = type(error).__name__


def _registration_rows(net: RestartingNet, node: str) -> tuple[int, int]:
    """How many topology changes and register audit entries the database holds for ``node``."""
    changes = net.query("SELECT COUNT(*) FROM topology_changes WHERE record_id = ?", node)
    audited = net.query(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'node.register' AND target = ?",
        f"node:{node}",
    )
    return int(str(changes[0][0])), int(str(audited[0][0]))


@pytest.mark.timeout(400)
def test_sigkill_during_registration_leaves_a_node_whole_or_absent(tmp_path: Path) -> None:
    """A kill at a random point of ``POST /v1/nodes``: the node is whole or absent, never half.

    Whole: its change row, its audit entry and the node in the rebuilt live topology, all three;
    absent: none of them. Sending the same registration again then completes it exactly once
    (a replay of the stored change, or the first write), with an enrolment token.
    """
    scenario = write_three_sites(tmp_path)
    net = RestartingNet(tmp_path / "data", str(scenario), HEALTH)
    rng = random.Random(16)
    outcomes = {"whole": 0, "absent": 0}
    try:
        net.start()
        for round_no in range(REGISTER_ROUNDS):
            node = f"reg-{round_no}"
            body = {"id": node, "site": "edge-north", "cpu_cores": 2, "mem_gib": 4}
            outcome: dict[str, object] = {}
            args = (net.net.url, net.net.admin_token, body, outcome)
            registering = threading.Thread(target=_register, args=args)
            registering.start()
            time.sleep(rng.uniform(0.0, 0.06))  # the kill point, drawn at random
            net.kill()
            registering.join(30)
            net.start()

            changes, audited = _registration_rows(net, node)
            with net.net.client() as admin:
                seen = admin.get(f"/v1/nodes/{node}").status_code
            assert changes in (0, 1), (round_no, outcome, changes)
            assert (changes, audited, seen) in ((1, 1, 200), (0, 0, 404)), (
                round_no,
                outcome,
                changes,
                audited,
                seen,
            )
            if outcome.get("status") == 201:
                assert changes == 1, (round_no, outcome)  # acknowledged: kept
            outcomes["whole" if changes else "absent"] += 1

            again: dict[str, object] = {}
            _register(net.net.url, net.net.admin_token, body, again)
            assert again.get("status") == 201, (round_no, again)
            assert _registration_rows(net, node) == (1, 1), round_no
            tokens = net.query("SELECT COUNT(*) FROM enrol_tokens WHERE node_id = ?", node)
            assert int(str(tokens[0][0])) >= 1, round_no
        versions = [int(str(v)) for (v,) in net.query("SELECT version FROM topology_changes")]
        assert sorted(versions) == list(range(1, REGISTER_ROUNDS + 1))
    finally:
        net.close()
    assert sum(outcomes.values()) == REGISTER_ROUNDS
    print(f"registration kill rounds: {outcomes}")  # the report of the rounds (pytest -s)
