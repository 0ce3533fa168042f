"""Importers: EdgeSimPy JSON datasets and GraphML/GML topologies (fixtures are our own files)."""

from __future__ import annotations

import copy
import itertools
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from suanwang.model import GeoPosition, Precision, TaskClass, Tier, fibre_latency_ms
from suanwang.scenario import ScenarioError, dumps_scenario, loads_scenario
from suanwang.scenario.importers import (
    graph_to_scenario,
    import_edgesimpy,
    import_graph,
    read_graph,
    safe_id,
)
from suanwang.scenario.importers.edgesimpy import (
    CPU_GFLOPS_PER_CORE,
    MBPS_PER_EDGESIMPY_BANDWIDTH,
)
from suanwang.scenario.importers.edgesimpy_workload import COMPUTE_ALLOWANCE_MS, HOT_SLA_MS
from suanwang.scenario.importers.graph import DEFAULT_BANDWIDTH_MBPS, DEFAULT_LATENCY_MS
from suanwang.scenario.io import Format

FIXTURES = Path(__file__).parent / "fixtures" / "importers"
EDGESIMPY = FIXTURES / "edgesimpy_small.json"
ZOO = FIXTURES / "zoo_small.graphml"
MESH = FIXTURES / "mesh_small.gml"
GRAPHML_NS = "{http://graphml.graphdrawing.org/xmlns}"


def _edgesimpy_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EDGESIMPY.read_text(encoding="utf-8"))
    return data


# ---------------------------------------------------------------- EdgeSimPy


def test_edgesimpy_counts_equal_the_source() -> None:
    data = _edgesimpy_data()
    scenario = import_edgesimpy(EDGESIMPY)
    topology = scenario.topology
    assert len(topology.nodes) == len(data["EdgeServer"]) == 3
    assert len(topology.links) == len(data["NetworkLink"]) == 6
    assert len(topology.sites) == len(data["BaseStation"]) == 5
    assert len(scenario.services) == len(data["Service"]) == 2
    assert len(scenario.workload.task_types) == len(data["Application"]) == 2
    assert scenario.name == "edgesimpy_small"


def test_edgesimpy_sites_are_edge_sites_with_grid_labels() -> None:
    site = import_edgesimpy(EDGESIMPY).topology.sites["bs-4"]
    assert site.tier is Tier.EDGE
    assert site.geo is None  # a planar grid, not latitude and longitude
    assert dict(site.labels) == {"x": "1", "y": "1", "switch": "4", "wireless_delay_ms": "5"}


def test_edgesimpy_links_join_the_sites_of_their_switches() -> None:
    data = _edgesimpy_data()
    links = import_edgesimpy(EDGESIMPY).topology.links
    for entry in data["NetworkLink"]:
        link = links[f"nl-{entry['attributes']['id']}"]
        ends = [f"bs-{ref['id']}" for ref in entry["relationships"]["nodes"]]
        assert [link.a, link.b] == ends
        assert link.latency_ms == entry["attributes"]["delay"]
    # MB/s to Mbit/s: EdgeSimPy's 12.5 and 125 are 100 Mbit/s and 1 Gbit/s ports
    assert MBPS_PER_EDGESIMPY_BANDWIDTH == 8.0
    assert links["nl-1"].bandwidth_mbps == 100.0
    assert links["nl-3"].bandwidth_mbps == 1000.0


def test_edgesimpy_servers_become_nodes() -> None:
    node = import_edgesimpy(EDGESIMPY).topology.nodes["es-3"]
    assert node.site_id == "bs-5"
    assert node.cpu_cores == 12
    assert node.mem_gib == 16.0
    assert node.storage_gib == 128.0
    assert node.peak_power_w == 200.0
    assert node.idle_power_w == pytest.approx(0.3155 * 200)
    assert node.cpu_peak_gflops[Precision.FP32] == 12 * CPU_GFLOPS_PER_CORE[Precision.FP32]
    assert dict(node.labels)["model"] == "E5645"


