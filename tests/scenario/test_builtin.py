"""The built-in scenarios: each loads, round-trips losslessly and has the shape it claims."""

from __future__ import annotations

import statistics
from functools import cache
from typing import Literal

import networkx as nx
import pytest

from suanwang.model import (
    AcceleratorKind,
    Architecture,
    ArrivalKind,
    ElementKind,
    EnergyProfile,
    FailureScope,
    Node,
    RandomFailures,
    Scenario,
    ScriptedFailure,
    Site,
    TaskSpec,
    Tier,
    Topology,
    fibre_latency_ms,
    region_within,
)
from suanwang.scenario import (
    builtin_info,
    builtin_names,
    builtin_text,
    dumps_scenario,
    load_builtin,
    loads_scenario,
)

NAMES = builtin_names()
Format = Literal["yaml", "json"]
FORMATS: list[Format] = ["yaml", "json"]

# The tiers each scenario claims to model (all must be present).
TIERS: dict[str, set[Tier]] = {
    "east-west": set(Tier),
    "metro-edge": {Tier.TERMINAL, Tier.ONSITE, Tier.EDGE, Tier.REGION},
    "supercomputing-internet": {Tier.TERMINAL, Tier.REGION, Tier.HUB},
    "campus": {Tier.TERMINAL, Tier.ONSITE, Tier.EDGE, Tier.REGION},
    "cats-arvr": {Tier.TERMINAL, Tier.EDGE},
}

WEST_HUBS = {"inner-mongolia", "guizhou", "gansu", "ningxia"}
EAST_HUBS = {
    "beijing-tianjin-hebei",
    "yangtze-river-delta",
    "guangdong-hongkong-macao",
    "chengdu-chongqing",
}

# Round trip from a terminal to its nearest site of a tier (DESIGN.md §9), in ms.
METRO_RTT_MS = {Tier.ONSITE: (1.0, 5.0), Tier.EDGE: (5.0, 20.0), Tier.REGION: (20.0, 40.0)}


@cache
def _load(name: str) -> Scenario:
    return load_builtin(name)


def _graph(scenario: Scenario) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from([*scenario.topology.sites, *scenario.topology.elements])
    for link in scenario.topology.links.values():
        graph.add_edge(link.a, link.b, latency_ms=link.latency_ms)
    return graph


def _mean_carbon(energy: EnergyProfile) -> float:
    profile = energy.carbon_profile_g_per_kwh
    return statistics.fmean(profile) if profile is not None else energy.carbon_g_per_kwh


def _can_run(node: Node, site: Site, spec: TaskSpec, topology: Topology) -> bool:
    """Whether ``node`` satisfies every static demand of ``spec`` (not its load or latency)."""
    if spec.residency and not any(region_within(site.region, p) for p in spec.residency):
        return False
    if not all(
        topology.data_policies[tag].allows(site.region, site.tier, node.owner)
        for tag in spec.data_tags
    ):
        return False
    if node.trust_level < spec.min_trust_level:
        return False
    if node.cpu_cores < spec.cpu_cores or node.mem_gib < spec.mem_gib:
        return False
    need = spec.accelerator
    if need is None:
        return node.cpu_peak_gflops.get(spec.precision, 0.0) > 0
    usable = sum(
        device.count
        for device in node.accelerators
        if device.kind is need.kind
        and device.mem_gib >= need.min_mem_gib
        and device.peak_gflops.get(spec.precision, 0.0) > 0
    )
    return usable >= need.count


# ---------------------------------------------------------------- every built-in


def test_the_builtins_are_shipped() -> None:
    assert set(TIERS) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_loads_with_its_own_name_and_every_section(name: str) -> None:
    scenario = _load(name)
    topology = scenario.topology
    assert scenario.name == name
    assert scenario.description.strip()
    assert topology.sites
    assert topology.nodes
    assert topology.links
    assert scenario.services
    assert scenario.workload.task_types
    assert scenario.workload.arrivals
    assert any(isinstance(f, ScriptedFailure) for f in scenario.failures)
    assert sum(isinstance(f, RandomFailures) for f in scenario.failures) == 1


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_round_trips_losslessly(name: str, fmt: Format) -> None:
    scenario = _load(name)
    text = dumps_scenario(scenario, fmt)
    again = loads_scenario(text, fmt)
    assert again == scenario
    assert dumps_scenario(again, fmt) == text


