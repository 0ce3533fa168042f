"""Self-healing in the control plane: silence -> suspected -> down (tasks re-placed) -> back up.

The monitor's checks are driven by hand on a manual clock; the writer and the stores are real.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from suanwang.bootstrap import journal_for
from suanwang.cli.localnet import USERS_SITE, write_three_sites
from suanwang.control.ports import ManualClock
from suanwang.control.stores import NotFoundError, Principal, Role
from suanwang.execution import AgentDispatch
from suanwang.model import TaskSpec, TaskState
from suanwang.scenario import load_scenario
from suanwang.scheduling import resolve_profile
from suanwang.security import KeyPair, MetricReport, sign_report
from suanwang.security import Role as KeyRole
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.service.health import HealthConfig, HealthMonitor, NodeHealth
from suanwang.storage import open_store

CONFIG = HealthConfig(tick_s=3600.0, suspect_after_s=3.0, down_after_s=5.0)  # checks by hand
ALICE = Principal("alice", "acme", frozenset({Role.CONSUMER}))
AGENT_NODES = ("edge-north-1", "edge-south-1")  # cloud-1 has no agent
SPEC = TaskSpec(work_gflop=1.0, ingress_site=USERS_SITE)


class Site:
    """An agent's identity, driven by the test."""

    def __init__(self, plane: ControlPlane, node: str) -> None:
        self.plane, self.node = plane, node
        self.keys = KeyPair.generate(KeyRole.AGENT)
        self.who = Principal(
            f"agent-{node}", "sites", frozenset({Role.AGENT}), frozenset({node}), self.keys.key_id
        )
        plane.bind_agent_key(self.who, node, self.keys.public_bytes)

    def beat(self) -> None:
        report = MetricReport(self.node, {"load_ratio": 0.1}, self.plane.clock.now_s())
        assert self.plane.ingest(sign_report(self.keys, report)).ok


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[ControlPlane]:
    scenario = load_scenario(write_three_sites(tmp_path))
    clock = ManualClock(time.time())
    with open_store(f"sqlite:///{tmp_path / 'plane.db'}") as stores:
        made = ControlPlane(
            stores,
            journal_for(stores),
            scenario,
            resolve_profile("cats-joint"),
            dispatch=AgentDispatch,
            clock=clock,
            health=CONFIG,
            agents=AgentPolicy(require_agent=False),  # cloud-1 stands in as capacity
        )
        made.start()
        try:
            yield made
        finally:
            made.stop()


def _monitor(plane: ControlPlane) -> HealthMonitor:
    assert plane.health is not None
    return plane.health


def _advance(plane: ControlPlane, seconds: float, beating: list[Site]) -> None:
    assert isinstance(plane.clock, ManualClock)
    plane.clock.advance(seconds)
    for site in beating:
        site.beat()


def test_a_silent_node_is_suspected_then_down_and_its_tasks_move(plane: ControlPlane) -> None:
    sites = {node: Site(plane, node) for node in AGENT_NODES}
    for site in sites.values():
        site.beat()
    tasks = [plane.submit(ALICE, SPEC).result(10).task for _ in range(3)]
    on_node = {t.id: t.placement.node_id for t in tasks if t.placement is not None}
    victim = next(node for node in AGENT_NODES if node in on_node.values())
    other = [s for n, s in sites.items() if n != victim]
    monitor = _monitor(plane)

    _advance(plane, 2.0, other)
    assert monitor.check() == []
    _advance(plane, 1.5, other)
    [suspected] = monitor.check()
    assert (suspected.node_id, suspected.state) == (victim, NodeHealth.SUSPECTED)
    assert victim not in plane.live.down_nodes  # suspicion alone drains it: no new work
    assert plane.live.node_state(victim) == "draining"
    _advance(plane, 2.0, other)
    [down] = monitor.check()
    assert (down.node_id, down.state) == (victim, NodeHealth.DOWN)
    assert down.detection_s == pytest.approx(5.5)
    assert down.replacement_s is not None
    assert down.replacement_s < 5.0
    assert down.moved == sum(1 for node in on_node.values() if node == victim)
    assert victim in plane.live.down_nodes

    # Nothing is lost: every task of the victim is placed elsewhere, durably.
    for task_id, node in on_node.items():
        stored = plane.tasks.get(task_id, None)
        assert stored is not None
        assert stored.state is TaskState.SCHEDULED
        assert stored.placement is not None
        if node == victim:
            assert stored.placement.node_id != victim
            assert any(f"node {victim} down" in step.reason for step in stored.history)
    # The node without an agent is never judged; another pass changes nothing.
    assert monitor.state("cloud-1") is None
    assert "cloud-1" not in plane.live.down_nodes
    assert monitor.check() == []
    actions = [e.action for e in plane.stores.audit.list(1000) if e.target == f"node:{victim}"]
    assert actions == ["agent.key", "node.suspected", "node.drain", "node.down", "node.healed"]