@pytest.mark.parametrize("watts", [166, 67, 63.1])
def test_edgesimpy_static_power_in_watts_as_its_builders_write_it(
    tmp_path: Path, watts: float
) -> None:
    data = _edgesimpy_data()
    server = data["EdgeServer"][2]["attributes"]  # es-3: a 200 W peak
    server["power_model_parameters"]["static_power_percentage"] = watts
    path = tmp_path / "builders.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    node = import_edgesimpy(path).topology.nodes["es-3"]
    assert node.idle_power_w == watts
    assert node.peak_power_w == 200.0


def test_edgesimpy_services_applications_and_users() -> None:
    scenario = import_edgesimpy(EDGESIMPY)
    placed, unplaced = scenario.services
    assert (placed.id, placed.name, placed.task_type) == ("svc-1", "alpine", "app-1")
    assert [(i.id, i.node_id) for i in placed.instances] == [("svc-1@es-1", "es-1")]
    assert unplaced.instances == ()  # its server is null in the dataset
    app1 = scenario.workload.task_type("app-1").spec
    app2 = scenario.workload.task_type("app-2").spec
    # budget: the one-way SLA less the 5 ms wireless hop, as a round trip, plus compute
    assert COMPUTE_ALLOWANCE_MS == 10.0
    assert (app1.latency_budget_ms, app1.task_class) == (2 * 40.0 + 10.0, TaskClass.WARM)
    assert (app2.latency_budget_ms, app2.task_class) == (2 * 20.0 + 10.0, TaskClass.HOT)
    assert 25 <= HOT_SLA_MS < 45
    assert (app2.cpu_cores, app2.mem_gib, app2.service_id) == (2.0, 1.0, "svc-2")
    ingress = {a.task_type: dict(a.ingress) for a in scenario.workload.arrivals}
    assert ingress == {"app-1": {"bs-2": 1.0}, "app-2": {"bs-4": 1.0}}


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _pulling(data: dict[str, Any], size_mb: float) -> dict[str, Any]:
    """The registry and the alpine layer on es-3 (switch 5), svc-1 still on es-1 (switch 1)."""
    data["ContainerRegistry"][0]["relationships"]["server"] = {"class": "EdgeServer", "id": 3}
    layer = data["ContainerLayer"][0]
    layer["attributes"]["size"] = size_mb
    layer["relationships"]["server"] = {"class": "EdgeServer", "id": 3}
    return data


def test_edgesimpy_image_pull_delays_the_instance(tmp_path: Path) -> None:
    # In the fixture the registry and the layer sit on svc-1's own server: it serves at once.
    assert import_edgesimpy(EDGESIMPY).services[0].instances[0].ready_s == 0.0
    scenario = import_edgesimpy(_write(tmp_path, _pulling(_edgesimpy_data(), 25.0)))
    instance = scenario.services[0].instances[0]
    # fewest links 5-4-1 (nl-4, nl-5: 12.5 MB/s each): 25 MB in 2 s, not 5-3-2-1's 125 MB/s
    assert instance.ready_s == pytest.approx(2.0)
    assert loads_scenario(dumps_scenario(scenario, "yaml"), "yaml") == scenario


def test_edgesimpy_traces_weigh_ingress_by_steps(tmp_path: Path) -> None:
    data = _edgesimpy_data()
    user = data["User"][0]["attributes"]  # app-1's user, at bs-2 (2, 0)
    user["coordinates_trace"] = [[2, 0], [2, 0], [0, 0], [4, 0]]  # then bs-1, then bs-3
    scenario = import_edgesimpy(_write(tmp_path, data))
    arrivals = {a.task_type: a for a in scenario.workload.arrivals}
    assert dict(arrivals["app-1"].ingress) == {"bs-2": 0.5, "bs-1": 0.25, "bs-3": 0.25}
    assert arrivals["app-1"].rate_per_s == 1.0  # still one user


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_edgesimpy_round_trip(fmt: Format) -> None:
    scenario = import_edgesimpy(EDGESIMPY)
    assert loads_scenario(dumps_scenario(scenario, fmt), fmt) == scenario


