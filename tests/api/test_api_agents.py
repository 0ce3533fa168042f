"""Agents: key binding, pulling placed tasks, reporting them, signed metric reports."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

import pytest
from api_support import CPU_TASK, Api

from suanwang.control.stores import Principal, Role
from suanwang.security import KeyPair, MetricReport, sign_report
from suanwang.security import Role as KeyRole


@dataclass
class Agent:
    name: str
    node: str
    keys: KeyPair


def _agent(api: Api, node: str, name: str = "agent") -> Agent:
    keys = KeyPair.generate(KeyRole.AGENT)
    principal = Principal(
        name, "acme-compute", frozenset({Role.AGENT}), frozenset({node}), keys.key_id
    )
    api.add_principal(principal)
    return Agent(name, node, keys)


@pytest.fixture
def placed(api: Api) -> tuple[dict[str, object], Agent]:
    task = api.submit("alice")
    return task, _agent(api, task["placement"]["node_id"])  # type: ignore[index]


def test_an_agent_pulls_runs_and_reports_its_nodes_task(
    api: Api, placed: tuple[dict[str, object], Agent]
) -> None:
    task, agent = placed
    pulled = api.call(agent.name, "POST", f"/v1/agents/{agent.node}/pull", json={"limit": 8})
    assert [t["id"] for t in pulled.json()] == [task["id"]]
    # Each task is handed out once.
    assert api.call(agent.name, "POST", f"/v1/agents/{agent.node}/pull", json={}).json() == []
    path = f"/v1/tasks/{task['id']}/report"
    started = api.call(agent.name, "POST", path, json={"node_id": agent.node, "event": "started"})
    assert started.json()["state"] == "running"
    twice = api.call(agent.name, "POST", path, json={"node_id": agent.node, "event": "started"})
    assert twice.status_code == 409
    done = api.call(
        agent.name, "POST", path, json={"node_id": agent.node, "event": "finished", "reason": "ok"}
    )
    assert done.json()["state"] == "completed"
    stored = api.call("alice", "GET", f"/v1/tasks/{task['id']}").json()
    assert [s["to_state"] for s in stored["history"]] == [
        "pending",
        "scheduled",
        "running",
        "completed",
    ]
    actions = [e["action"] for e in api.call("admin", "GET", "/v1/audit").json()]
    assert actions[-2:] == ["task.started", "task.finished"]


def test_an_agent_cannot_speak_for_another_node(
    api: Api, placed: tuple[dict[str, object], Agent]
) -> None:
    task, agent = placed
    other = "edge-futian-mec-3" if agent.node != "edge-futian-mec-3" else "edge-futian-mec-2"
    stranger = _agent(api, other, "stranger")
    assert (
        api.call(stranger.name, "POST", f"/v1/agents/{agent.node}/pull", json={}).status_code == 403
    )
    path = f"/v1/tasks/{task['id']}/report"
    body = {"node_id": agent.node, "event": "finished"}
    assert api.call(stranger.name, "POST", path, json=body).status_code == 403
    # Its own node is not where the task runs: as if the task did not exist.
    body = {"node_id": other, "event": "finished"}
    assert api.call(stranger.name, "POST", path, json=body).status_code == 404
    assert api.call("alice", "GET", f"/v1/tasks/{task['id']}").json()["state"] == "scheduled"


def test_a_cancelled_task_is_not_handed_out(
    api: Api, placed: tuple[dict[str, object], Agent]
) -> None:
    task, agent = placed
    api.call("alice", "POST", f"/v1/tasks/{task['id']}/cancel")
    assert api.call(agent.name, "POST", f"/v1/agents/{agent.node}/pull", json={}).json() == []


def test_a_failed_run_is_recorded(api: Api, placed: tuple[dict[str, object], Agent]) -> None:
    task, agent = placed
    body = {"node_id": agent.node, "event": "finished", "ok": False, "reason": "out of memory"}
    failed = api.call(agent.name, "POST", f"/v1/tasks/{task['id']}/report", json=body).json()
    assert (failed["state"], failed["reason"]) == ("failed", "out of memory")


def _bind(api: Api, agent: Agent) -> int:
    key = base64.b64encode(agent.keys.public_bytes).decode()
    response = api.call(agent.name, "PUT", f"/v1/agents/{agent.node}/key", json={"public_key": key})
    return response.status_code


def _report(api: Api, agent: Agent, signer: KeyPair, node: str | None = None) -> object:
    node = node or agent.node
    report = MetricReport(node, {"load_ratio": 0.25, "cpu_free_cores": 12.0}, time.time())
    wire = sign_report(signer, report).to_wire().decode()
    return api.call(agent.name, "POST", f"/v1/agents/{agent.node}/metrics", json={"envelope": wire})


def test_signed_metric_reports_from_the_bound_key_only(api: Api) -> None:
    agent = _agent(api, "edge-futian-mec-2")
    assert _report(api, agent, agent.keys).status_code == 403  # key not bound yet
    assert _bind(api, agent) == 200
    accepted = _report(api, agent, agent.keys)
    assert accepted.status_code == 200  # type: ignore[attr-defined]
    metrics = api.call("ops", "GET", f"/v1/nodes/{agent.node}/metrics").json()
    assert metrics["values"]["load_ratio"] == 0.25
    assert metrics["age_s"] < 60
    intruder = KeyPair.generate(KeyRole.AGENT)
    assert _report(api, agent, intruder).status_code == 403  # type: ignore[attr-defined]
    wrong_node = _report(api, agent, agent.keys, node="edge-futian-mec-3")
    assert wrong_node.status_code == 422  # type: ignore[attr-defined]
    garbage = api.call(
        agent.name, "POST", f"/v1/agents/{agent.node}/metrics", json={"envelope": "x"}
    )
    assert garbage.status_code == 422


def test_only_the_principals_own_key_can_be_bound(api: Api) -> None:
    agent = _agent(api, "edge-futian-mec-2")
    impostor = Agent(agent.name, agent.node, KeyPair.generate(KeyRole.AGENT))
    assert _bind(api, impostor) == 422
    bad = api.call(agent.name, "PUT", f"/v1/agents/{agent.node}/key", json={"public_key": "%%"})
    assert bad.status_code == 422


def test_replayed_report_is_refused(api: Api) -> None:
    agent = _agent(api, "edge-futian-mec-2")
    _bind(api, agent)
    report = MetricReport(agent.node, {"load_ratio": 0.5}, time.time())
    wire = sign_report(agent.keys, report).to_wire().decode()
    path = f"/v1/agents/{agent.node}/metrics"
    assert api.call(agent.name, "POST", path, json={"envelope": wire}).status_code == 200
    replay = api.call(agent.name, "POST", path, json={"envelope": wire})
    assert replay.status_code == 422
    assert replay.json()["reason"] == "replay"


def test_pull_is_limited(api: Api) -> None:
    first = api.submit("alice", {**CPU_TASK, "ingress_site": "onsite-futian-cbd"})
    node = first["placement"]["node_id"]
    agent = _agent(api, node)
    for _ in range(3):
        api.submit("alice", {**CPU_TASK, "ingress_site": "onsite-futian-cbd"})
    mine = api.call("alice", "GET", "/v1/placements", params={"node_id": node}).json()
    pulled = api.call(agent.name, "POST", f"/v1/agents/{node}/pull", json={"limit": 1}).json()
    assert [t["id"] for t in pulled] == [mine[0]["id"]]
