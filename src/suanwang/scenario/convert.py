"""Between the file format (``ScenarioDoc``) and the domain model (``Scenario``).

``doc_to_scenario`` checks what a field-by-field schema cannot: references between sections,
unique ids after expansion, and the invariants the domain records enforce. Every problem becomes
a ``ScenarioError`` with the field path it comes from.

The network (sites, nodes, elements, links) is built in ``convert_network.py``; this module adds
services, the workload, failures and data policies, and checks the references between them.
"""

from __future__ import annotations

from collections.abc import Mapping

from suanwang.model import (
    AcceleratorNeed,
    Arrivals,
    DataPolicy,
    Failure,
    InstanceId,
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
)
from suanwang.scenario.convert_network import (
    at,
    elements_of,
    energy_profile,
    links_of,
    nodes_of,
    sites_of,
    unique,
)
from suanwang.scenario.datasets import check_task_datasets, datasets_of
from suanwang.scenario.errors import ScenarioError
from suanwang.scenario.schema import (
    RandomFailuresDoc,
    ScenarioDoc,
    TaskTypeDoc,
)


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
        unique("service", ("services", i, "id"), seen, entry.id)
        if entry.task_type is not None and entry.task_type not in type_names:
            raise ScenarioError(
                "unknown task type", path=("services", i, "task_type"), value=entry.task_type
            )
        instances = []
        for j, instance in enumerate(entry.instances):
            unique(
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
        unique("task type", (*path, "name"), seen, entry.name)
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
        with at(*path):
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
        with at(*path):
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
            with at("failures", i):
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
        with at("data_policies", tag):
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
    energy_profiles = {
        name: energy_profile(entry, name) for name, entry in doc.energy_profiles.items()
    }
    sites = {site.id: site for site in sites_of(doc, energy_profiles)}
    nodes = nodes_of(doc, sites)
    elements = {element.id: element for element in elements_of(doc, sites)}
    links = links_of(doc, sites, elements)
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
