"""Between the file format (``ScenarioDoc``) and the domain model (``Scenario``).

``doc_to_scenario`` checks what a field-by-field schema cannot: references between sections,
unique ids after expansion, and the invariants the domain records enforce. Every problem becomes
a ``ScenarioError`` with the field path it comes from.

``scenario_to_data`` writes a scenario back as plain data in the same format, stating every value
that differs from its default, so that ``load -> dump -> load`` gives an equal scenario.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from suanwang.model import (
    DEFAULT_ROUTING_FACTOR,
    Accelerator,
    AcceleratorNeed,
    Arrivals,
    DataPolicy,
    EnergyProfile,
    Failure,
    GeoPosition,
    InNetworkCompute,
    InstanceId,
    Link,
    NetworkElement,
    Node,
    RandomFailures,
    Scenario,
    ScriptedFailure,
    Service,
    ServiceId,
    ServiceInstance,
    Site,
    TaskSpec,
    TaskType,
    Topology,
    Workload,
    fibre_latency_ms,
)
from suanwang.scenario.datasets import check_task_datasets, datasets_of
from suanwang.scenario.errors import ScenarioError
from suanwang.scenario.schema import (
    EnergyDoc,
    LinkDoc,
    NodeDoc,
    NodeFields,
    RandomFailuresDoc,
    ScenarioDoc,
    TaskTypeDoc,
)

_T = TypeVar("_T")
_LATENCY_DECIMALS = 4  # 0.1 µs: finer than any clock, coarse enough to read


@contextmanager
def _at(*path: str | int) -> Iterator[None]:
    """Turn a domain invariant's ValueError into a ScenarioError at ``path``."""
    try:
        yield
    except ScenarioError:
        raise
    except ValueError as error:
        raise ScenarioError(str(error), path=path) from error


def _unique(kind: str, path: tuple[str | int, ...], seen: dict[str, object], key: str) -> None:
    if key in seen:
        raise ScenarioError(f"duplicate {kind} id; it is already used", path=path, value=key)
    seen[key] = True


def _energy(doc: EnergyDoc, name: str = "") -> EnergyProfile:
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


def _sites(doc: ScenarioDoc, profiles: Mapping[str, EnergyProfile]) -> list[Site]:
    sites: list[Site] = []
    seen: dict[str, object] = {}
    for i, entry in enumerate(doc.sites):
        _unique("site", ("sites", i, "id"), seen, entry.id)
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
            energy = _energy(entry.energy)
        geo = None if entry.geo is None else GeoPosition(entry.geo.lat_deg, entry.geo.lon_deg)
        with _at("sites", i):
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


def _nodes(doc: ScenarioDoc, site_ids: Mapping[str, Site]) -> list[Node]:
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
        with _at("nodes", i):
            template = Node(id=ids[0], site_id=entry.site, **fields)
        for node_id in ids:
            _unique("node", ("nodes", i, "id"), seen, node_id)
            nodes.append(
                template if node_id == template.id else dataclasses.replace(template, id=node_id)
            )
    return nodes


def _elements(doc: ScenarioDoc, sites: Mapping[str, Site]) -> list[NetworkElement]:
    elements: list[NetworkElement] = []
    seen: dict[str, object] = dict.fromkeys(sites, True)
    for i, entry in enumerate(doc.elements):
        if entry.id in sites:
            raise ScenarioError(
                "network element id is already a site id",
                path=("elements", i, "id"),
                value=entry.id,
            )
        _unique("network element", ("elements", i, "id"), seen, entry.id)
        if entry.site is not None and entry.site not in sites:
            raise ScenarioError("unknown site", path=("elements", i, "site"), value=entry.site)
        compute = entry.compute
        with _at("elements", i):
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


def _links(
    doc: ScenarioDoc, sites: Mapping[str, Site], elements: Mapping[str, NetworkElement]
) -> list[Link]:
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
        _unique("link", ("links", i, "id"), seen, link_id)
        with _at("links", i):
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


def _task_spec(entry: TaskTypeDoc) -> TaskSpec:
    need = entry.accelerator
    return TaskSpec(
        work_gflop=entry.work_gflop,
        precision=entry.precision,
        cpu_cores=entry.cpu_cores,
        mem_gib=entry.mem_gib,
        accelerator=None
        if need is None
        else AcceleratorNeed(kind=need.kind, count=need.count, min_mem_gib=need.min_mem_gib),
        data_in_mb=entry.data_in_mb,
        data_out_mb=entry.data_out_mb,
        latency_budget_ms=entry.latency_budget_ms,
        deadline_s=entry.deadline_s,
        task_class=entry.task_class,
        budget=entry.budget,
        residency=tuple(entry.residency),
        data_tags=frozenset(entry.data_tags),
        min_trust_level=entry.min_trust_level,
        task_type=entry.name,
        service_id=entry.service,
        fixed_latency_ms=entry.fixed_latency_ms,
        datasets=tuple(entry.datasets),
    )


