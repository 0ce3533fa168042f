"""End to end: a cancelled or moved run's process on its agent is gone within a second.

A real server and two real agent processes (one worker each) on loopback. The agent names the
runs it holds at its poll pace; the control plane answers with the runs it withdrew (cancelled,
or moved off the node), which the agent kills, and audits each kill as ``task.killed``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from waits import until

from suanwang.cli.localnet import USERS_SITE, LocalNet, write_three_sites

NODES = ("edge-north-1", "edge-south-1")
LONG = {
    "work_gflop": 50_000.0,  # minutes of matrix products on one core: it never ends by itself
    "cpu_cores": 1.0,
    "mem_gib": 0.5,
    "ingress_site": USERS_SITE,
    "task_class": "warm",
    "task_type": "matmul",
}


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    folder: Path = tmp_path_factory.mktemp("cancel")
    local = LocalNet(folder / "data", scenario=str(write_three_sites(folder)))
    try:
        local.start_server()
        for node in NODES:
            local.start_agent(node, interval_s=0.5)
        local.wait_heartbeats(list(NODES))
        yield local
    finally:
        local.close()


def _until(what: str, check: Any, timeout_s: float, pause_s: float = 0.02) -> Any:
    return until(what, check, timeout_s, pause_s)


def _worker(net: LocalNet, node: str) -> psutil.Process:
    """The agent's one worker process (a spawned interpreter; not the resource tracker)."""
    agent = psutil.Process(net.agents[node].pid)
    workers = [p for p in agent.children() if "spawn_main" in " ".join(p.cmdline())]
    assert len(workers) == 1, workers
    return workers[0]


def _gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _running(client: httpx.Client, task_id: str) -> dict[str, Any] | None:
    doc: dict[str, Any] = client.get(f"/v1/tasks/{task_id}").json()
    return doc if doc["state"] == "running" else None


def _killed_audits(client: httpx.Client, task_id: str) -> list[str]:
    entries = client.get("/v1/audit", params={"limit": 1000}).json()
    return [
        e["detail"]
        for e in entries
        if e["action"] == "task.killed" and e["target"] == f"task:{task_id}"
    ]


def test_a_cancelled_runs_process_is_gone_within_a_second(net: LocalNet) -> None:
    with net.client() as client:
        created = client.post("/v1/tasks", json=LONG)
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]
        doc = _until("the task runs", lambda: _running(client, task_id), 30.0)
        node = doc["placement"]["node_id"]
        worker = _worker(net, node)
        assert worker.cpu_percent(interval=0.2) > 0  # it is computing
        cancelled = client.post(f"/v1/tasks/{task_id}/cancel")
        assert cancelled.json()["state"] == "cancelled"
        at_s = time.monotonic()
        _until("the run's process is gone", lambda: _gone(worker), 2.0, pause_s=0.01)
        assert time.monotonic() - at_s < 1.0
        [detail] = _until("the kill is audited", lambda: _killed_audits(client, task_id), 5.0)
    assert detail.startswith(f"run {task_id} killed on {node} ")
    assert float(detail.split()[5]) < 1.0  # seconds from the withdrawal to the kill
    # The agent serves on with a fresh worker.
    assert _worker(net, node).pid != worker.pid


def _workers_idle(net: LocalNet) -> bool:
    # A worker that replaced a killed one imports numpy first; a task sent meanwhile waits in
    # the agent's queue, and a withdrawn queued task has no process to kill.
    return all(_worker(net, node).cpu_percent(interval=0.1) < 5.0 for node in NODES)


def test_a_moved_runs_old_process_is_gone_within_a_second(net: LocalNet) -> None:
    _until("the agents' workers are idle", lambda: _workers_idle(net), 20.0)
    with net.client() as client:
        created = client.post("/v1/tasks", json=LONG | {"long_running": True})
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]
        doc = _until("the service runs", lambda: _running(client, task_id), 30.0)
        first = doc["placement"]["node_id"]
        worker = _worker(net, first)
        assert worker.cpu_percent(interval=0.2) > 0  # it is computing
        client.post(f"/v1/nodes/{first}/drain", json={"reason": "maintenance"}).raise_for_status()

        def moved() -> dict[str, Any] | None:
            doc = _running(client, task_id)
            return doc if doc and doc["placement"]["node_id"] != first else None

        doc = _until("the service moves", moved, 30.0, pause_s=0.01)
        at_s = time.monotonic()
        _until("the old run's process is gone", lambda: _gone(worker), 2.0, pause_s=0.01)
        assert time.monotonic() - at_s < 1.0
        details = _until("the kill is audited", lambda: _killed_audits(client, task_id), 5.0)
        client.post(f"/v1/tasks/{task_id}/cancel").raise_for_status()
        client.post(f"/v1/nodes/{first}/up").raise_for_status()
    assert details == [details[0]]
    assert f" killed on {first} " in details[0]
