"""Agents over restarts: bindings and report marks kept, no-agent nodes, the dispatch timeout.

The plane is real (writer, SQLite stores); a second plane on the same database is a restart.
Its clock is a manual one, so that silence and timeouts pass at once; the writer's tick (about
once a second of real time) is waited for by polling with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
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
from suanwang.security import KeyPair, MetricReport, RejectReason, SignedEnvelope, sign_report
from suanwang.security import Role as KeyRole
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.service.health import HealthConfig, NodeHealth
from suanwang.storage import open_store

HEALTH = HealthConfig(tick_s=3600.0, suspect_after_s=3.0, down_after_s=5.0)  # checks by hand
ALICE = Principal("alice", "acme", frozenset({Role.CONSUMER}))
SPEC = TaskSpec(work_gflop=1.0, ingress_site=USERS_SITE)
NORTH, SOUTH, CLOUD = THREE_SITES_NODES
T0 = 1_700_000_000.0

Opener = Callable[..., ControlPlane]


class Site:
    """An agent's identity, driven by the test."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.keys = KeyPair.generate(KeyRole.AGENT)
        self.who = Principal(
            f"agent-{node}", "sites", frozenset({Role.AGENT}), frozenset({node}), self.keys.key_id
        )

    def bind(self, plane: ControlPlane) -> None:
        plane.bind_agent_key(self.who, self.node, self.keys.public_bytes)

    def report(self, at_s: float) -> bytes:
        return sign_report(self.keys, MetricReport(self.node, {"load_ratio": 0.1}, at_s)).to_wire()


def _envelope(wire: bytes) -> SignedEnvelope:
    return SignedEnvelope.from_wire(wire)


@pytest.fixture
def open_plane(tmp_path: Path) -> Iterator[Opener]:
    """Starts a plane on one database; each call after the first is a restart."""
    scenario = load_scenario(write_three_sites(tmp_path))
    clock = ManualClock(T0)
    running: list[ControlPlane] = []

    def opener(policy: AgentPolicy | None = None) -> ControlPlane:
        for plane in running:
            plane.stop()
            plane.stores.close()
        running.clear()
        stores = open_store(f"sqlite:///{tmp_path / 'plane.db'}")
        plane = ControlPlane(
            stores,
            journal_for(stores),
            scenario,
            resolve_profile("cats-joint"),
            dispatch=AgentDispatch,
            clock=clock,
            health=HEALTH,
            # the third site has no agent and stands in as capacity unless a test says not
            agents=policy or AgentPolicy(require_agent=False),
        )
        plane.start()
        running.append(plane)
        return plane

    yield opener
    for plane in running:
        plane.stop()
        plane.stores.close()


def _clock(plane: ControlPlane) -> ManualClock:
    assert isinstance(plane.clock, ManualClock)
    return plane.clock