def _services(doc: ScenarioDoc, nodes: Mapping[str, Node]) -> list[Service]:
    services: list[Service] = []
    seen: dict[str, object] = {}
    seen_instances: dict[str, object] = {}
    type_names = {t.name for t in doc.workload.task_types}
    for i, entry in enumerate(doc.services):
        _unique("service", ("services", i, "id"), seen, entry.id)
        if entry.task_type is not None and entry.task_type not in type_names:
            raise ScenarioError(
                "unknown task type", path=("services", i, "task_type"), value=entry.task_type
            )
        instances = []
        for j, instance in enumerate(entry.instances):
            _unique(
                "service instance",
                ("services", i, "instances", j, "id"),
                seen_instances,
                instance.id,
            )
            if instance.node not in nodes:
                raise ScenarioError(
                    "unknown node",
                    path=("services", i, "instances", j, "node"),
                    value=instance.node,
                )
            instances.append(
                ServiceInstance(InstanceId(instance.id), instance.node, instance.ready_s)
            )
        services.append(Service(ServiceId(entry.id), entry.name, entry.task_type, tuple(instances)))
    return services


def _workload(doc: ScenarioDoc, sites: Mapping[str, Site]) -> Workload:
    workload = doc.workload
    service_ids = {s.id for s in doc.services}
    types: list[TaskType] = []
    seen: dict[str, object] = {}
    for i, entry in enumerate(workload.task_types):
        path = ("workload", "task_types", i)
        _unique("task type", (*path, "name"), seen, entry.name)
        if entry.service is not None and entry.service not in service_ids:
            raise ScenarioError("unknown service", path=(*path, "service"), value=entry.service)
        for j, tag in enumerate(entry.data_tags):
            # Refused, not ignored: a tag nobody governs would let its data go anywhere.
            if tag not in doc.data_policies:
                raise ScenarioError(
                    "data tag without a data policy; declared: "
                    + (", ".join(sorted(doc.data_policies)) or "none"),
                    path=(*path, "data_tags", j),
                    value=tag,
                )
        with _at(*path):
            types.append(TaskType(entry.name, _task_spec(entry), entry.description))
    arrivals: list[Arrivals] = []
    for i, stream in enumerate(workload.arrivals):
        path = ("workload", "arrivals", i)
        if stream.task_type not in seen:
            raise ScenarioError(
                "unknown task type", path=(*path, "task_type"), value=stream.task_type
            )
        for site_id in stream.ingress:
            if site_id not in sites:
                raise ScenarioError(
                    "unknown ingress site", path=(*path, "ingress", site_id), value=site_id
                )
        multipliers = stream.hourly_multipliers
        with _at(*path):
            arrivals.append(
                Arrivals(
                    task_type=stream.task_type,
                    kind=stream.kind,
                    rate_per_s=stream.rate_per_s,
                    ingress=tuple(stream.ingress.items()),
                    hourly_multipliers=None if multipliers is None else tuple(multipliers),
                    burst_every_s=stream.burst_every_s,
                    burst_duration_s=stream.burst_duration_s,
                    burst_factor=stream.burst_factor,
                    trace_file=stream.trace_file,
                )
            )
    return Workload(tuple(types), tuple(arrivals), workload.duration_s, workload.seed)


def _failures(doc: ScenarioDoc, topology: Topology) -> list[Failure]:
    failures: list[Failure] = []
    for i, entry in enumerate(doc.failures):
        if isinstance(entry, RandomFailuresDoc):
            with _at("failures", i):
                failures.append(RandomFailures(entry.scope, entry.mtbf_h, entry.mttr_h, entry.tier))
            continue
        target = entry.target
        if not any(
            target in table
            for table in (topology.nodes, topology.links, topology.sites, topology.elements)
        ):
            raise ScenarioError(
                "unknown failure target (expected a node, link, site or element id)",
                path=("failures", i, "target"),
                value=target,
            )
        failures.append(ScriptedFailure(target, entry.at_s, entry.repair_after_s))
    return failures


def _data_policies(doc: ScenarioDoc) -> list[DataPolicy]:
    policies = []
    for tag, entry in doc.data_policies.items():
        with _at("data_policies", tag):
            policies.append(
                DataPolicy(
                    tag, tuple(entry.regions), frozenset(entry.tiers), frozenset(entry.owners)
                )
            )
    return policies


def doc_to_scenario(doc: ScenarioDoc) -> Scenario:
    """The domain scenario a validated document describes.

    Raises:
        ScenarioError: a reference to an unknown id, a duplicate id, or a broken invariant; the
            error's path names the field, its ``source`` and ``line`` are left for the reader.
    """
    energy_profiles = {name: _energy(entry, name) for name, entry in doc.energy_profiles.items()}
    sites = {site.id: site for site in _sites(doc, energy_profiles)}
    nodes = _nodes(doc, sites)
    elements = {element.id: element for element in _elements(doc, sites)}
    links = _links(doc, sites, elements)
    datasets = datasets_of(doc, sites)
    check_task_datasets(doc)
    topology = Topology(
        sites.values(), nodes, elements.values(), links, _data_policies(doc), datasets=datasets
    )
    services = _services(doc, topology.nodes)
    workload = _workload(doc, sites)
    return Scenario(
        name=doc.name,
        description=doc.description,
        topology=topology,
        services=tuple(services),
        workload=workload,
        failures=tuple(_failures(doc, topology)),
        energy_profiles=energy_profiles,
    )
