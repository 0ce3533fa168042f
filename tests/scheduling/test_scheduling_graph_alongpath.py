"""Along-path computing: stages kept to the path from the ingress toward the cloud.

The instance: ingress U, routers R1 (1 ms) and R2 (2 ms further) on the way to the hub H (5 ms
beyond R2); site S1 stands at R1 with a small node, S2 at R2 with a mid node, and an off-path
site O hangs 0.6 ms from U with the fastest node of all.
"""

import math

import pytest

from suanwang.model import ElementKind, Link, NetworkElement, Node, Precision, Site, Tier, Topology
from suanwang.model.graph import Edge, Stage, TaskGraph
from suanwang.scheduling import ClusterState
from suanwang.scheduling.graph import GraphPlacementError, place_graph
from suanwang.scheduling.graph.alongpath import cloud_path, path_nodes

FP32 = Precision.FP32


def _topology() -> Topology:
    sites = [
        Site("U", Tier.TERMINAL),
        Site("S1", Tier.ONSITE),
        Site("S2", Tier.EDGE),
        Site("H", Tier.HUB),
        Site("O", Tier.EDGE),
    ]
    nodes = [
        Node("n1", "S1", cpu_cores=4, mem_gib=16.0, cpu_peak_gflops={FP32: 400.0}),
        Node("n2", "S2", cpu_cores=8, mem_gib=16.0, cpu_peak_gflops={FP32: 1_000.0}),
        Node("nh", "H", cpu_cores=64, mem_gib=256.0, cpu_peak_gflops={FP32: 4_000.0}),
        Node("no", "O", cpu_cores=16, mem_gib=64.0, cpu_peak_gflops={FP32: 8_000.0}),
    ]
    elements = [NetworkElement(name, ElementKind.ROUTER) for name in ("R1", "R2", "RO")]
    links = [
        Link("u-r1", "U", "R1", 10_000.0, 1.0),
        Link("r1-r2", "R1", "R2", 10_000.0, 2.0),
        Link("r2-h", "R2", "H", 10_000.0, 5.0),
        Link("r1-s1", "R1", "S1", 10_000.0, 0.1),
        Link("r2-s2", "R2", "S2", 10_000.0, 0.1),
        Link("u-ro", "U", "RO", 10_000.0, 0.5),
        Link("ro-o", "RO", "O", 10_000.0, 0.1),
    ]
    return Topology(sites, nodes, elements, links)


def _sites(topology: Topology, node_ids: tuple[str, ...]) -> list[str]:
    return [topology.nodes[n].site_id for n in node_ids]


def _filter_graph(*, along: bool) -> TaskGraph:
    return TaskGraph(
        "cams",
        (
            Stage("filter", 10.0, cpu_cores=2, input_mb=100.0, along_path=along),
            Stage("infer", 40.0, cpu_cores=2, result_mb=1.0, along_path=along),
        ),
        (Edge("filter", "infer", reduction_ratio=0.1),),
        ingress_site="U",
    )


def test_the_path_runs_from_the_ingress_to_the_hub_with_the_sites_at_its_routers() -> None:
    path = cloud_path(ClusterState(_topology()), "U")
    assert path.sites == ("U", "S1", "S2", "H")
    assert path.steps == (0, 1, 2, 3)


def test_along_path_stages_stay_on_the_path_and_the_traffic_saved_is_reported() -> None:
    topology = _topology()
    free = place_graph(_filter_graph(along=False), ClusterState(topology), reserve=False)
    assert _sites(topology, free.node_ids) == ["O", "O"]  # fastest and nearest, off the path
    assert free.along_path is None
    placed = place_graph(_filter_graph(along=True), ClusterState(topology), reserve=False)
    sites = _sites(topology, placed.node_ids)
    assert set(sites) <= {"S1", "S2", "H"}
    report = placed.along_path
    assert report is not None
    assert report.path == ("U", "S1", "S2", "H")
    assert report.steps[0] <= report.steps[1]
    # In the cloud both stages run at H, 3 links from U: 100 MB up, 1 MB back.
    assert report.cloud_traffic_mb_hops == pytest.approx(100.0 * 3 + 1.0 * 3)
    assert report.traffic_mb_hops == pytest.approx(placed.schedule.traffic_mb_hops)
    assert report.saved_mb_hops == pytest.approx(
        report.cloud_traffic_mb_hops - report.traffic_mb_hops
    )
    assert report.saved_mb_hops > 0


