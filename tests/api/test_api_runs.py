"""Runs on agents: withdrawn runs named to their agent, kills confirmed and audited, logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from api_support import Api

from suanwang.control.stores import Principal, Role
from suanwang.service.runlogs import MAX_STREAM_CHARS


@dataclass
class Agent:
    name: str
    node: str


def _agent(api: Api, node: str, name: str = "agent") -> Agent:
    api.add_principal(Principal(name, "acme-compute", frozenset({Role.AGENT}), frozenset({node})))
    return Agent(name, node)


@pytest.fixture
def running(api: Api) -> tuple[dict[str, Any], Agent]:
    """Alice's task, pulled and started by its node's agent."""
    task = api.submit("alice")
    agent = _agent(api, task["placement"]["node_id"])
    pulled = api.call(agent.name, "POST", f"/v1/agents/{agent.node}/pull", json={})
    assert [t["id"] for t in pulled.json()] == [task["id"]]
    started = {"node_id": agent.node, "event": "started"}
    api.call(agent.name, "POST", f"/v1/tasks/{task['id']}/report", json=started)
    return task, agent


def _sync(api: Api, agent: Agent, **body: Any) -> Any:
    return api.call(agent.name, "POST", f"/v1/agents/{agent.node}/runs", json=body)


def test_a_cancelled_run_is_withdrawn_and_its_kill_audited(
    api: Api, running: tuple[dict[str, Any], Agent]
) -> None:
    task, agent = running
    held = _sync(api, agent, running=[task["id"], "unknown-run"]).json()
    assert held == {"node_id": agent.node, "withdrawn": ["unknown-run"], "confirmed": []}
    assert api.call("alice", "POST", f"/v1/tasks/{task['id']}/cancel").status_code == 200
    assert _sync(api, agent, running=[task["id"]]).json()["withdrawn"] == [task["id"]]
    killed = [{"run_id": task["id"], "stdout": "partial output\n", "stderr": ""}]
    answer = _sync(api, agent, running=[], killed=killed).json()
    assert answer == {"node_id": agent.node, "withdrawn": [], "confirmed": [task["id"]]}
    # Confirmed once: a second confirmation records nothing.
    assert _sync(api, agent, killed=killed).json()["confirmed"] == []
    audit = api.call("admin", "GET", "/v1/audit", params={"limit": 1000}).json()
    [detail] = [e["detail"] for e in audit if e["action"] == "task.killed"]
    assert detail.startswith(f"run {task['id']} killed on {agent.node} ")
    [log] = api.call("alice", "GET", f"/v1/tasks/{task['id']}/logs").json()["runs"]
    assert (log["outcome"], log["stdout"]) == ("cancelled", "partial output\n")


def test_logs_sent_before_the_end_are_readable_by_the_tenant_only(
    api: Api, running: tuple[dict[str, Any], Agent]
) -> None:
    task, agent = running
    path = f"/v1/agents/{agent.node}/runs/{task['id']}/logs"
    body = {"outcome": "ok", "stdout": "result: 42\n", "stderr": "a warning\n"}
    assert api.call(agent.name, "PUT", path, json=body).status_code == 200
    finished = {"node_id": agent.node, "event": "finished", "reason": "ok"}
    api.call(agent.name, "POST", f"/v1/tasks/{task['id']}/report", json=finished)
    logs = api.call("alice", "GET", f"/v1/tasks/{task['id']}/logs").json()
    assert logs["task_id"] == task["id"]
    [run] = logs["runs"]
    assert (run["run_id"], run["node_id"]) == (task["id"], agent.node)
    assert (run["stdout"], run["stderr"], run["outcome"]) == ("result: 42\n", "a warning\n", "ok")
    assert api.call("bob", "GET", f"/v1/tasks/{task['id']}/logs").status_code == 404
    assert api.call("admin", "GET", f"/v1/tasks/{task['id']}/logs").status_code == 200
    # After its end the run is no longer the node's: later logs are refused.
    late = api.call(agent.name, "PUT", path, json=body)
    assert late.status_code == 404
    assert "is not dispatched to node" in late.json()["detail"]


def test_bad_run_reports_are_refused_naming_the_field(
    api: Api, running: tuple[dict[str, Any], Agent]
) -> None:
    task, agent = running
    path = f"/v1/agents/{agent.node}/runs/{task['id']}/logs"
    too_long = {"outcome": "ok", "stdout": "x" * (MAX_STREAM_CHARS + 1)}
    refused = api.call(agent.name, "PUT", path, json=too_long)
    assert refused.status_code == 422
    assert "stdout" in refused.text
    assert _sync(api, agent, running="not-a-list").status_code == 422
    assert _sync(api, agent, killed=[{"run": "x"}]).status_code == 422
    stranger = _agent(api, "another-node", "stranger")
    other = api.call(stranger.name, "POST", f"/v1/agents/{agent.node}/runs", json={})
    assert other.status_code == 403
    assert api.call("alice", "GET", "/v1/tasks/nothing-here/logs").status_code == 404
