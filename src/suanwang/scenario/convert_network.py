"""The network half of a scenario document: sites, nodes, network elements and links.

``doc_to_scenario`` (``convert.py``) builds these first; everything else in a scenario refers to
them. Every problem becomes a ``ScenarioError`` with the field path it comes from; ``at`` turns a
domain record's invariant into one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from suanwang.model import (
    DEFAULT_ROUTING_FACTOR,
    Accelerator,
    EnergyProfile,
    GeoPosition,
    InNetworkCompute,
    Link,
    NetworkElement,
    Node,
    Site,
    fibre_latency_ms,
)
from suanwang.scenario.errors import ScenarioError
from suanwang.scenario.schema import EnergyDoc, LinkDoc, NodeDoc, NodeFields, ScenarioDoc

_LATENCY_DECIMALS = 4  # 0.1 µs: finer than any clock, coarse enough to read


@contextmanager
def at(*path: str | int) -> Iterator[None]:
    """Turn a domain invariant's ValueError into a ScenarioError at ``path``."""
    try:
        yield
    except ScenarioError:
        raise
    except ValueError as error:
        raise ScenarioError(str(error), path=path) from error


def unique(kind: str, path: tuple[str | int, ...], seen: dict[str, object], key: str) -> None:
    """Record ``key`` in ``seen``; a second use of it is a ScenarioError at ``path``."""
    if key in seen:
        raise ScenarioError(f"duplicate {kind} id; it is already used", path=path, value=key)
    seen[key] = True


def energy_profile(doc: EnergyDoc, name: str = "") -> EnergyProfile:
    """The energy profile an ``energy`` section (or a named profile) describes."""
    profile = doc.carbon_profile_g_per_kwh
    return EnergyProfile(
        name=name,
        pue=doc.pue,
        carbon_g_per_kwh=doc.carbon_g_per_kwh,
        carbon_profile_g_per_kwh=None if profile is None else tuple(profile),
        price_per_kwh=doc.price_per_kwh,
    )


def _node_fields(entry: NodeDoc, profiles: Mapping[str, NodeFields], i: int) -> dict[str, Any]:
    """Node keyword arguments: the profile's fields, overridden by the entry's own."""
    fields: dict[str, Any] = {}
    layers: list[NodeFields] = [entry]
    if entry.profile is not None:
        if entry.profile not in profiles:
            raise ScenarioError(
                f"unknown node profile; known: {', '.join(sorted(profiles)) or 'none'}",
                path=("nodes", i, "profile"),
                value=entry.profile,
            )
        layers.insert(0, profiles[entry.profile])
    for layer in layers:
        for name in NodeFields.model_fields:
            value = getattr(layer, name)
            if value is not None:
                fields[name] = value
    if "accelerators" in fields:
        fields["accelerators"] = tuple(
            Accelerator(
                kind=a.kind,
                model=a.model,
                count=a.count,
                peak_gflops=a.peak_gflops,
                mem_gib=a.mem_gib,
                power_w=a.power_w,
            )
            for a in fields["accelerators"]
        )
    if "labels" in fields:
        fields["labels"] = tuple(sorted(fields["labels"].items()))
    return fields


def sites_of(doc: ScenarioDoc, profiles: Mapping[str, EnergyProfile]) -> list[Site]:
    """The document's sites; ``profiles`` are the named energy profiles a site may cite."""
    sites: list[Site] = []
    seen: dict[str, object] = {}
    for i, entry in enumerate(doc.sites):
        unique("site", ("sites", i, "id"), seen, entry.id)
        if isinstance(entry.energy, str):
            if entry.energy not in profiles:
                raise ScenarioError(
                    f"unknown energy profile; known: {', '.join(sorted(profiles)) or 'none'}",
                    path=("sites", i, "energy"),
                    value=entry.energy,
                )
            energy = profiles[entry.energy]
        elif entry.energy is None:
            energy = EnergyProfile()
        else:
            energy = energy_profile(entry.energy)
        geo = None if entry.geo is None else GeoPosition(entry.geo.lat_deg, entry.geo.lon_deg)
        with at("sites", i):
            sites.append(
                Site(
                    id=entry.id,
                    tier=entry.tier,
                    name=entry.name,
                    region=entry.region,
                    geo=geo,
                    energy=energy,
                    labels=tuple(sorted(entry.labels.items())),
                    storage_gb=entry.storage_gb,
                )
            )
    return sites