@pytest.mark.parametrize("name", NAMES)
def test_file_starts_with_version_name_and_description(name: str) -> None:
    text = builtin_text(name)
    keys = [line.split(":", 1)[0] for line in text.splitlines() if line[:1].isalpha()]
    assert keys[:3] == ["version", "name", "description"]
    # builtin_info reads only the part before `sites:`; the profiles must come before it.
    head = text.split("\nsites:", 1)[0]
    assert "\nenergy_profiles:" in head
    assert "\nnode_profiles:" in head


def test_builtin_info_gives_the_first_description_line_of_every_builtin() -> None:
    infos = {info.name: info.description for info in builtin_info()}
    assert sorted(infos) == NAMES
    for name, description in infos.items():
        assert description
        assert description == _load(name).description.strip().splitlines()[0]


@pytest.mark.parametrize("name", NAMES)
def test_every_link_end_exists_and_the_network_is_connected(name: str) -> None:
    topology = _load(name).topology
    vertices = set(topology.sites) | set(topology.elements)
    for link in topology.links.values():
        assert link.a in vertices, link.id
        assert link.b in vertices, link.id
    assert nx.is_connected(_graph(_load(name)))


@pytest.mark.parametrize(("name", "tiers"), sorted(TIERS.items()))
def test_every_claimed_tier_is_present(name: str, tiers: set[Tier]) -> None:
    present = {site.tier for site in _load(name).topology.sites.values()}
    assert tiers <= present


@pytest.mark.parametrize("name", NAMES)
def test_terminals_hold_no_compute_and_are_where_requests_enter(name: str) -> None:
    scenario = _load(name)
    sites = scenario.topology.sites
    assert all(
        sites[node.site_id].tier is not Tier.TERMINAL for node in scenario.topology.nodes.values()
    )
    for arrivals in scenario.workload.arrivals:
        assert arrivals.ingress, arrivals.task_type
        assert all(sites[site_id].tier is Tier.TERMINAL for site_id, _ in arrivals.ingress)


@pytest.mark.parametrize("name", NAMES)
def test_uses_poisson_diurnal_and_burst_arrivals(name: str) -> None:
    kinds = {arrivals.kind for arrivals in _load(name).workload.arrivals}
    assert kinds == {ArrivalKind.POISSON, ArrivalKind.DIURNAL, ArrivalKind.BURST}


@pytest.mark.parametrize("name", NAMES)
def test_every_task_type_has_a_node_that_can_run_it(name: str) -> None:
    scenario = _load(name)
    sites = scenario.topology.sites
    nodes = list(scenario.topology.nodes.values())
    for task_type in scenario.workload.task_types:
        assert any(
            _can_run(n, sites[n.site_id], task_type.spec, scenario.topology) for n in nodes
        ), task_type.name


@pytest.mark.parametrize("name", NAMES)
def test_service_instances_run_on_nodes_that_can_serve_them(name: str) -> None:
    scenario = _load(name)
    topology = scenario.topology
    for service in scenario.services:
        if service.task_type is None:
            continue
        spec = scenario.workload.task_type(service.task_type).spec
        assert spec.service_id == service.id
        for instance in service.instances:
            node = topology.nodes[instance.node_id]
            assert _can_run(node, topology.sites[node.site_id], spec, topology), instance.id


@pytest.mark.parametrize("name", NAMES)
def test_residency_and_trust_are_exercised(name: str) -> None:
    specs = [task_type.spec for task_type in _load(name).workload.task_types]
    assert any(spec.residency for spec in specs)
    assert any(spec.min_trust_level > 0 for spec in specs)


@pytest.mark.parametrize("name", NAMES)
def test_every_data_tag_has_a_policy_that_some_node_meets(name: str) -> None:
    topology = _load(name).topology
    tags = {tag for t in _load(name).workload.task_types for tag in t.spec.data_tags}
    assert tags <= set(topology.data_policies)
    for tag in tags:
        policy = topology.data_policies[tag]
        assert any(
            policy.allows(topology.sites[n.site_id].region, topology.sites[n.site_id].tier, n.owner)
            for n in topology.nodes.values()
        ), tag


# ---------------------------------------------------------------- east-west


def test_east_west_is_national_in_scale_and_heterogeneous() -> None:
    topology = _load("east-west").topology
    assert 80 <= len(topology.sites) <= 150
    assert len(topology.nodes) >= 2000
    nodes = topology.nodes.values()
    assert {AcceleratorKind.GPU, AcceleratorKind.NPU, AcceleratorKind.FPGA} <= {
        device.kind for node in nodes for device in node.accelerators
    }
    assert {Architecture.X86, Architecture.ARM} <= {node.arch for node in nodes}
    assert all(site.region.startswith("CN-") for site in topology.sites.values())


