"""Measured state reaches the live queue: a task queued while every node was measured busy is
placed at the next writer tick after an agent reports its node free, with no release between."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from suanwang.bootstrap import journal_for
from suanwang.cli.localnet import THREE_SITES_NODES, USERS_SITE, write_three_sites
from suanwang.control.ports import ManualClock
from suanwang.control.stores import Principal, Role
from suanwang.execution import AgentDispatch
from suanwang.model import TaskSpec, TaskState
from suanwang.scenario import load_scenario
from suanwang.scheduling import resolve_profile
from suanwang.security import MetricReport
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.storage import open_store

ALICE = Principal("alice", "acme", frozenset({Role.CONSUMER}))
T0 = 1_700_000_000.0
WAIT_S = 15.0  # writer ticks come about once a second


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[tuple[ControlPlane, ManualClock]]:
    stores = open_store(f"sqlite:///{tmp_path / 'plane.db'}")
    clock = ManualClock(T0)
    plane = ControlPlane(
        stores,
        journal_for(stores),
        load_scenario(write_three_sites(tmp_path)),
        resolve_profile("cats-joint"),
        dispatch=AgentDispatch,
        clock=clock,
        agents=AgentPolicy(require_agent=False),
    )
    plane.start()
    yield plane, clock
    plane.stop()
    stores.close()


def _report(plane: ControlPlane, clock: ManualClock, free_cores: dict[str, float]) -> None:
    live = plane.live
    with live.aggregator_lock:
        for node_id, free in free_cores.items():
            live.aggregator.apply(MetricReport(node_id, {"cpu_free_cores": free}, clock.now_s()))


def _state_within(plane: ControlPlane, task_id: str, wanted: TaskState) -> TaskState:
    deadline = time.monotonic() + WAIT_S
    while True:
        task = plane.stores.tasks.get(task_id)
        assert task is not None
        if task.state is wanted or time.monotonic() > deadline:
            return task.state
        time.sleep(0.05)


def _free_cores(plane: ControlPlane) -> list[float]:
    """The scheduler's free cores per node, read on the writer (as a cycle sees them)."""
    free = plane.call(lambda _: plane.live.controller.state.free_cpu_cores().tolist())
    return [float(x) for x in free.result(30)]


def _ticked_busy(plane: ControlPlane) -> list[float]:
    """Free cores once a tick has applied the busy reports (every node under one core)."""
    deadline = time.monotonic() + WAIT_S
    while max(free := _free_cores(plane)) >= 1.0 and time.monotonic() < deadline:
        time.sleep(0.05)
    return free


def test_a_task_queued_on_measured_load_is_placed_when_a_report_frees_a_node(
    plane: tuple[ControlPlane, ManualClock],
) -> None:
    live, clock = plane
    _report(live, clock, dict.fromkeys(THREE_SITES_NODES, 0.0))
    assert max(_ticked_busy(live)) < 1.0  # measured busy: the ledger holds nothing
    spec = TaskSpec(work_gflop=1.0, cpu_cores=1.0, ingress_site=USERS_SITE)
    task = live.submit(ALICE, spec).result(30).task
    assert task.state is TaskState.PENDING, task.reason

    free_node = THREE_SITES_NODES[0]
    clock.advance(1.0)  # a report is taken only when newer than the node's last
    _report(live, clock, {free_node: 2.0})

    assert _state_within(live, task.id, TaskState.SCHEDULED) is TaskState.SCHEDULED
    placed = live.stores.tasks.get(task.id)
    assert placed is not None
    assert placed.placement is not None
    assert placed.placement.node_id == free_node