def _drop_section(data: dict[str, Any]) -> None:
    del data["NetworkLink"]


def _dangling_switch(data: dict[str, Any]) -> None:
    data["NetworkLink"][3]["relationships"]["nodes"][1]["id"] = 99


def _wrong_class(data: dict[str, Any]) -> None:
    data["NetworkLink"][0]["relationships"]["nodes"][0]["class"] = "BaseStation"


def _three_ends(data: dict[str, Any]) -> None:
    nodes = data["NetworkLink"][2]["relationships"]["nodes"]
    nodes.append(copy.deepcopy(nodes[0]))


def _cpu_text(data: dict[str, Any]) -> None:
    data["EdgeServer"][1]["attributes"]["cpu"] = "eight"


def _links_not_list(data: dict[str, Any]) -> None:
    data["NetworkLink"] = {"1": data["NetworkLink"][0]}


def _dangling_user(data: dict[str, Any]) -> None:
    data["Application"][1]["relationships"]["users"][0]["id"] = 7


def _duplicate_id(data: dict[str, Any]) -> None:
    data["EdgeServer"][2]["attributes"]["id"] = 1


def _self_link(data: dict[str, Any]) -> None:
    data["NetworkLink"][0]["relationships"]["nodes"][1]["id"] = 1


def _negative_delay(data: dict[str, Any]) -> None:
    data["NetworkLink"][5]["attributes"]["delay"] = -1


def _bad_static_power(data: dict[str, Any]) -> None:
    # Above 1 reads as watts (as EdgeSimPy's builders write it), so above the peak is wrong.
    data["EdgeServer"][0]["attributes"]["power_model_parameters"]["static_power_percentage"] = 1000


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (_drop_section, "NetworkLink: missing class section"),
        (_dangling_switch, "NetworkLink[3].relationships.nodes[1]: dangling reference"),
        (_wrong_class, "NetworkLink[0].relationships.nodes[0]: should be a reference"),
        (_three_ends, "NetworkLink[2].relationships.nodes: should name exactly two"),
        (_cpu_text, "EdgeServer[1].attributes.cpu: should be a non-negative number"),
        (_links_not_list, "NetworkLink: should be a list"),
        (_dangling_user, "Application[1].relationships.users[0]: dangling reference"),
        (_duplicate_id, "EdgeServer[2].attributes.id: duplicate EdgeServer id"),
        (_self_link, "NetworkLink[0].relationships.nodes: both ends are at site bs-1"),
        (_negative_delay, "NetworkLink[5].attributes.delay: should be a non-negative number"),
        (
            _bad_static_power,
            "EdgeServer[0].attributes.power_model_parameters.static_power_percentage",
        ),
    ],
)
def test_edgesimpy_bad_dataset(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], where: str
) -> None:
    data = _edgesimpy_data()
    mutate(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        import_edgesimpy(path)
    assert str(caught.value).startswith(f"{path}: {where}")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the file"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (b"\xff\xfe{}", "cannot read the file"),
    ],
)
def test_edgesimpy_unreadable(tmp_path: Path, content: str | bytes | None, message: str) -> None:
    path = tmp_path / "dataset.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ScenarioError, match=message) as caught:
        import_edgesimpy(path)
    assert str(path) in str(caught.value)


# ---------------------------------------------------------------- GraphML / GML


def _graphml_counts(path: Path) -> tuple[int, int, int]:
    """Nodes, edges and self-loops of a GraphML file, counted from its XML."""
    graph = ET.parse(path).getroot().find(f"{GRAPHML_NS}graph")
    assert graph is not None
    edges = graph.findall(f"{GRAPHML_NS}edge")
    loops = sum(e.get("source") == e.get("target") for e in edges)
    return len(graph.findall(f"{GRAPHML_NS}node")), len(edges), loops


