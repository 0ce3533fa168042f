"""Quarantine over restarts: kept, not lifted by an operator's up, lifted by a fresh attestation.

The plane is real (writer, SQLite stores); a second plane on the same database is a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from suanwang.bootstrap import journal_for
from suanwang.cli.localnet import THREE_SITES_NODES, write_three_sites
from suanwang.control.ports import ManualClock
from suanwang.control.stores import Principal, Role
from suanwang.execution import AgentDispatch
from suanwang.measure.challenge import answer
from suanwang.scenario import load_scenario
from suanwang.scheduling import resolve_profile
from suanwang.security import KeyPair
from suanwang.security import Role as KeyRole
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.service.attest import AttestPolicy
from suanwang.storage import open_store

NORTH, SOUTH, _ = THREE_SITES_NODES
ADMIN = Principal("admin", "operator", frozenset({Role.ADMIN}))
POLICY = AttestPolicy(interval_s=0.0, size=32)


@pytest.fixture
def open_plane(tmp_path: Path) -> Iterator[Callable[[], ControlPlane]]:
    """Starts a plane on one database; each call after the first is a restart."""
    scenario = load_scenario(write_three_sites(tmp_path))
    running: list[ControlPlane] = []

    def opener() -> ControlPlane:
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
            clock=ManualClock(1_700_000_000.0),
            agents=AgentPolicy(require_agent=False),
            attest=POLICY,
        )
        plane.start()
        running.append(plane)
        return plane

    yield opener
    for plane in running:
        plane.stop()
        plane.stores.close()


def _bind(plane: ControlPlane, node: str) -> None:
    keys = KeyPair.generate(KeyRole.AGENT)
    who = Principal(
        f"agent-{node}", "sites", frozenset({Role.AGENT}), frozenset({node}), keys.key_id
    )
    plane.bind_agent_key(who, node, keys.public_bytes)


def _answer(plane: ControlPlane, node: str, measured_gflops: float) -> str:
    challenge = plane.joining.challenge(node)
    assert challenge is not None
    checks = list(answer(challenge.seed, challenge.size).row_checksums)
    judged = plane.joining.answer(node, challenge.id, checks, measured_gflops)
    assert judged is not None
    return judged.verdict.value


def test_a_quarantine_survives_a_restart_and_only_a_fresh_attestation_lifts_it(
    open_plane: Callable[[], ControlPlane],
) -> None:
    plane = open_plane()
    _bind(plane, NORTH)
    _bind(plane, SOUTH)
    assert _answer(plane, NORTH, measured_gflops=0.5) == "inflated"  # claims 25 GFLOP/s
    assert plane.live.node_state(NORTH) == "quarantined"
    plane = open_plane()  # a restart
    assert plane.live.node_state(NORTH) == "quarantined"
    assert plane.joining.challenge(NORTH) is None
    assert plane.joining.challenge(SOUTH) is not None  # bound agents are challenged again
    plane.set_node(ADMIN, NORTH, True, "an operator's up").result(30)
    assert plane.live.node_state(NORTH) == "quarantined"
    plane.attestor.request(NORTH)
    assert _answer(plane, NORTH, measured_gflops=30.0) == "consistent"
    assert plane.live.node_state(NORTH) == "up"
    actions = [e.action for e in plane.stores.audit.list(limit=1000)]
    assert actions.count("node.quarantine") == 1
    assert actions.count("node.release") == 1
