"""Every run's usage exactly once under faults, with a real server and real agent processes.

- A node is lost mid-run (its agent SIGKILLed): the task moves to another node and completes
  there; its first run is billed for the time it held the lost node, its second as a
  completed run, each once.
- The server is SIGKILLed while an agent runs a task; the run finishes while the server is
  away, so the agent keeps its finished report in its spool; after the restart the report is
  sent again and accepted, the spool empties, and the run cut short by the restart's re-queue
  and the run the report ends are each billed once.

In both, sending every stored usage event again (a replay) stores nothing and changes no
invoice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from restart_support import RestartingNet

from suanwang.bootstrap.settings import Settings
from suanwang.cli.localnet import THREE_SITES, THREE_SITES_NODES, USERS_SITE
from suanwang.market import Dimension, Ingest, Invoice, UsageEvent, builtin_plan, rate
from suanwang.market.metering import runs_of, usage_of
from suanwang.model import Task, TaskState
from suanwang.storage import open_store
from suanwang.storage.market import SqlMarketStore

T = TypeVar("T")
HEARTBEAT_S = 0.5
SETTINGS = {
    "suspect_after_s": "1.0",
    "down_after_s": "2.0",
    "health_tick_s": "0.2",
    "attest_tolerance": "0",  # agents share this machine's cores: no claim looks inflated
}
PERIOD_S = 30 * 86_400.0  # the server's default billing period
# Regions pin the tasks: CN-N holds edge-north-1 alone, CN-S the two others.
SCENARIO = (
    THREE_SITES.replace(
        "{id: edge-north, tier: edge,", "{id: edge-north, tier: edge, region: CN-N,"
    )
    .replace("{id: edge-south, tier: edge,", "{id: edge-south, tier: edge, region: CN-S,")
    .replace("{id: cloud, tier: region,", "{id: cloud, tier: region, region: CN-S,")
)
NORTH = "edge-north-1"
# Some seconds of real matrix products on one core: long enough to be caught running.
WORK = {
    "work_gflop": 60.0,
    "cpu_cores": 1.0,
    "mem_gib": 0.5,
    "ingress_site": USERS_SITE,
    "task_type": "matmul",
}


def _wait(check: Callable[[], T | None], what: str, timeout_s: float) -> T:
    """Poll ``check`` until it returns something true, or fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture
def net(tmp_path: Path) -> Iterator[RestartingNet]:
    scenario = tmp_path / "three-regions.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    running = RestartingNet(tmp_path / "data", str(scenario), SETTINGS)
    try:
        running.start()
        for node in THREE_SITES_NODES:
            running.net.start_agent(node, interval_s=HEARTBEAT_S)
        running.net.wait_heartbeats(list(THREE_SITES_NODES))
        yield running
    finally:
        running.close()


def _submit(net: RestartingNet, residency: str) -> str:
    with net.net.client() as client:
        response = client.post("/v1/tasks", json=WORK | {"residency": [residency]})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


def _doc(net: RestartingNet, task_id: str) -> dict[str, Any] | None:
    """The task as the API shows it; None while the server does not answer."""
    try:
        with net.net.client() as client:
            response = client.get(f"/v1/tasks/{task_id}")
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def _in_state(net: RestartingNet, task_id: str, *states: str) -> dict[str, Any] | None:
    doc = _doc(net, task_id)
    return doc if doc is not None and doc["state"] in states else None


