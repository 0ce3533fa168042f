"""Usage survives SIGKILL: a real server process killed while real agents finish runs.

Rounds of tasks are submitted and the server is SIGKILLed at a random point while the agents
run and report them, then started again on the same database and port; one agent is SIGKILLed
and started again too. Once every task is final:

- every run's usage is stored exactly once: under each task exactly the keys (and figures)
  ``runs_of`` and ``usage_of`` give for its runs, the final one and each one a restart or the
  killed agent's lost node cut short, one ``tasks`` event per run;
- sending every stored event again (a replay) stores nothing and changes no invoice.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from restart_support import RestartingNet

from suanwang.bootstrap.settings import Settings
from suanwang.cli.localnet import THREE_SITES_NODES, USERS_SITE, write_three_sites
from suanwang.market import Dimension, Ingest, Invoice, UsageEvent, builtin_plan, rate
from suanwang.market.metering import run_usage, runs_of, usage_of
from suanwang.model import Task, TaskState
from suanwang.storage import Stores, open_store
from suanwang.storage.market import SqlMarketStore

HEARTBEAT_S = 0.5
HEALTH = {"suspect_after_s": "1.0", "down_after_s": "2.0", "health_tick_s": "0.2"}
# Several agents' workers share this machine's cores: what a node measures says nothing of its
# claim here, so no claim is quarantined as inflated (that would hold the tasks off every node).
SETTINGS = HEALTH | {"attest_tolerance": "0"}
ROUNDS = 4
TASKS_PER_ROUND = 12
AGENT_ROUND = 2  # the round in which an agent is SIGKILLed too
WORK = {"work_gflop": 3.0, "cpu_cores": 1.0, "mem_gib": 0.5, "ingress_site": USERS_SITE}
FINAL = {"completed", "failed", "rejected", "cancelled"}
PERIOD_S = 30 * 86_400.0  # the server's default billing period


def _not_final(net: RestartingNet, ids: list[str]) -> list[tuple[str, str]]:
    """(id, state) of the tasks of ``ids`` not yet final (every one if the server is away)."""
    with net.net.client() as client:
        try:
            docs = [client.get(f"/v1/tasks/{task_id}").json() for task_id in ids]
        except httpx.HTTPError:
            return [(task_id, "unknown") for task_id in ids]
    return [(doc["id"], doc["state"]) for doc in docs if doc["state"] not in FINAL]


def _submit(net: RestartingNet, count: int) -> list[str]:
    with net.net.client() as client:
        return [
            client.post("/v1/tasks", json=WORK).raise_for_status().json()["id"]
            for _ in range(count)
        ]


def _invoices(store: SqlMarketStore, periods: list[int]) -> list[Invoice]:
    plan = builtin_plan()
    found: list[Invoice] = []
    for period in periods:
        lines = store.usage_lines(period)
        found += [rate(t, period, lines, plan) for t in sorted({x.tenant for x in lines})]
    return found


@pytest.fixture
def net(tmp_path: Path) -> Iterator[RestartingNet]:
    scenario = write_three_sites(tmp_path)
    running = RestartingNet(tmp_path / "data", str(scenario), SETTINGS)
    try:
        running.start()
        for node in THREE_SITES_NODES:
            running.net.start_agent(node, interval_s=HEARTBEAT_S)
        running.net.wait_heartbeats(list(THREE_SITES_NODES))
        yield running
    finally:
        running.close()


@pytest.mark.timeout(400)
def test_sigkill_while_usage_flows_loses_and_doubles_nothing(net: RestartingNet) -> None:
    rng = random.Random(15)
    ids: list[str] = []
    finished_before_kill: list[int] = []
    for round_no in range(ROUNDS):
        ids += _submit(net, TASKS_PER_ROUND)
        if round_no == AGENT_ROUND:
            net.net.kill_agent(THREE_SITES_NODES[0])
        time.sleep(rng.uniform(0.2, 1.5))  # the kill point, drawn at random
        finished_before_kill.append(
            int(str(net.query("SELECT COUNT(*) FROM usage_events WHERE dimension = 'tasks'")[0][0]))
        )
        net.kill()
        net.start()
        if round_no == AGENT_ROUND:
            net.net.start_agent(THREE_SITES_NODES[0], interval_s=HEARTBEAT_S)
    deadline = time.monotonic() + 180.0
    while left := _not_final(net, ids):
        assert time.monotonic() < deadline, f"tasks never ended: {left}"
        time.sleep(0.1)
    # Usage was flowing when the server died: runs ended (and were metered) between kills.
    assert finished_before_kill[-1] > 0, finished_before_kill

    with open_store(Settings(data_dir=net.net.data_dir).resolved_database_url()) as stores:
        _check_exactly_once(stores, ids)
        store = SqlMarketStore(stores.engine, PERIOD_S, Decimal("0.05"))  # type: ignore[arg-type]
        periods = [int(str(p)) for (p,) in net.query("SELECT DISTINCT period FROM usage_events")]
        before = _invoices(store, periods)
        assert sum(invoice.total for invoice in before) > 0
        stored = [event for period in periods for event in store.usage_events(period)]
        replayed = [
            outcome
            for start in range(0, len(stored), 500)
            for outcome in store.ingest(stored[start : start + 500])
        ]
        assert set(replayed) == {Ingest.DUPLICATE}
        assert _invoices(store, periods) == before
    log = (net.net.data_dir / "logs" / "server.log").read_text(errors="replace")
    recovered = log.count("was missing and is metered now")
    # The report of the rounds (pytest -s): how often a kill fell between commit and flush.
    print(f"tasks metered before each kill: {finished_before_kill}; recoveries: {recovered}")


def _check_exactly_once(stores: Stores, ids: list[str]) -> None:
    """Every run of every task has its usage stored, each key once, and nothing else is."""
    # THREE_SITES names no owners: every node is the operator's (``Node.owner``'s default).
    tasks: list[Task] = []
    for task_id in ids:
        task = stores.tasks.get(task_id)
        assert task is not None, task_id
        tasks.append(task)
    ran = [t for t in tasks if t.state in (TaskState.COMPLETED, TaskState.FAILED)]
    assert ran, [t.state for t in tasks]
    store = SqlMarketStore(stores.engine, PERIOD_S, Decimal("0.05"))  # type: ignore[arg-type]
    periods = {int(t.history[-1].at_s // PERIOD_S) for t in tasks}
    by_task: dict[str, list[UsageEvent]] = {}
    for period in sorted(periods | {p + 1 for p in periods}):
        for event in store.usage_events(period):
            by_task.setdefault(event.run_id.split("@")[0], []).append(event)
    cut_short = 0
    for task in tasks:
        runs = runs_of(task)
        expected = [e for run in runs for e in usage_of(task, run, "operator")]
        got = by_task.get(task.id, [])
        assert [e.dimension for e in got].count(Dimension.TASKS) == len(runs), (task.id, got)
        assert sorted(got, key=lambda e: e.key) == sorted(expected, key=lambda e: e.key), task.id
        if task in ran:
            assert run_usage(task, "operator"), task.id  # its final run is among them
        cut_short += sum(run.step != len(task.history) - 1 for run in runs)
    assert set(by_task) <= {t.id for t in tasks}
    print(f"runs cut short by a restart or a lost node, each billed once: {cut_short}")
