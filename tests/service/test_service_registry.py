"""Runtime registration: sites, nodes and links added live, checked, stored, kept over restarts;
a retired node drains (its service moves without a break), then stays down.

The plane is real (writer, SQLite stores); a second plane on the same database is a restart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from suanwang.bootstrap import journal_for
from suanwang.cli.localnet import USERS_SITE, write_three_sites
from suanwang.control.changes import ChangeKind
from suanwang.control.ports import ManualClock
from suanwang.control.stores import AuditEvent, ConflictError, NotFoundError, Principal, Role
from suanwang.execution import AgentDispatch
from suanwang.model import TaskSpec, TaskState
from suanwang.scenario import load_scenario
from suanwang.scheduling import resolve_profile
from suanwang.security import KeyPair
from suanwang.security import Role as KeyRole
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.service.overlay import RegistrationError
from suanwang.storage import open_store

ADMIN = Principal("root", "ops", frozenset({Role.ADMIN}))
ALICE = Principal("alice", "acme", frozenset({Role.CONSUMER}))
OLD_NODES = ("edge-north-1", "edge-south-1", "cloud-1")
SITE: dict[str, Any] = {
    "id": "edge-west",
    "tier": "edge",
    "geo": {"lat_deg": 22.55, "lon_deg": 113.9},
}
NODE: dict[str, Any] = {
    "id": "edge-west-1",
    "site": "edge-west",
    "cpu_cores": 4,
    "mem_gib": 16,
    "cpu_peak_gflops": {"fp64": 40, "fp32": 80},
}
LINK: dict[str, Any] = {"a": "users", "b": "edge-west", "bandwidth_mbps": 1000, "latency_ms": 1}
SPEC = TaskSpec(work_gflop=1.0, ingress_site=USERS_SITE)


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
        )
        plane.start()
        running.append(plane)
        return plane

    yield opener
    for plane in running:
        plane.stop()
        plane.stores.close()


def _register_west(plane: ControlPlane) -> None:
    for kind, body in ((ChangeKind.SITE, SITE), (ChangeKind.NODE, NODE), (ChangeKind.LINK, LINK)):
        plane.registry.register(ADMIN, kind, body).result(10)


def _only_west(plane: ControlPlane) -> None:
    for node in OLD_NODES:
        plane.drain_node(ADMIN, node, "the test wants the new node").result(10)


class Agent:
    """An agent's identity for one node, driven by the test."""

    def __init__(self, plane: ControlPlane, node: str) -> None:
        self.plane, self.node = plane, node
        keys = KeyPair.generate(KeyRole.AGENT)
        self.who = Principal(
            f"agent-{node}", "sites", frozenset({Role.AGENT}), frozenset({node}), keys.key_id
        )
        plane.bind_agent_key(self.who, node, keys.public_bytes)

    def start(self, expected_id: str) -> None:
        [pulled] = self.plane.pull(self.node, 10)
        assert pulled.id == expected_id
        self.plane.report(self.who, self.node, pulled.id, finished=False, ok=True, reason="")
        self.plane.call(lambda _: None).result(10)


def test_registrations_are_stored_audited_and_scheduled_on_at_once(
    open_plane: Callable[[], ControlPlane],
) -> None:
    plane = open_plane()
    plane.live.probes.announce("edge-north-1", "127.0.0.1", 9999)
    with plane.live.aggregator_lock:
        plane.live.network.observe("users--edge-north", latency_ms=7.0)
    _register_west(plane)
    live = plane.live
    assert live.topology_version == 3
    assert live.probes.endpoints() == {"edge-north-1": ("127.0.0.1", 9999)}  # kept over growth
    measured = live.network.metrics()
    assert measured.latency_ms[measured.index["users--edge-north"]] == 7.0
    assert not measured.measured[measured.index["users--edge-west"]]
    assert "edge-west-1" in live.controller.state.arrays.node_ids
    assert "users--edge-west" in live.scenario.topology.links
    assert plane.stores.topology is not None
    changes = plane.stores.topology.changes()
    assert [(c.version, c.kind, c.record_id) for c in changes] == [
        (1, ChangeKind.SITE, "edge-west"),
        (2, ChangeKind.NODE, "edge-west-1"),
        (3, ChangeKind.LINK, "users--edge-west"),
    ]
    assert [c.who for c in changes] == ["root"] * 3
    actions = [e.action for e in plane.stores.audit.list(limit=1000)]
    assert actions == ["site.register", "node.register", "link.register"]
    _only_west(plane)
    task = plane.submit(ALICE, SPEC).result(10).task
    assert task.placement is not None
    assert task.placement.node_id == "edge-west-1"