def test_a_graph_level_policy_holds_every_stage_to_the_path() -> None:
    topology = _topology()
    stages = _filter_graph(along=False)
    graph = TaskGraph("cams", stages.stages, stages.edges, ingress_site="U", along_path=True)
    placed = place_graph(graph, ClusterState(topology), reserve=False)
    assert "O" not in _sites(topology, placed.node_ids)


def test_a_child_never_runs_before_its_parent_on_the_path() -> None:
    # a needs 6 cores: S2 or H. b needs 4: S1 would return its result soonest, but it lies
    # before a's S2, and S2 has 2 cores left; so b goes on to H.
    graph = TaskGraph(
        "climb",
        (
            Stage("a", 20.0, cpu_cores=6, input_mb=0.01, along_path=True),
            Stage("b", 0.01, cpu_cores=4, result_mb=0.01, along_path=True),
        ),
        (Edge("a", "b", data_mb=0.01),),
        ingress_site="U",
    )
    topology = _topology()
    placed = place_graph(graph, ClusterState(topology), reserve=False)
    assert _sites(topology, placed.node_ids) == ["S2", "H"]
    assert placed.along_path is not None
    assert placed.along_path.rounds == 2
    assert placed.along_path.steps == (2, 3)


def test_a_stage_no_node_of_the_path_can_take_is_refused_by_name() -> None:
    graph = TaskGraph(
        "big", (Stage("huge", 10.0, cpu_cores=128, along_path=True),), ingress_site="U"
    )
    with pytest.raises(GraphPlacementError, match="huge"):
        place_graph(graph, ClusterState(_topology()), reserve=False)


def test_the_placement_keeps_the_cost_model_it_was_placed_on() -> None:
    topology = _topology()
    placed = place_graph(_filter_graph(along=True), ClusterState(topology), reserve=False)
    ids = topology.arrays.node_ids
    assert "no" in {ids[node] for node in placed.costs.nodes.tolist()}
    for p, node in enumerate(placed.costs.nodes.tolist()):
        off_path = topology.nodes[ids[node]].site_id == "O"
        for s in range(2):
            assert math.isinf(placed.costs.compute_ms[s, p]) == off_path
            assert (p in placed.costs.candidates[s].tolist()) != off_path


def test_a_large_site_of_the_path_adds_only_the_nodes_its_stages_can_use() -> None:
    base = _topology()
    many = [
        Node(f"s2-{i}", "S2", cpu_cores=8, mem_gib=16.0, cpu_peak_gflops={FP32: 1_000.0 + i})
        for i in range(20)
    ]
    topology = Topology(
        base.sites.values(),
        [*base.nodes.values(), *many],
        base.elements.values(),
        base.links.values(),
    )
    state = ClusterState(topology)
    path = cloud_path(state, "U")
    graph = _filter_graph(along=True)
    chosen = {topology.arrays.node_ids[n] for n in path_nodes(graph, state, path).tolist()}
    at_s2 = {n for n in chosen if topology.nodes[n].site_id == "S2"}
    # Both stages are of one kind (2 cores, fp32): 4 nodes a site, the fastest of S2 first.
    assert at_s2 == {"s2-19", "s2-18", "s2-17", "s2-16"}
    assert {"n1", "nh"} <= chosen
    placed = place_graph(graph, state, reserve=False)
    assert placed.costs.nodes.size < len(topology.arrays.node_ids)