def _eventually(check: Callable[[], bool], what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_binding_survives_a_restart_and_the_node_is_watched_again(open_plane: Opener) -> None:
    north, south = Site(NORTH), Site(SOUTH)
    first = open_plane()
    north.bind(first)
    south.bind(first)
    assert first.ingest(_envelope(north.report(T0))).ok
    clock = _clock(first)
    clock.advance(10.0)

    second = open_plane()  # a restart: nothing is bound again
    assert second.ingest(_envelope(north.report(clock.now_s()))).ok
    assert second.ingest(_envelope(south.report(clock.now_s()))).ok
    tasks = [second.submit(ALICE, SPEC).result(10).task for _ in range(4)]
    on_south = [t.id for t in tasks if t.placement is not None and t.placement.node_id == SOUTH]
    assert on_south, "nothing was placed on the node whose agent will die"
    monitor = second.health
    assert monitor is not None
    assert monitor.check() == []  # watched from the restart: not silent yet
    assert monitor.state(SOUTH) is NodeHealth.UP

    clock.advance(5.5)  # south's agent died with the old server; north beats on
    assert second.ingest(_envelope(north.report(clock.now_s()))).ok
    states = {event.node_id: event.state for event in monitor.check()}
    assert states == {SOUTH: NodeHealth.DOWN}
    for task_id in on_south:
        moved = second.tasks.get(task_id)
        assert moved is not None
        assert moved.placement is not None
        assert moved.placement.node_id != SOUTH
        assert any(f"node {SOUTH} down" in step.reason for step in moved.history)


def test_replays_stay_refused_after_a_restart(open_plane: Opener) -> None:
    north = Site(NORTH)
    first = open_plane()
    north.bind(first)
    clock = _clock(first)
    old = north.report(T0 + 1.0)
    assert first.ingest(_envelope(old)).ok
    newest = north.report(T0 + 2.0)
    assert first.ingest(_envelope(newest)).ok
    assert first.ingest(_envelope(old)).reason is RejectReason.REPLAY  # the nonce cache
    clock.advance(3.0)

    second = open_plane()  # within the 30 s window: only the marks can tell
    for wire in (old, newest):
        verdict = second.ingest(_envelope(wire))
        assert verdict.reason is RejectReason.REPLAY, verdict
        assert "restarted" in verdict.detail
    assert second.stores.agents.marks()[north.keys.key_id].last_ts_s == T0 + 2.0
    assert second.ingest(_envelope(north.report(clock.now_s()))).ok


def test_a_stored_mark_refuses_what_the_start_floor_would_pass(open_plane: Opener) -> None:
    north = Site(NORTH)
    first = open_plane()
    north.bind(first)
    ahead = north.report(T0 + 4.0)  # the agent's clock runs 4 s ahead of the server's
    assert first.ingest(_envelope(ahead)).ok
    _clock(first).advance(1.0)
    second = open_plane()  # restarted at T0 + 1: the report is after the start
    assert second.ingest(_envelope(ahead)).reason is RejectReason.REPLAY
    assert second.ingest(_envelope(north.report(T0 + 4.5))).ok


def test_marks_are_written_behind_at_most_once_a_second_per_key(open_plane: Opener) -> None:
    north = Site(NORTH)
    plane = open_plane()
    north.bind(plane)
    clock = _clock(plane)
    key = north.keys.key_id
    assert plane.ingest(_envelope(north.report(T0))).ok
    _eventually(lambda: key in plane.stores.agents.marks(), "the first mark was never written")
    for step in range(1, 6):  # five reports within one second: no write is due yet
        assert plane.ingest(_envelope(north.report(T0 + step * 0.1))).ok
    assert plane.agents.flush_marks() == 0
    clock.advance(1.0)
    assert plane.agents.flush_marks() == 1
    assert plane.stores.agents.marks()[key].last_ts_s == pytest.approx(T0 + 0.5)


def test_nodes_without_agents_take_nothing_until_one_binds(open_plane: Opener) -> None:
    plane = open_plane(AgentPolicy(require_agent=True))
    assert {plane.live.node_state(node) for node in THREE_SITES_NODES} == {"no-agent"}
    queued = plane.submit(ALICE, SPEC).result(10).task
    assert queued.state is TaskState.PENDING
    cloud = Site(CLOUD)
    cloud.bind(plane)
    assert plane.live.node_state(CLOUD) == "up"
    _eventually(
        lambda: (t := plane.tasks.get(queued.id)) is not None and t.state is TaskState.SCHEDULED,
        "the queued task was never placed on the node that got an agent",
    )
    placed = plane.tasks.get(queued.id)
    assert placed is not None
    assert placed.placement is not None
    assert placed.placement.node_id == CLOUD
    assert plane.live.node_state(NORTH) == "no-agent"
    # After a restart the binding admits its node at once; the others stay no-agent.
    again = open_plane(AgentPolicy(require_agent=True))
    assert again.live.node_state(CLOUD) == "up"
    assert again.live.node_state(SOUTH) == "no-agent"


def test_a_task_nobody_pulls_is_placed_elsewhere_then_fails_with_the_reason(
    open_plane: Opener,
) -> None:
    plane = open_plane(AgentPolicy(dispatch_timeout_s=30.0))
    clock = _clock(plane)
    north = Site(NORTH)
    north.bind(plane)  # an agent that is there but never pulls
    task = plane.submit(ALICE, SPEC).result(10).task
    assert task.state is TaskState.SCHEDULED
    first = task.placement.node_id if task.placement else ""
    nodes_seen = {first}
    # Each timeout takes the task back from a node: agentless ones become no-agent.
    for _ in range(len(THREE_SITES_NODES) + 1):
        current = plane.tasks.get(task.id)
        assert current is not None
        if current.state.is_terminal:
            break
        clock.advance(31.0)
        steps = len(current.history)

        def taken_back(steps: int = steps) -> bool:
            latest = plane.tasks.get(task.id)
            return latest is not None and len(latest.history) > steps

        _eventually(taken_back, "the dispatch timeout never took the task back")
        moved = plane.tasks.get(task.id)
        if moved is not None and moved.placement is not None:
            nodes_seen.add(moved.placement.node_id)
    done = plane.tasks.get(task.id)
    assert done is not None
    assert done.state is TaskState.FAILED, done.history
    assert f"not picked up by the agent of {NORTH} within the dispatch timeout" in (
        done.history[-1].reason
    )
    agentless = [node for node in nodes_seen if node != NORTH]
    for node in agentless:
        assert plane.live.node_state(node) == "no-agent"
        assert any("no agent picked up its tasks within 30 s" in s.reason for s in done.history)
    audit = [e.action for e in plane.stores.audit.list(1000)]
    assert audit.count("node.no-agent") == len(agentless)