@pytest.mark.parametrize(
    ("kind", "body", "field", "value"),
    [
        (ChangeKind.NODE, {**NODE, "site": "nowhere"}, "site", "nowhere"),
        (ChangeKind.NODE, {**NODE, "id": "cloud-1", "site": "cloud"}, "id", "cloud-1"),
        (ChangeKind.NODE, {**NODE, "site": "cloud", "mem_gib": -1}, "mem_gib", -1),
        (ChangeKind.NODE, {**NODE, "site": "cloud", "cpu_cores": -2}, "cpu_cores", -2),
        (ChangeKind.LINK, {**LINK, "b": "atlantis"}, "b", "atlantis"),
        (ChangeKind.LINK, {**LINK, "b": "cloud", "bandwidth_mbps": -5}, "bandwidth_mbps", -5),
        (ChangeKind.SITE, {"id": "cloud", "tier": "edge"}, "id", "cloud"),
        (ChangeKind.SITE, {"id": "far", "tier": "moon"}, "tier", "moon"),
    ],
)
def test_a_registration_that_does_not_fit_names_field_and_value_and_writes_nothing(
    open_plane: Callable[[], ControlPlane],
    kind: ChangeKind,
    body: dict[str, Any],
    field: str,
    value: object,
) -> None:
    plane = open_plane()
    with pytest.raises(RegistrationError) as refused:
        plane.registry.register(ADMIN, kind, body).result(10)
    assert refused.value.field == field
    assert refused.value.value == value
    assert field in str(refused.value)
    assert str(value) in str(refused.value)
    assert plane.stores.topology is not None
    assert plane.stores.topology.version() == 0
    assert plane.stores.audit.list() == []
    assert plane.live.topology_version == 0


def test_registrations_and_retirements_survive_a_restart(
    open_plane: Callable[[], ControlPlane],
) -> None:
    plane = open_plane()
    _register_west(plane)
    service = {"id": "cs-west", "instances": [{"id": "csci-west-1", "node": "edge-west-1"}]}
    plane.registry.register(ADMIN, ChangeKind.SERVICE, service).result(10)
    topology = plane.live.scenario.topology
    assert [s.id for s in plane.live.scenario.services][-1:] == ["cs-west"]
    assert plane.live.scenario.topology is topology  # the catalogue only: nothing rebuilt
    assert plane.registry.retire(ADMIN, "edge-west-1", "decommissioned").result(10) == 0
    plane.call(plane.registry.tick).result(10)
    assert plane.live.node_state("edge-west-1") == "retired"
    plane = open_plane()  # a restart rebuilds scenario + rows
    live = plane.live
    assert live.topology_version == 5
    assert "cs-west" in {s.id for s in live.scenario.services}
    assert "edge-west-1" in live.scenario.topology.nodes
    assert live.node_state("edge-west-1") == "retired"
    with pytest.raises(ConflictError, match="retired"):
        plane.set_node(ADMIN, "edge-west-1", True, "try").result(10)
    with pytest.raises(ConflictError, match="retired already"):
        plane.registry.retire(ADMIN, "edge-west-1", "again").result(10)
    with pytest.raises(NotFoundError):
        plane.registry.retire(ADMIN, "ghost", "none").result(10)
    _only_west(plane)
    refused = plane.submit(ALICE, SPEC).result(10).task
    assert refused.placement is None  # nothing lands on a retired node


def test_retiring_a_node_moves_its_service_without_a_break(
    open_plane: Callable[[], ControlPlane],
) -> None:
    plane = open_plane()
    _register_west(plane)
    west = Agent(plane, "edge-west-1")  # the key binds to a node registered at runtime
    _only_west(plane)
    service = dataclasses.replace(SPEC, long_running=True)
    task = plane.submit(ALICE, service).result(10).task
    assert task.placement is not None
    assert task.placement.node_id == "edge-west-1"
    west.start(task.id)
    plane.set_node(ADMIN, "edge-north-1", True, "room for the move").result(10)
    north = Agent(plane, "edge-north-1")

    assert plane.registry.retire(ADMIN, "edge-west-1", "lease over").result(10) == 1
    assert plane.live.node_state("edge-west-1") == "retired"
    plane.call(plane.registry.tick).result(10)
    assert "edge-west-1" not in plane.live.down_nodes  # still serving until the move is made
    moving = plane.tasks.get(task.id, None)
    assert moving is not None
    assert moving.state is TaskState.RUNNING
    north.start(f"{task.id}~1")
    moved = plane.tasks.get(task.id, None)
    assert moved is not None
    assert moved.state is TaskState.RUNNING
    assert moved.placement is not None
    assert moved.placement.node_id == "edge-north-1"
    assert "without a break" in moved.history[-1].reason
    plane.call(plane.registry.tick).result(10)
    assert "edge-west-1" in plane.live.down_nodes
    actions = [e.action for e in plane.stores.audit.list(limit=1000)]
    assert actions.count("node.retire") == 1
    assert actions.count("node.retired") == 1


def test_changes_stored_by_another_process_are_applied_at_the_next_tick(
    open_plane: Callable[[], ControlPlane], tmp_path: Path
) -> None:
    plane = open_plane()
    with open_store(f"sqlite:///{tmp_path / 'plane.db'}") as other:
        assert other.topology is not None
        event = AuditEvent("root", "site.register", "site:edge-west", "", 1.0)
        other.topology.append(ChangeKind.SITE, "edge-west", SITE, event, 0)
    plane.call(plane.registry.tick).result(10)
    assert "edge-west" in plane.live.scenario.topology.sites
    assert plane.live.topology_version == 1