def test_a_heartbeat_brings_a_down_node_back_and_clears_a_suspicion(plane: ControlPlane) -> None:
    north, south = (Site(plane, node) for node in AGENT_NODES)
    monitor = _monitor(plane)
    _advance(plane, 6.0, [south])
    assert [e.state for e in monitor.check()] == [NodeHealth.DOWN]
    _advance(plane, 0.1, [north, south])
    [back] = monitor.check()
    assert (back.node_id, back.state) == (north.node, NodeHealth.UP)
    assert north.node not in plane.live.down_nodes

    _advance(plane, 4.0, [north])
    assert [(e.node_id, e.state) for e in monitor.check()] == [(south.node, NodeHealth.SUSPECTED)]
    _advance(plane, 0.1, [north, south])
    assert [(e.node_id, e.state) for e in monitor.check()] == [(south.node, NodeHealth.UP)]
    assert south.node not in plane.live.down_nodes
    assert plane.live.node_state(south.node) == "up"  # trusted again: the drain is over


def test_a_suspected_node_moves_its_service_before_releasing_it(plane: ControlPlane) -> None:
    sites = {node: Site(plane, node) for node in AGENT_NODES}
    for site in sites.values():
        site.beat()
    admin = Principal("root", "ops", frozenset({Role.ADMIN}))
    plane.drain_node(admin, "cloud-1", "no agent here").result(10)  # services go to agents
    service = dataclasses.replace(SPEC, long_running=True)
    task = plane.submit(ALICE, service).result(10).task
    assert task.placement is not None
    victim = sites[task.placement.node_id]
    [other] = [site for site in sites.values() if site is not victim]
    [pulled] = plane.pull(victim.node, 10)
    plane.report(victim.who, victim.node, pulled.id, finished=False, ok=True, reason="").result(10)

    monitor = _monitor(plane)
    _advance(plane, 3.5, [other])
    [suspected] = monitor.check()
    assert (suspected.state, suspected.moved) == (NodeHealth.SUSPECTED, 1)
    moving = plane.tasks.get(task.id, None)
    assert moving is not None
    assert moving.state is TaskState.RUNNING
    assert moving.placement is not None
    assert moving.placement.node_id == victim.node
    [replacement] = plane.pull(other.node, 10)
    assert replacement.id == f"{task.id}~1"
    started = plane.report(
        other.who, other.node, replacement.id, finished=False, ok=True, reason=""
    ).result(10)
    assert started.id == task.id
    assert started.placement is not None
    assert started.placement.node_id == other.node
    assert "without a break" in started.history[-1].reason
    # The old run is released: its late report is refused, and the node going down moves nothing.
    with pytest.raises(NotFoundError):
        plane.report(victim.who, victim.node, task.id, finished=True, ok=True, reason="").result(10)
    _advance(plane, 2.0, [other])
    [down] = monitor.check()
    assert (down.state, down.moved) == (NodeHealth.DOWN, 0)
    plane.report(
        other.who, other.node, replacement.id, finished=True, ok=True, reason="served"
    ).result(10)
    done = plane.tasks.get(task.id, None)
    assert done is not None
    assert done.state is TaskState.COMPLETED
    causes = [step.reason for step in done.history]
    assert any("replacement is placed on" in reason for reason in causes)


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="suspect_after_s"):
        HealthConfig(suspect_after_s=6.0, down_after_s=5.0)
    with pytest.raises(ValueError, match="tick_s"):
        HealthConfig(tick_s=0.0)