def _stored(net: RestartingNet, task_id: str) -> tuple[Task, list[UsageEvent]]:
    """The task as stored and every usage event stored under its runs."""
    with open_store(Settings(data_dir=net.net.data_dir).resolved_database_url()) as stores:
        task = stores.tasks.get(task_id)
        assert task is not None
        store = SqlMarketStore(stores.engine, PERIOD_S, Decimal("0.05"))  # type: ignore[arg-type]
        period = int(task.history[-1].at_s // PERIOD_S)
        events = [
            event
            for p in (period - 1, period, period + 1)
            for event in store.usage_events(p)
            if event.run_id.split("@")[0] == task_id
        ]
    return task, events


def _check_exactly_once(task: Task, events: list[UsageEvent]) -> None:
    """The events are those of every run of ``task``, each key once (THREE_SITES: operator)."""
    expected = [e for run in runs_of(task) for e in usage_of(task, run, "operator")]
    assert len({e.key for e in events}) == len(events)
    assert sorted(events, key=lambda e: e.key) == sorted(expected, key=lambda e: e.key)


def _invoices(store: SqlMarketStore, periods: list[int]) -> list[Invoice]:
    plan = builtin_plan()
    found: list[Invoice] = []
    for period in periods:
        lines = store.usage_lines(period)
        found += [rate(t, period, lines, plan) for t in sorted({x.tenant for x in lines})]
    return found


def _replay_changes_nothing(net: RestartingNet) -> None:
    with open_store(Settings(data_dir=net.net.data_dir).resolved_database_url()) as stores:
        store = SqlMarketStore(stores.engine, PERIOD_S, Decimal("0.05"))  # type: ignore[arg-type]
        periods = [int(str(p)) for (p,) in net.query("SELECT DISTINCT period FROM usage_events")]
        before = _invoices(store, periods)
        assert any(invoice.lines for invoice in before)  # one task's bill may round to 0.00
        stored = [event for period in periods for event in store.usage_events(period)]
        assert set(store.ingest(stored)) == {Ingest.DUPLICATE}
        assert _invoices(store, periods) == before


@pytest.mark.timeout(240)
def test_a_node_lost_mid_run_bills_the_run_it_cut_short_and_the_next_once_each(
    net: RestartingNet,
) -> None:
    task_id = _submit(net, "CN-S")
    running = _wait(lambda: _in_state(net, task_id, "running"), "the task never ran", 60.0)
    lost = running["placement"]["node_id"]
    net.net.kill_agent(lost)  # the site is lost without a word, its run with it
    done = _wait(lambda: _in_state(net, task_id, "completed"), "the task never completed", 120.0)
    assert done["placement"]["node_id"] not in (lost, NORTH)

    task, events = _stored(net, task_id)
    first, last = runs_of(task)
    assert first.node_id == lost
    assert first.end is TaskState.PENDING  # the plane ended it when the node went down
    assert last.end is TaskState.COMPLETED
    _check_exactly_once(task, events)
    cut = {e.dimension: e.quantity for e in events if e.run_id == first.run_id}
    held_s = first.ended_s - first.started_s
    assert held_s > 0
    assert cut == {
        Dimension.CORE_SECONDS: pytest.approx(1.0 * held_s),
        Dimension.MEMORY_GIB_SECONDS: pytest.approx(0.5 * held_s),
        Dimension.TASKS: 1.0,
    }
    assert [e.dimension for e in events].count(Dimension.TASKS) == 2
    _replay_changes_nothing(net)


@pytest.mark.timeout(240)
def test_a_report_finished_while_the_server_is_down_is_spooled_and_delivered_once(
    net: RestartingNet,
) -> None:
    spool = net.net.data_dir / "agents" / f"{NORTH}.key.spool"
    task_id = _submit(net, "CN-N")
    _wait(lambda: _in_state(net, task_id, "running"), "the task never ran", 60.0)
    net.kill()  # the run goes on on its node; its report has nowhere to go
    spooled = _wait(lambda: sorted(spool.glob("*.json")), "the report was never spooled", 120.0)
    assert len(spooled) == 1
    kept = json.loads(spooled[0].read_text())
    assert kept["run_id"] == task_id
    net.start()
    done = _wait(lambda: _in_state(net, task_id, "completed"), "the task never completed", 60.0)
    _wait(lambda: not any(spool.iterdir()) or None, "the spool never emptied", 30.0)
    # The kept report ended the task (its reason names the compute time the run measured
    # before the kill): the task did not run again.
    assert done["reason"] == kept["body"]["reason"]
    assert done["reason"].startswith(f"completed on {NORTH} (")
    audit = net.query(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'task.finished' AND target = ?",
        f"task:{task_id}",
    )
    assert audit == [(1,)]

    task, events = _stored(net, task_id)
    runs = runs_of(task)
    assert [run.end for run in runs] == [TaskState.PENDING, TaskState.COMPLETED]
    assert "controller restarted" in task.history[runs[0].step].reason
    _check_exactly_once(task, events)
    assert [e.dimension for e in events].count(Dimension.TASKS) == 2
    _replay_changes_nothing(net)
