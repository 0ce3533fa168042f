"""The live plane's writer feeds the controller's state: the clock's hour, agents' reports."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from suanwang.bootstrap import journal_for
from suanwang.control.ports import ManualClock
from suanwang.control.stores import Principal, Role
from suanwang.execution import AgentDispatch
from suanwang.scenario import load_builtin
from suanwang.scheduling import resolve_profile
from suanwang.security import KeyPair, MetricReport, sign_report
from suanwang.security import Role as KeyRole
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.storage import open_store

SIMULATED = AgentPolicy(require_agent=False)  # nodes without agents stand in as capacity
T0 = 1_700_000_000.0  # 22:13:20 UTC
NODE = "edge-futian-mec-2"


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[tuple[ControlPlane, ManualClock]]:
    clock = ManualClock(T0)
    with open_store(f"sqlite:///{tmp_path / 'plane.db'}") as stores:
        scenario = load_builtin("metro-edge")
        live = ControlPlane(
            stores,
            journal_for(stores),
            scenario,
            resolve_profile("cats-joint"),
            dispatch=AgentDispatch,
            clock=clock,
            agents=SIMULATED,
        )
        live.start()
        try:
            yield live, clock
        finally:
            live.stop()


def _eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "the writer never fed the state"
        time.sleep(0.02)


def test_the_live_hour_moves_with_the_clock(plane: tuple[ControlPlane, ManualClock]) -> None:
    live, clock = plane
    state = live.live.controller.state
    _eventually(lambda: state.hour_of_day == 22)
    assert state.node_hour is not None  # metro-edge sites sit near 114 degrees east: UTC+8
    assert set(state.node_hour.tolist()) == {6}
    clock.advance(3 * 3600.0)
    _eventually(lambda: state.hour_of_day == 1)
    assert state.node_hour is not None
    assert set(state.node_hour.tolist()) == {9}


def test_an_agents_report_reaches_the_controllers_state(
    plane: tuple[ControlPlane, ManualClock],
) -> None:
    live, _ = plane
    keys = KeyPair.generate(KeyRole.AGENT)
    who = Principal("agent", "acme", frozenset({Role.AGENT}), frozenset({NODE}), keys.key_id)
    live.bind_agent_key(who, NODE, keys.public_bytes)
    report = MetricReport(NODE, {"load_ratio": 0.9, "cpu_free_cores": 0.5}, T0)
    assert live.ingest(sign_report(keys, report)).ok
    state = live.live.controller.state
    i = state.arrays.node_ids.index(NODE)

    def fed() -> bool:
        snapshot = state.snapshot
        return snapshot is not None and float(snapshot.load_ratio[i]) == 0.9

    _eventually(fed)
    assert state.cpu_utilisation()[i] == pytest.approx(0.9)
    assert state.free_cpu_cores()[i] == pytest.approx(0.6)
    assert state.usable().all()  # nodes without agents are not excluded
