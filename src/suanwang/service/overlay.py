"""Checking runtime registrations against the live topology, and overlaying stored changes.

A registration (a site, node, link or service record, in the scenario file's own shape) fits
the live topology when its id is free, what it names exists, and the scenario file's own checks
pass on it (``RegistrationError`` names the field and value otherwise). ``overlay`` rebuilds
the live scenario from the served one and the stored changes in version order, leaving out, with
a note, a change that no longer fits (the scenario was replaced since it was stored).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from suanwang.control.changes import ChangeKind, TopologyChange
from suanwang.model import Link, NetworkElement, Node, Scenario, Site, Topology, TopologyError
from suanwang.scenario import ScenarioError
from suanwang.scenario.dump import scenario_to_data
from suanwang.scenario.errors import format_path
from suanwang.scenario.io import scenario_from_data

_LISTS = {
    ChangeKind.SITE: "sites",
    ChangeKind.NODE: "nodes",
    ChangeKind.LINK: "links",
    ChangeKind.SERVICE: "services",
}


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


def check_fits(scenario: Scenario, kind: ChangeKind, body: dict[str, Any]) -> None:
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
    """``scenario`` with one registration added after its own records (``check_fits`` first).

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
                check_fits(scenario, change.kind, change.body)
                scenario = grown_by(scenario, change.kind, change.body)
            except RegistrationError as error:
                notes.append(f"topology version {change.version} skipped: {error}")
    nodes = scenario.topology.nodes
    return Overlay(scenario, version, frozenset(n for n in retired if n in nodes), notes)