def _gml_counts(path: Path) -> tuple[int, int, int]:
    """Nodes, edges and self-loops of our GML fixture, counted from its text."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    loops = sum(
        a.startswith("source") and b.startswith("target") and a.split()[1] == b.split()[1]
        for a, b in itertools.pairwise(lines)
    )
    return lines.count("node ["), lines.count("edge ["), loops


@pytest.mark.parametrize(("path", "count"), [(ZOO, _graphml_counts), (MESH, _gml_counts)])
def test_graph_counts_equal_the_source(
    path: Path, count: Callable[[Path], tuple[int, int, int]]
) -> None:
    nodes, edges, loops = count(path)
    result = read_graph(path)
    topology = result.scenario.topology
    assert len(topology.sites) == nodes
    assert len(topology.links) == edges - loops
    assert result.skipped_self_loops == loops == 1
    assert len(topology.nodes) == 0  # network-only: no compute is invented
    assert result.scenario.name == path.stem


def test_graphml_sites() -> None:
    sites = import_graph(ZOO).topology.sites
    assert list(sites) == ["Beijing", "Shanghai", "Guang_zhou", "Yinchuan", "Peer_AS", "Shanghai-2"]
    assert sites["Beijing"].geo == GeoPosition(39.9042, 116.4074)
    assert sites["Beijing"].tier is Tier.REGION
    assert sites["Guang_zhou"].name == "Guang zhou"
    peer = sites["Peer_AS"]  # an external peer (Internal 0) is still a site, without a position
    assert peer.geo is None
    assert dict(peer.labels)["Internal"] == "0"


def test_graphml_bandwidth_conversion() -> None:
    result = read_graph(ZOO)
    links = result.scenario.topology.links
    assert links["Beijing--Shanghai"].bandwidth_mbps == 10_000.0  # LinkSpeedRaw, bit/s
    assert links["Beijing--Yinchuan"].bandwidth_mbps == 155.0
    assert links["Shanghai--Guang_zhou"].bandwidth_mbps == 2_500.0  # LinkSpeed "2.5" + "G"
    assert links["Guang_zhou--Shanghai-2"].bandwidth_mbps == pytest.approx(48 * 51.84)  # OC-48
    assert links["Peer_AS--Shanghai-2"].bandwidth_mbps == 40_000.0  # LinkLabel "40 Gbps"
    assert links["Guang_zhou--Yinchuan"].bandwidth_mbps == DEFAULT_BANDWIDTH_MBPS  # none stated
    assert links["Beijing--Peer_AS"].bandwidth_mbps == DEFAULT_BANDWIDTH_MBPS  # "10-20Gbps"
    assert result.default_bandwidth_links == 3


def test_graphml_parallel_edges_are_distinct_links() -> None:
    links = import_graph(ZOO).topology.links
    assert links["Beijing--Shanghai"].bandwidth_mbps == 10_000.0
    assert links["Beijing--Shanghai:2"].bandwidth_mbps == 1_000.0


def test_graph_latency_from_distance_when_absent() -> None:
    scenario = import_graph(ZOO)
    sites, links = scenario.topology.sites, scenario.topology.links
    for link_id in ("Beijing--Shanghai", "Shanghai--Guang_zhou", "Guang_zhou--Yinchuan"):
        link = links[link_id]
        geo_a, geo_b = sites[link.a].geo, sites[link.b].geo
        assert geo_a is not None
        assert geo_b is not None
        expected = fibre_latency_ms(geo_a.distance_km(geo_b))
        assert link.latency_ms == pytest.approx(expected, abs=1e-3)
        assert link.latency_ms > 5  # over 1,000 km of fibre
    # an end without a position: the stated default
    assert links["Yinchuan--Peer_AS"].latency_ms == DEFAULT_LATENCY_MS


def test_gml_stated_latency_tier_and_labels() -> None:
    result = read_graph(MESH)
    topology = result.scenario.topology
    links = topology.links
    assert links["hub--edge-a"].latency_ms == 0.8  # latency_ms
    assert links["hub--edge-a:2"].latency_ms == pytest.approx(0.0716, abs=1e-4)  # distance
    assert links["hub--edge-b"].latency_ms == 0.25  # delay "250us"
    assert links["edge-a--edge-b"].latency_ms == 2.0  # delay 2 (ms)
    assert links["edge-b--cabinet_7"].latency_ms == DEFAULT_LATENCY_MS
    assert links["hub--edge-a"].bandwidth_mbps == 40_000.0
    assert topology.sites["hub"].tier is Tier.HUB  # tier attribute
    assert topology.sites["edge-a"].tier is Tier.EDGE  # type attribute
    cabinet = topology.sites["cabinet_7"]  # "closet" is no tier: the default, kept as a label
    assert (cabinet.tier, cabinet.name, dict(cabinet.labels)["tier"]) == (
        Tier.REGION,
        "cabinet #7",
        "closet",
    )


@pytest.mark.parametrize("path", [ZOO, MESH])
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_graph_round_trip(path: Path, fmt: Format) -> None:
    scenario = import_graph(path)
    assert loads_scenario(dumps_scenario(scenario, fmt), fmt) == scenario


def test_graph_format_given_overrides_the_suffix(tmp_path: Path) -> None:
    path = tmp_path / "mesh.txt"
    path.write_bytes(MESH.read_bytes())
    assert len(import_graph(path, "gml").topology.links) == 5
    with pytest.raises(ScenarioError, match="not valid GraphML"):
        import_graph(path, "graphml")


def test_directed_graph_merges_reverse_edges() -> None:
    graph = nx.MultiDiGraph()
    graph.add_edge("a", "b", bandwidth_mbps=100, latency_ms=1)
    graph.add_edge("b", "a", bandwidth_mbps=100, latency_ms=1)
    graph.add_edge("a", "b", bandwidth_mbps=200, latency_ms=1)
    result = graph_to_scenario(graph, "directed demo")
    assert list(result.scenario.topology.links) == ["a--b", "a--b:2"]
    assert result.merged_reverse_edges == 1
    assert result.scenario.name == "directed_demo"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Zürich", "Zurich"), ("São Paulo", "Sao_Paulo"), ("a#b c", "a_b_c"), ("北京", "x")],
)
def test_safe_id(text: str, expected: str) -> None:
    assert safe_id(text) == expected


def test_unlabelled_or_non_latin_nodes_get_unique_ids() -> None:
    graph = nx.Graph()
    graph.add_node(1, label="北京")
    graph.add_node(2, label="北京")
    graph.add_node(3)
    graph.add_edges_from([(1, 2), (2, 3)])
    sites = graph_to_scenario(graph, "g").scenario.topology.sites
    assert list(sites) == ["n1", "n2", "3"]
    assert sites["n1"].name == "北京"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.graphml", None, "cannot read the file"),
        ("missing.gml", None, "cannot read the file"),
        ("broken.graphml", "<graphml><graph", "not valid GraphML"),
        ("other.graphml", "<html/>", "not a valid GraphML graph"),
        ("broken.gml", "graph [ node [ id 0 ", "not a valid GML graph"),
        ("dangling.gml", "graph [ node [ id 0 ] edge [ source 0 target 5 ] ]", "undefined"),
        ("topology.txt", "whatever", "unknown file type"),
        (
            "far.gml",
            'graph [ node [ id 0 label "x" Latitude 123.0 Longitude 0.0 ] ]',
            "nodes.0: position out of range",
        ),
        (
            "speed.gml",
            'graph [ node [ id 0 ] node [ id 1 ] edge [ source 0 target 1 LinkSpeedRaw "fast" ] ]',
            "edges.0--1.LinkSpeedRaw: should be a finite number",
        ),
        (
            "delay.gml",
            "graph [ node [ id 0 ] node [ id 1 ] edge [ source 0 target 1 latency_ms -3 ] ]",
            "edges.0--1.latency_ms: should not be negative",
        ),
    ],
)
def test_graph_bad_input(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ScenarioError, match=message) as caught:
        import_graph(path)
    assert str(caught.value).startswith(str(path))
    assert "\n" not in str(caught.value)
