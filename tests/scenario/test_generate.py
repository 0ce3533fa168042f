"""The seeded topology generator: exact sizes, determinism, connectivity, tiers, round trips."""

import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanwang.model import Scenario, Tier, Topology
from suanwang.scenario import ScenarioError, dumps_scenario, loads_scenario
from suanwang.scenario.generate import generate_scenario
from suanwang.scenario.io import Format

ROOT = Path(__file__).resolve().parents[2]


def _graph(topology: Topology) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(topology.sites)
    graph.add_nodes_from(topology.elements)
    graph.add_edges_from((link.a, link.b) for link in topology.links.values())
    return graph


@pytest.fixture(scope="module")
def medium() -> Scenario:
    return generate_scenario(5000, seed=7)


@pytest.mark.parametrize("nodes", [1, 2, 3, 7, 100, 5000])
def test_exact_node_count(nodes: int) -> None:
    scenario = generate_scenario(nodes)
    assert len(scenario.topology.nodes) == nodes
    assert scenario.name == f"generated-{nodes}-s0"


def test_same_seed_gives_an_equal_scenario() -> None:
    assert generate_scenario(300, seed=5) == generate_scenario(300, seed=5)


def test_different_seeds_give_different_scenarios() -> None:
    one, other = generate_scenario(300, seed=5), generate_scenario(300, seed=6)
    assert one != other
    assert one.topology != other.topology


def test_name_is_used_and_checked() -> None:
    assert generate_scenario(10, name="metro-test").name == "metro-test"
    with pytest.raises(ScenarioError, match="name"):
        generate_scenario(10, name="has spaces")


@pytest.mark.parametrize(("nodes", "seed"), [(0, 0), (1_000_001, 0), (10, -1)])
def test_bad_arguments_are_refused(nodes: int, seed: int) -> None:
    with pytest.raises(ScenarioError):
        generate_scenario(nodes, seed=seed)


@pytest.mark.parametrize("nodes", [1, 2, 4, 100, 5000])
def test_graph_is_connected(nodes: int) -> None:
    assert nx.is_connected(_graph(generate_scenario(nodes, seed=3).topology))


def test_every_tier_is_present_at_moderate_sizes() -> None:
    for nodes in (100, 1000):
        topology = generate_scenario(nodes).topology
        assert {site.tier for site in topology.sites.values()} == set(Tier)
        tiers_with_nodes = {topology.sites[node.site_id].tier for node in topology.nodes.values()}
        assert tiers_with_nodes == set(Tier) - {Tier.TERMINAL}


def test_shape_of_a_medium_network(medium: Scenario) -> None:
    topology = medium.topology
    sites = list(topology.sites.values())
    hubs = [site for site in sites if site.tier is Tier.HUB]
    zones = {dict(site.labels)["zone"] for site in hubs}
    assert len(hubs) == 8
    assert zones == {"east", "west"}
    compute_sites = [site for site in sites if site.tier is not Tier.TERMINAL]
    assert 8 <= len(topology.nodes) / len(compute_sites) <= 20
    for site in sites:  # inside China's bounding box
        assert site.geo is not None
        assert 18 <= site.geo.lat_deg <= 54
        assert 73 <= site.geo.lon_deg <= 135
    # Redundancy: the graph stays connected when any one hub or region uplink fails.
    graph = _graph(topology)
    for link in topology.links.values():
        if link.a.endswith("-gw") and link.b.endswith("-core"):
            graph.remove_edge(link.a, link.b)
            assert nx.is_connected(graph)
            graph.add_edge(link.a, link.b)


def test_energy_profiles_are_registered_by_name(medium: Scenario) -> None:
    for site in medium.topology.sites.values():
        if site.tier is Tier.TERMINAL:
            assert site.energy.name == ""
        else:
            assert medium.energy_profiles[site.energy.name] == site.energy
    west = medium.energy_profiles["hub-west"]
    east = medium.energy_profiles["hub-east"]
    assert west.carbon_g_per_kwh < east.carbon_g_per_kwh
    assert west.price_per_kwh < east.price_per_kwh


def test_link_latencies_follow_the_tiers(medium: Scenario) -> None:
    topology = medium.topology
    tier = {site_id: site.tier for site_id, site in topology.sites.items()}
    for link in topology.links.values():
        ends = {tier.get(link.a), tier.get(link.b)}
        if ends == {Tier.TERMINAL, Tier.ONSITE}:
            assert 0.5 <= link.latency_ms <= 2.5
        elif ends == {Tier.ONSITE, Tier.EDGE}:
            assert 1.5 <= link.latency_ms <= 5
        elif Tier.EDGE in ends and None in ends:  # edge to a regional gateway
            assert 6 <= link.latency_ms <= 20


def test_workload_enters_at_terminal_sites(medium: Scenario) -> None:
    workload = medium.workload
    classes = {task_type.spec.task_class.value for task_type in workload.task_types}
    assert classes == {"hot", "warm", "cold"}
    terminals = {s.id for s in medium.topology.sites.values() if s.tier is Tier.TERMINAL}
    names = {task_type.name for task_type in workload.task_types}
    for arrivals in workload.arrivals:
        assert arrivals.kind.value == "poisson"
        assert arrivals.task_type in names
        assert {site for site, _ in arrivals.ingress} == terminals
    nodes = medium.topology.nodes
    for service in medium.services:
        assert service.instances
        assert all(instance.node_id in nodes for instance in service.instances)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("nodes", [1, 250])
def test_lossless_round_trip(fmt: Format, nodes: int) -> None:
    scenario = generate_scenario(nodes, seed=11)
    assert loads_scenario(dumps_scenario(scenario, fmt), fmt) == scenario


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes=st.integers(1, 300), seed=st.integers(0, 2**32 - 1))
def test_any_generated_scenario_validates(nodes: int, seed: int) -> None:
    scenario = generate_scenario(nodes, seed=seed)
    topology = scenario.topology
    assert len(topology.nodes) == nodes
    assert all(node.site_id in topology.sites for node in topology.nodes.values())
    assert nx.is_connected(_graph(topology))
    assert loads_scenario(dumps_scenario(scenario, "json"), "json") == scenario


def test_quick_benchmark_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "total-json" in done.stdout
    assert len(list(tmp_path.glob("scenario-*.json"))) == 1