def nodes_of(doc: ScenarioDoc, site_ids: Mapping[str, Site]) -> list[Node]:
    """The document's nodes, an entry with ``count`` expanded to ``id-1 .. id-count``."""
    nodes: list[Node] = []
    seen: dict[str, object] = {}
    for i, entry in enumerate(doc.nodes):
        if entry.site not in site_ids:
            raise ScenarioError("unknown site", path=("nodes", i, "site"), value=entry.site)
        fields = _node_fields(entry, doc.node_profiles, i)
        ids = (
            [entry.id]
            if entry.count == 1
            else [f"{entry.id}-{k}" for k in range(1, entry.count + 1)]
        )
        with at("nodes", i):
            template = Node(id=ids[0], site_id=entry.site, **fields)
        for node_id in ids:
            unique("node", ("nodes", i, "id"), seen, node_id)
            nodes.append(
                template if node_id == template.id else dataclasses.replace(template, id=node_id)
            )
    return nodes


def elements_of(doc: ScenarioDoc, sites: Mapping[str, Site]) -> list[NetworkElement]:
    """The document's network elements, whose ids may not reuse a site's."""
    elements: list[NetworkElement] = []
    seen: dict[str, object] = dict.fromkeys(sites, True)
    for i, entry in enumerate(doc.elements):
        if entry.id in sites:
            raise ScenarioError(
                "network element id is already a site id",
                path=("elements", i, "id"),
                value=entry.id,
            )
        unique("network element", ("elements", i, "id"), seen, entry.id)
        if entry.site is not None and entry.site not in sites:
            raise ScenarioError("unknown site", path=("elements", i, "site"), value=entry.site)
        compute = entry.compute
        with at("elements", i):
            elements.append(
                NetworkElement(
                    id=entry.id,
                    kind=entry.kind,
                    site_id=entry.site,
                    geo=None
                    if entry.geo is None
                    else GeoPosition(entry.geo.lat_deg, entry.geo.lon_deg),
                    compute=None
                    if compute is None
                    else InNetworkCompute(compute.cpu_cores, compute.mem_gib, compute.peak_gflops),
                )
            )
    return elements


def _vertex_geo(
    vertex: str, sites: Mapping[str, Site], elements: Mapping[str, NetworkElement]
) -> GeoPosition | None:
    if vertex in sites:
        return sites[vertex].geo
    element = elements[vertex]
    if element.geo is not None or element.site_id is None:
        return element.geo
    return sites[element.site_id].geo


def _link_latency_ms(
    entry: LinkDoc, i: int, sites: Mapping[str, Site], elements: Mapping[str, NetworkElement]
) -> float:
    if entry.latency_ms is not None:
        return entry.latency_ms
    geo_a = _vertex_geo(entry.a, sites, elements)
    geo_b = _vertex_geo(entry.b, sites, elements)
    if geo_a is None or geo_b is None:
        raise ScenarioError(
            "missing, and it cannot be derived: an end of the link has no geo position",
            path=("links", i, "latency_ms"),
        )
    factor = entry.routing_factor or DEFAULT_ROUTING_FACTOR
    return round(fibre_latency_ms(geo_a.distance_km(geo_b), factor), _LATENCY_DECIMALS)


def links_of(
    doc: ScenarioDoc, sites: Mapping[str, Site], elements: Mapping[str, NetworkElement]
) -> list[Link]:
    """The document's links; a missing latency comes from the ends' positions over fibre."""
    links: list[Link] = []
    seen: dict[str, object] = {}
    for i, entry in enumerate(doc.links):
        for end in ("a", "b"):
            vertex = getattr(entry, end)
            if vertex not in sites and vertex not in elements:
                raise ScenarioError(
                    "unknown site or network element", path=("links", i, end), value=vertex
                )
        if entry.a == entry.b:
            raise ScenarioError(
                "a link cannot join a vertex to itself", path=("links", i, "b"), value=entry.b
            )
        link_id = entry.id or f"{entry.a}--{entry.b}"
        unique("link", ("links", i, "id"), seen, link_id)
        with at("links", i):
            links.append(
                Link(
                    id=link_id,
                    a=entry.a,
                    b=entry.b,
                    bandwidth_mbps=entry.bandwidth_mbps,
                    latency_ms=_link_latency_ms(entry, i, sites, elements),
                    loss_ratio=entry.loss_ratio,
                    jitter_ms=entry.jitter_ms,
                    cost_per_gb=entry.cost_per_gb,
                    slice_mbps=entry.slice_mbps,
                )
            )
    return links
