"""Runtime registration: sites, nodes, links and services added to the live topology, nodes retired.

The live topology is the scenario being served (the configured one, or the one last loaded,
kept by ``livefile``) with the stored topology changes (``control.changes``) applied in
version order. A registration is checked against the live topology (a clear error naming the
field and the value, nothing written), stored as the next version with its audit entry in one
transaction, and then the live network grows in place (``LiveNetwork.grow``): tasks, runs and
reservations go on, and the next scheduling cycle sees the new node or link. A node starts
``no-agent`` (when agents are required) until its agent enrols. A service (with its instances
on known nodes) joins the catalogue only. Sending a registration again with the same record
answers the stored change (nothing written), so a caller who heard no answer may retry.

Retiring a node stores a ``retire`` change, then drains it (services move make-before-break,
batch tasks finish there); once nothing runs on it the writer's tick marks it down for good.
The node's record stays in the topology, retired, for history; an operator's ``up`` does not
bring it back. A start rebuilds the same picture from the scenario and the rows.

The writer's tick also catches up with changes stored by another process on the same database.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from suanwang.control.changes import ChangeKind, TopologyChange, TopologyChangeStore
from suanwang.control.stores import (
    AuditEvent,
    ConflictError,
    NotFoundError,
    Principal,
    StoreError,
)
from suanwang.model import Link, NetworkElement, Node, Scenario, Site, Topology, TopologyError
from suanwang.scenario import ScenarioError
from suanwang.scenario.dump import scenario_to_data
from suanwang.scenario.errors import format_path
from suanwang.scenario.io import scenario_from_data

if TYPE_CHECKING:
    from suanwang.service.live import LiveNetwork
    from suanwang.service.plane import ControlPlane
    from suanwang.service.worker import Batch

log = logging.getLogger(__name__)

_LISTS = {
    ChangeKind.SITE: "sites",
    ChangeKind.NODE: "nodes",
    ChangeKind.LINK: "links",
    ChangeKind.SERVICE: "services",
}
RETIRED_REASON = "retired"


class RegistrationError(ValueError):
    """A registration does not fit the live topology; nothing was written.

    Attributes:
        field: The field at fault (``site``, ``mem_gib``, ``a``, ...), or "" for the whole.
        value: Its value, when there is one.
    """

    def __init__(self, message: str, field: str = "", value: object = None) -> None:
        super().__init__(message)
        self.field, self.value = field, value


@dataclass(frozen=True, slots=True)
class Overlay:
    """A scenario with stored changes applied.

    Attributes:
        scenario: The live scenario.
        version: Newest change applied (0 for none).
        retired: Nodes retired by the changes.
        notes: One line per change that did not apply to this scenario (skipped).
    """

    scenario: Scenario
    version: int = 0
    retired: frozenset[str] = frozenset()
    notes: list[str] = field(default_factory=list)


def record_id_of(kind: ChangeKind, body: dict[str, Any]) -> str:
    """The id a registration's record will have (a link without one is named ``A--B``)."""
    if kind is ChangeKind.LINK and not body.get("id"):
        return f"{body.get('a')}--{body.get('b')}"
    return str(body.get("id", ""))


def _check_fits(scenario: Scenario, kind: ChangeKind, body: dict[str, Any]) -> None:
    """Refuse a taken id and unknown references with the field and value named."""
    topology = scenario.topology
    record_id = record_id_of(kind, body)
    taken: tuple[Any, ...] = (topology.sites, topology.nodes, topology.elements, topology.links)
    if kind is ChangeKind.SERVICE:
        taken = ({service.id for service in scenario.services},)
    if record_id and any(record_id in records for records in taken):
        raise RegistrationError(f"id: {record_id!r} is taken in the live topology", "id", record_id)
    if kind is ChangeKind.NODE:
        site = body.get("site")
        if isinstance(site, str) and site not in topology.sites:
            raise RegistrationError(f"site: unknown site {site!r}", "site", site)
        for unsupported in ("count", "profile"):
            if unsupported in body:
                raise RegistrationError(
                    f"{unsupported}: not allowed in a registration (one node, all fields given)",
                    unsupported,
                    body[unsupported],
                )
    if kind is ChangeKind.LINK:
        for end in ("a", "b"):
            vertex = body.get(end)
            if (
                isinstance(vertex, str)
                and vertex not in topology.sites
                and vertex not in topology.elements
            ):
                raise RegistrationError(
                    f"{end}: unknown site or network element {vertex!r}", end, vertex
                )