def test_east_west_has_eight_hubs_four_west_ones_cheaper_and_cleaner() -> None:
    topology = _load("east-west").topology
    hub_sites = [site for site in topology.sites.values() if site.tier is Tier.HUB]
    labels = [dict(site.labels) for site in hub_sites]
    assert {label["hub"] for label in labels} == WEST_HUBS | EAST_HUBS
    for label in labels:
        assert label["side"] == ("west" if label["hub"] in WEST_HUBS else "east")
    sites_with_nodes = {node.site_id for node in topology.nodes.values()}
    assert all(site.id in sites_with_nodes for site in hub_sites)

    def per_hub(metric: str, hubs: set[str]) -> float:
        values = []
        for hub in hubs:
            energies = [s.energy for s in hub_sites if dict(s.labels)["hub"] == hub]
            if metric == "carbon":
                values.append(statistics.fmean(_mean_carbon(e) for e in energies))
            else:
                values.append(statistics.fmean(getattr(e, metric) for e in energies))
        return statistics.fmean(values)

    for metric in ("carbon", "price_per_kwh", "pue"):
        assert per_hub(metric, WEST_HUBS) < per_hub(metric, EAST_HUBS), metric


def test_east_west_backbone_latency_follows_fibre_distance() -> None:
    topology = _load("east-west").topology
    sites = topology.sites
    backbone = [
        link
        for link in topology.links.values()
        if sites[link.a].tier is Tier.HUB and sites[link.b].tier is Tier.HUB
    ]
    assert len(backbone) >= 8
    for link in backbone:
        geo_a, geo_b = sites[link.a].geo, sites[link.b].geo
        assert geo_a is not None
        assert geo_b is not None
        distance_km = geo_a.distance_km(geo_b)
        low, high = fibre_latency_ms(distance_km, 1.3), fibre_latency_ms(distance_km, 1.6)
        assert low - 1e-3 <= link.latency_ms <= high + 1e-3, link.id


# ---------------------------------------------------------------- metro-edge


def test_metro_edge_tiers_are_at_their_round_trip_distances() -> None:
    scenario = _load("metro-edge")
    sites = scenario.topology.sites
    graph = _graph(scenario)
    terminals = [site.id for site in sites.values() if site.tier is Tier.TERMINAL]
    assert len(terminals) >= 9
    for terminal in terminals:
        one_way = nx.single_source_dijkstra_path_length(graph, terminal, weight="latency_ms")
        for tier, (low, high) in METRO_RTT_MS.items():
            nearest = min(one_way[s.id] for s in sites.values() if s.tier is tier)
            assert low <= 2 * nearest <= high, (terminal, tier.value, 2 * nearest)


def test_metro_edge_uses_routers() -> None:
    elements = _load("metro-edge").topology.elements.values()
    assert any(element.kind is ElementKind.ROUTER for element in elements)


# ---------------------------------------------------------------- supercomputing-internet


def test_supercomputing_centres_are_joined_by_fast_links() -> None:
    topology = _load("supercomputing-internet").topology
    sites = topology.sites
    centres = {site.id for site in sites.values() if site.tier is Tier.HUB}
    assert len(centres) >= 10
    between = [link for link in topology.links.values() if link.a in centres and link.b in centres]
    assert between
    assert all(link.bandwidth_mbps >= 100_000 for link in between)
    backbone = nx.Graph([(link.a, link.b) for link in between])
    assert set(backbone) == centres
    assert nx.is_connected(backbone)


def test_supercomputing_work_is_batch_with_deadlines() -> None:
    specs = [t.spec for t in _load("supercomputing-internet").workload.task_types]
    assert all(spec.deadline_s is not None for spec in specs)
    assert all(spec.latency_budget_ms is None for spec in specs)


# ---------------------------------------------------------------- campus


def test_campus_network_elements_compute() -> None:
    scenario = _load("campus")
    elements = scenario.topology.elements.values()
    assert {ElementKind.SWITCH, ElementKind.ROUTER} <= {element.kind for element in elements}
    assert sum(element.compute is not None for element in elements) >= 2
    buildings = [s for s in scenario.topology.sites.values() if s.tier is Tier.ONSITE]
    assert len(buildings) >= 5


def test_campus_random_failures_cover_links() -> None:
    random = [f for f in _load("campus").failures if isinstance(f, RandomFailures)]
    assert [f.scope for f in random] == [FailureScope.LINKS]