def test_a_link_without_latency_gets_it_from_the_ends_geo_and_comes_last(
    open_plane: Callable[[], ControlPlane],
) -> None:
    plane = open_plane()
    plane.registry.register(ADMIN, ChangeKind.SITE, SITE).result(10)
    link = {"a": "edge-north", "b": "edge-west", "bandwidth_mbps": 100}
    change = plane.registry.register(ADMIN, ChangeKind.LINK, link).result(10)
    topology = plane.live.scenario.topology
    assert list(topology.links)[-1] == change.record_id == "edge-north--edge-west"
    assert topology.links["edge-north--edge-west"].latency_ms > 0


def test_a_registration_sent_again_answers_the_stored_change_and_writes_nothing(
    open_plane: Callable[[], ControlPlane],
) -> None:
    plane = open_plane()
    _register_west(plane)
    again = plane.registry.register(ADMIN, ChangeKind.NODE, dict(NODE)).result(10)
    assert (again.version, again.record_id) == (2, "edge-west-1")
    assert len(plane.stores.audit.list()) == 3
    with pytest.raises(RegistrationError, match="taken"):
        plane.registry.register(ADMIN, ChangeKind.NODE, {**NODE, "cpu_cores": 2}).result(10)
    plane.registry.retire(ADMIN, "edge-west-1", "gone").result(10)
    with pytest.raises(RegistrationError, match="taken"):
        plane.registry.register(ADMIN, ChangeKind.NODE, dict(NODE)).result(10)


def test_a_task_naming_a_registered_service_runs_on_one_of_its_instances(
    open_plane: Callable[[], ControlPlane],
) -> None:
    plane = open_plane()
    edges = {
        "id": "cs-edges",
        "instances": [
            {"id": "csci-north", "node": "edge-north-1"},
            {"id": "csci-south", "node": "edge-south-1"},
        ],
    }
    plane.registry.register(ADMIN, ChangeKind.SERVICE, edges).result(10)
    plain = plane.submit(ALICE, SPEC).result(10).task.placement
    assert plain is not None
    assert (plain.node_id, plain.instance_id) == ("cloud-1", None)  # the cheapest
    named = dataclasses.replace(SPEC, service_id="cs-edges", long_running=True)
    task = plane.submit(ALICE, named).result(10).task
    assert task.placement is not None
    assert (task.placement.node_id, task.placement.instance_id) == ("edge-north-1", "csci-north")
    typo = plane.submit(ALICE, dataclasses.replace(SPEC, service_id="cs-egdes")).result(10).task
    assert typo.state is TaskState.REJECTED
    assert "service_id: 'cs-egdes' names no service of the catalogue" in typo.history[-1].reason

    # Retired, its service moves make-before-break to the other instance, not to cloud-1.
    north, south = Agent(plane, "edge-north-1"), Agent(plane, "edge-south-1")
    north.start(task.id)
    assert plane.registry.retire(ADMIN, "edge-north-1", "lease over").result(10) == 1
    south.start(f"{task.id}~1")
    moved = plane.tasks.get(task.id, None)
    assert moved is not None
    assert moved.state is TaskState.RUNNING
    assert moved.placement is not None
    assert (moved.placement.node_id, moved.placement.instance_id) == ("edge-south-1", "csci-south")

    plane = open_plane()  # a restart rebuilds the catalogue from the rows
    again = plane.submit(ALICE, dataclasses.replace(SPEC, service_id="cs-edges")).result(10).task
    assert again.placement is not None
    assert again.placement.instance_id == "csci-south"  # edge-north-1 is retired


def test_changes_a_scenario_load_leaves_out_are_audited_with_the_reason(
    open_plane: Callable[[], ControlPlane], tmp_path: Path
) -> None:
    plane = open_plane()
    _register_west(plane)
    renamed = tmp_path / "renamed" / "people.yaml"
    renamed.parent.mkdir()
    text = write_three_sites(tmp_path / "source").read_text(encoding="utf-8")
    renamed.write_text(text.replace("users", "people"), encoding="utf-8")
    plane.load_scenario(ADMIN, load_scenario(renamed), cancel_active=True).result(10)
    plane.call(plane.registry.tick).result(10)
    live = plane.live
    assert "edge-west-1" in live.scenario.topology.nodes  # site and node still fit
    assert "users--edge-west" not in live.scenario.topology.links  # its end "users" is gone
    skipped = [e for e in plane.stores.audit.list(limit=1000) if e.action == "topology.skipped"]
    assert [(e.who, e.target) for e in skipped] == [("system", "topology")]
    assert skipped[0].detail.startswith("topology version 3 skipped: ")
    assert "users" in skipped[0].detail
    plane.call(plane.registry.tick).result(10)  # audited once
    again = [e for e in plane.stores.audit.list(limit=1000) if e.action == "topology.skipped"]
    assert len(again) == 1