def with_changes(
    scenario: Scenario, changes: Iterable[tuple[ChangeKind, dict[str, Any]]]
) -> Scenario:
    """``scenario`` with registrations added after its own records, checked as a file is.

    Raises:
        RegistrationError: a registration does not fit (its field and value named).
    """
    data = scenario_to_data(scenario)
    where: list[tuple[str, int]] = []
    for kind, body in changes:
        if kind is ChangeKind.RETIRE:
            continue
        entries = data.setdefault(_LISTS[kind], [])
        where.append((_LISTS[kind], len(entries)))
        entries.append(copy.deepcopy(body))
    try:
        return scenario_from_data(data, source="registration")
    except ScenarioError as error:
        path = tuple(error.path)
        if len(path) >= 2 and (path[0], path[1]) in where:
            name = format_path(path[2:]) if len(path) > 2 else "(record)"
            value = getattr(error, "value", None)
            if type(value) is object:  # the error's "no value" mark
                value = None
            shown = "" if value is None else f" (got {value!r})"
            raise RegistrationError(f"{name}: {error.message}{shown}", name, value) from None
        raise RegistrationError(f"does not fit the live topology: {error}") from None


def grown_by(scenario: Scenario, kind: ChangeKind, body: dict[str, Any]) -> Scenario:
    """``scenario`` with one registration added after its own records (``_check_fits`` first).

    A site, node or link is checked as a scenario file's entry is, in a scenario of just the
    vertices it names, so its cost does not grow with the topology; a service (which names
    nodes and task types) is checked in the whole scenario.

    Raises:
        RegistrationError: the registration does not fit (its field and value named).
    """
    if kind is ChangeKind.SERVICE:
        return with_changes(scenario, [(kind, body)])
    topology = scenario.topology
    sites: dict[str, Site] = {}
    elements: dict[str, NetworkElement] = {}
    ends = [body.get("site")] if kind is ChangeKind.NODE else [body.get("a"), body.get("b")]
    for vertex in [str(v) for v in ends] if kind is not ChangeKind.SITE else []:
        if vertex in topology.sites:
            sites[vertex] = topology.sites[vertex]
        elif vertex in topology.elements:
            element = elements[vertex] = topology.elements[vertex]
            if element.site_id is not None:
                sites[element.site_id] = topology.sites[element.site_id]
    around = Scenario(
        scenario.name,
        Topology(sites=sites.values(), elements=elements.values()),
        energy_profiles=scenario.energy_profiles,
    )
    made = with_changes(around, [(kind, body)]).topology
    record_id = record_id_of(kind, body)
    record: Site | Node | Link
    if kind is ChangeKind.SITE:
        record = made.sites[record_id]
    elif kind is ChangeKind.NODE:
        record = made.nodes[record_id]
    else:
        record = made.links[record_id]
    try:
        return dataclasses.replace(scenario, topology=topology.updated(record))
    except TopologyError as error:
        raise RegistrationError(f"does not fit the live topology: {error}") from None


def overlay(base: Scenario, changes: list[TopologyChange]) -> Overlay:
    """``base`` with ``changes`` applied in version order; a change that does not fit is skipped.

    A change may not fit when the scenario was replaced since it was stored (a node's site
    gone, an id the new scenario has too): it is left out, with a note.
    """
    if not changes:
        return Overlay(base)
    retired = frozenset(c.record_id for c in changes if c.kind is ChangeKind.RETIRE)
    version = changes[-1].version
    try:
        scenario = with_changes(base, [(c.kind, c.body) for c in changes])
        notes: list[str] = []
    except RegistrationError:
        scenario, notes = base, []
        for change in changes:
            if change.kind is ChangeKind.RETIRE:
                continue
            try:
                _check_fits(scenario, change.kind, change.body)
                scenario = grown_by(scenario, change.kind, change.body)
            except RegistrationError as error:
                notes.append(f"topology version {change.version} skipped: {error}")
    nodes = scenario.topology.nodes
    return Overlay(scenario, version, frozenset(n for n in retired if n in nodes), notes)


class Registry:
    """The plane's runtime registrations (the plane's ``registry``; see the module docstring).

    Args:
        plane: The control plane it serves.
    """

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    @property
    def _store(self) -> TopologyChangeStore:
        store = self.plane.stores.topology
        if store is None:
            raise ConflictError("this database keeps no topology changes")
        return store

    def overlay(self, base: Scenario) -> Overlay:
        """``base`` with every stored change applied (see ``overlay``); notes are logged."""
        store = self.plane.stores.topology
        found = overlay(base, [] if store is None else store.changes())
        for note in found.notes:
            log.warning("%s", note)
        return found

    @staticmethod
    def attach(live: LiveNetwork, found: Overlay) -> None:
        """Give a newly built live network its topology version and retired nodes."""
        live.topology_version = found.version
        live.retired_nodes = found.retired
        state = live.controller.state
        for index, node_id in enumerate(state.arrays.node_ids):
            if node_id in found.retired:
                state.mark_node(index, down=True)
        live.down_nodes = live.down_nodes | found.retired

    # ----------------------------------------------------------------- writes

    def register(
        self, who: Principal, kind: ChangeKind, body: dict[str, Any]
    ) -> Future[TopologyChange]:
        """Add a site, node or link to the live topology (see the module docstring).

        The future raises ``RegistrationError`` (nothing written), ``StaleTopologyError`` or
        ``StoreUnavailableError`` (nothing written).
        """
        if kind is ChangeKind.RETIRE:
            raise ValueError("retire a node with retire()")
        store = self._store

        def run(batch: Batch) -> TopologyChange:
            live = self.plane.live
            record_id = record_id_of(kind, body)
            try:
                _check_fits(live.scenario, kind, body)
            except RegistrationError as error:
                replayed = (
                    self._replayed(live, kind, record_id, body) if error.field == "id" else None
                )
                if replayed is None:
                    raise
                return replayed
            grown = grown_by(live.scenario, kind, body)
            event = AuditEvent(
                who.id,
                f"{kind.value}.register",
                f"{kind.value}:{record_id}",
                f"topology version {live.topology_version + 1}",
                self.plane.clock.now_s(),
            )
            change = store.append(kind, record_id, body, event, live.topology_version)
            self._grow(live, grown, change.version)
            return change

        return self.plane.call(run)

    def _replayed(
        self, live: LiveNetwork, kind: ChangeKind, record_id: str, body: dict[str, Any]
    ) -> TopologyChange | None:
        """The stored change a retried registration repeats (same kind, id and record), if any.

        So that a caller who heard no answer (a lost connection, a crash) can send it again;
        a retired node's record is not registered again.
        """
        if record_id in live.retired_nodes:
            return None
        same = json.dumps(body, sort_keys=True, allow_nan=False)
        for change in self._store.changes():
            if change.kind is kind and change.record_id == record_id:
                return change if json.dumps(change.body, sort_keys=True) == same else None
        return None

    def retire(self, who: Principal, node_id: str, reason: str) -> Future[int]:
        """Retire a node: stored, then drained; the future holds how many services move."""
        store = self._store

        def run(batch: Batch) -> int:
            live = self.plane.live
            if node_id not in live.scenario.topology.nodes:
                raise NotFoundError(f"node {node_id!r} does not exist")
            if node_id in live.retired_nodes:
                raise ConflictError(f"node {node_id} is retired already")
            event = AuditEvent(
                who.id,
                "node.retire",
                f"node:{node_id}",
                f"topology version {live.topology_version + 1}: {reason}",
                self.plane.clock.now_s(),
            )
            change = store.append(
                ChangeKind.RETIRE, node_id, {"reason": reason}, event, live.topology_version
            )
            live.topology_version = change.version
            return self._retire(live, node_id, reason)

        return self.plane.call(run)

    # ----------------------------------------------------------------- writer side

    def _grow(self, live: LiveNetwork, scenario: Scenario, version: int) -> None:
        if scenario.topology == live.scenario.topology:  # a service: the catalogue only
            live.scenario = dataclasses.replace(scenario, topology=live.scenario.topology)
            live.topology_version = version
            return
        before = set(live.scenario.topology.nodes)
        live.grow(scenario)
        live.topology_version = version
        new = [n for n in scenario.topology.nodes if n not in before]
        if not new or not self.plane.agents.policy.require_agent:
            return
        with live.aggregator_lock:
            served = live.aggregator.verifier.keyring.agent_nodes()
        idle = {n for n in new if n not in served}
        state = live.controller.state
        for index, node_id in enumerate(state.arrays.node_ids):
            if node_id in idle:
                state.mark_node(index, down=True)
        live.no_agent_nodes = live.no_agent_nodes | idle

    def _retire(self, live: LiveNetwork, node_id: str, reason: str) -> int:
        live.retired_nodes = live.retired_nodes | {node_id}
        if node_id in live.down_nodes:
            return 0
        moved = live.controller.drain(node_id, f"retired: {reason}")
        live.draining_nodes = live.draining_nodes | {node_id}
        return moved

    def tick(self, batch: Batch) -> None:
        """Catch up with changes stored elsewhere; take down retired nodes that drained."""
        live, store = self.plane.live, self.plane.stores.topology
        try:
            if store is not None and store.version() > live.topology_version:
                self._catch_up(live, store.changes(live.topology_version))
        except StoreError:
            log.warning("topology changes not read; asked again at the next tick", exc_info=True)
        for node_id in live.retired_nodes - live.down_nodes:
            if live.controller.runs_on(node_id):
                continue
            live.controller.node_down(node_id, RETIRED_REASON)
            live.down_nodes = live.down_nodes | {node_id}
            live.draining_nodes = live.draining_nodes - {node_id}
            event = AuditEvent(
                "system", "node.retired", f"node:{node_id}", "drained", self.plane.clock.now_s()
            )
            batch.audit.append(event)

    def _catch_up(self, live: LiveNetwork, changes: list[TopologyChange]) -> None:
        for change in changes:
            if change.kind is ChangeKind.RETIRE:
                if change.record_id in live.scenario.topology.nodes:
                    self._retire(live, change.record_id, str(change.body.get("reason", "")))
                live.topology_version = change.version
                continue
            try:
                _check_fits(live.scenario, change.kind, change.body)
                grown = grown_by(live.scenario, change.kind, change.body)
            except RegistrationError as error:
                log.warning("topology version %d skipped: %s", change.version, error)
                live.topology_version = change.version
                continue
            self._grow(live, grown, change.version)
