"""Latency-shortest paths: hand-made tables, pruning, bottlenecks, networkx as the reference."""

from __future__ import annotations

import math
from random import Random

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.model import ElementKind, Link, NetworkElement, Site, Tier, Topology
from suanwang.routing import NoPathError, Path, ShortestPaths, distances_from, routing_graph
from suanwang.routing._tree import PATH_LINKS_DEPTH, fold_paths
from suanwang.routing.shortest import _trees
from suanwang.scenario.generate import generate_scenario

INF = math.inf


def _hand() -> Topology:
    """T reaches r1 through E1 (wide, slower) or E2 (narrow, faster); X is cut off."""
    return Topology(
        sites=[
            Site("T", Tier.TERMINAL),
            Site("E1", Tier.EDGE),
            Site("E2", Tier.EDGE),
            Site("R", Tier.REGION),
            Site("H", Tier.HUB),
            Site("X", Tier.EDGE),
        ],
        elements=[NetworkElement("r1", ElementKind.ROUTER)],
        links=[
            Link("l1", "T", "E1", bandwidth_mbps=1_000, latency_ms=2),
            Link("l2", "T", "E2", bandwidth_mbps=100, latency_ms=1),
            Link("l3", "E1", "r1", bandwidth_mbps=10_000, latency_ms=5),
            Link("l4", "E2", "r1", bandwidth_mbps=10_000, latency_ms=3),
            Link("l5", "r1", "R", bandwidth_mbps=40_000, latency_ms=10),
            Link("l6", "R", "H", bandwidth_mbps=100_000, latency_ms=15),
            Link("l7", "E1", "E2", bandwidth_mbps=500, latency_ms=1.5),
        ],
    )


Case = tuple[float, str, tuple[str, ...] | None, tuple[str, ...] | None, float, float]
# (needed Mbps, target, vertices, segments, one-way ms, bottleneck Mbps); None: unreachable
CASES: list[Case] = [
    (0, "T", ("T",), (), 0.0, INF),
    (0, "E1", ("T", "E1"), ("l1",), 2.0, 1_000),
    (0, "E2", ("T", "E2"), ("l2",), 1.0, 100),
    (0, "r1", ("T", "E2", "r1"), ("l2", "l4"), 4.0, 100),
    (0, "H", ("T", "E2", "r1", "R", "H"), ("l2", "l4", "l5", "l6"), 29.0, 100),
    (0, "X", None, None, INF, 0.0),
    (200, "E2", ("T", "E1", "E2"), ("l1", "l7"), 3.5, 500),
    (200, "r1", ("T", "E1", "E2", "r1"), ("l1", "l7", "l4"), 6.5, 500),
    (600, "E2", ("T", "E1", "r1", "E2"), ("l1", "l3", "l4"), 10.0, 1_000),
    (600, "H", ("T", "E1", "r1", "R", "H"), ("l1", "l3", "l5", "l6"), 32.0, 1_000),
    (2_000, "T", ("T",), (), 0.0, INF),
    (2_000, "E1", None, None, INF, 0.0),
    (2_000, "H", None, None, INF, 0.0),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}Mbps-{c[1]}" for c in CASES])
def test_hand_made_table(case: Case) -> None:
    need, target, vertices, segments, latency, bottleneck = case
    graph = routing_graph(_hand())
    paths = distances_from(graph, "T", min_bandwidth_mbps=need)
    column = graph.vertex(target)
    assert paths.latency_ms[0, column] == pytest.approx(latency)
    assert paths.bottleneck_mbps[0, column] == bottleneck
    if vertices is None:
        assert paths.hops[0, column] == -1
        with pytest.raises(NoPathError, match="no path from 'T'"):
            paths.path(target)
        return
    path = paths.path(target)
    assert path.vertices == vertices
    assert path.segments == segments
    assert path.latency_ms == pytest.approx(latency)
    assert path.bottleneck_mbps == bottleneck
    assert path.hops == len(segments) == paths.hops[0, column]


def test_residual_prunes_and_sets_the_bottleneck() -> None:
    topology = _hand()
    graph = routing_graph(topology)
    residual = graph.link_bandwidth_mbps.copy()
    residual[topology.arrays.link_ids.index("l3")] = 50.0  # E1-r1 nearly full
    paths = distances_from(graph, "T", residual_bandwidth_mbps=residual, min_bandwidth_mbps=80)
    path = paths.path("H")
    assert path.segments == ("l2", "l4", "l5", "l6")
    assert path.bottleneck_mbps == 100
    paths = distances_from(graph, "T", residual_bandwidth_mbps=residual, min_bandwidth_mbps=200)
    assert paths.path("H").segments == ("l1", "l7", "l4", "l5", "l6")
    assert paths.path("H").bottleneck_mbps == 500
    # Without a requirement nothing is pruned, but bottlenecks are still residual figures.
    paths = distances_from(graph, "T", residual_bandwidth_mbps=residual)
    assert paths.path("E1").bottleneck_mbps == 1_000
    assert paths.bottleneck_mbps[0, graph.vertex("r1")] == 100


def test_cached_tree_never_serves_a_stale_residual_bottleneck() -> None:
    graph = routing_graph(_hand())
    residual = graph.link_bandwidth_mbps.copy()
    first = distances_from(graph, "T", residual_bandwidth_mbps=residual, min_bandwidth_mbps=50)
    residual[0] = 700.0  # l1 partly reserved: same admitted links, new bottleneck
    second = distances_from(graph, "T", residual_bandwidth_mbps=residual, min_bandwidth_mbps=50)
    assert first.bottleneck_mbps[0, graph.vertex("E1")] == 1_000
    assert second.bottleneck_mbps[0, graph.vertex("E1")] == 700


def test_parallel_links_latency_keeps_the_fastest_admitted_one() -> None:
    topology = Topology(
        sites=[Site("a", Tier.EDGE), Site("b", Tier.REGION)],
        links=[
            Link("slow-wide", "a", "b", bandwidth_mbps=10_000, latency_ms=5),
            Link("fast-narrow", "b", "a", bandwidth_mbps=100, latency_ms=1),
        ],
    )
    graph = routing_graph(topology)
    assert distances_from(graph, "a").path("b") == Path(("a", "b"), ("fast-narrow",), 1.0, 100.0)
    assert distances_from(graph, "b").path("a").segments == ("fast-narrow",)
    wide = distances_from(graph, "a", min_bandwidth_mbps=1_000).path("b")
    assert wide == Path(("a", "b"), ("slow-wide",), 5.0, 10_000.0)
    assert graph.edges.links_between([0, 1, 0], [1, 0, 0]).tolist() == [1, 1, -1]


def test_zero_latency_links_are_edges() -> None:
    topology = Topology(
        sites=[Site("a", Tier.ONSITE), Site("b", Tier.ONSITE), Site("c", Tier.EDGE)],
        links=[
            Link("ab", "a", "b", bandwidth_mbps=1_000, latency_ms=0),
            Link("bc", "b", "c", bandwidth_mbps=1_000, latency_ms=2),
        ],
    )
    paths = distances_from(routing_graph(topology), "a")
    assert paths.latency_ms[0].tolist() == [0.0, 0.0, 2.0]
    assert paths.hops[0].tolist() == [0, 1, 2]
    assert paths.path("c").segments == ("ab", "bc")


def test_several_sources_give_one_row_each() -> None:
    graph = routing_graph(_hand())
    both = distances_from(graph, ["T", "H", "T"])
    assert both.sources.tolist() == [0, 4, 0]
    for row, source in enumerate(["T", "H", "T"]):
        alone = distances_from(graph, source)
        assert np.array_equal(both.latency_ms[row], alone.latency_ms[0])
        assert np.array_equal(both.bottleneck_mbps[row], alone.bottleneck_mbps[0])
        assert np.array_equal(both.hops[row], alone.hops[0])
    residual = graph.link_bandwidth_mbps * np.linspace(0.1, 1.0, graph.n_links)
    pruned = distances_from(
        graph, ["T", "H", "T"], residual_bandwidth_mbps=residual, min_bandwidth_mbps=90
    )
    for row, source in enumerate(["T", "H", "T"]):
        alone = distances_from(
            graph, source, residual_bandwidth_mbps=residual, min_bandwidth_mbps=90
        )
        assert np.array_equal(pruned.latency_ms[row], alone.latency_ms[0])
        assert np.array_equal(pruned.bottleneck_mbps[row], alone.bottleneck_mbps[0])
    assert both.path("E2", source="H").vertices == ("H", "R", "r1", "E2")
    with pytest.raises(ValueError, match="say which one"):
        both.path("E1")
    with pytest.raises(ValueError, match="not a source"):
        both.path("E1", source="R")


def test_node_columns_two_nodes_of_one_site_are_zero_apart() -> None:
    topology = generate_scenario(200, seed=4).topology
    graph = routing_graph(topology)
    site = int(graph.node_vertex[0])
    per_node = distances_from(graph, site).latency_ms[0, graph.node_vertex]
    same_site = graph.node_vertex == site
    assert same_site.sum() >= 1
    assert np.all(per_node[same_site] == 0.0)
    assert np.all(distances_from(graph, site).hops[0, graph.node_vertex][same_site] == 0)


def test_results_are_read_only_and_cached() -> None:
    graph = routing_graph(_hand())
    first = distances_from(graph, "T")
    second = distances_from(graph, "T")
    assert np.shares_memory(first.latency_ms, second.latency_ms)
    with pytest.raises(ValueError, match="read-only"):
        first.latency_ms[0, 0] = 1.0
    hits = graph.trees.hits
    distances_from(graph, "T", min_bandwidth_mbps=200)
    distances_from(graph, "T", min_bandwidth_mbps=300)  # admits the same links: same entry
    assert graph.trees.hits == hits + 1
    # A requirement that prunes nothing shares the unpruned tree.
    same = distances_from(graph, "T", min_bandwidth_mbps=50)
    assert np.shares_memory(same.latency_ms, first.latency_ms)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sources": "nowhere"}, "unknown vertex"),
        ({"sources": 99}, "out of range"),
        ({"sources": []}, "at least one source"),
        ({"sources": "T", "min_bandwidth_mbps": -1.0}, "must be >= 0"),
        ({"sources": "T", "min_bandwidth_mbps": math.nan}, "must be >= 0"),
        ({"sources": "T", "residual_bandwidth_mbps": [1.0, 2.0]}, "needs shape"),
    ],
)
def test_bad_queries_are_refused(kwargs: dict[str, object], message: str) -> None:
    graph = routing_graph(_hand())
    with pytest.raises(ValueError, match=message):
        distances_from(graph, **kwargs)  # type: ignore[arg-type]


# ---- against networkx ------------------------------------------------------------------


def _reference(topology: Topology, need: float = 0.0) -> nx.Graph:
    """networkx graph of the links with capacity >= need, parallel links merged to the fastest."""
    graph = nx.Graph()
    arrays = topology.arrays
    graph.add_nodes_from(range(len(arrays.vertex_ids)))
    for a, b, latency, bandwidth in zip(
        arrays.link_a.tolist(),
        arrays.link_b.tolist(),
        arrays.link_latency_ms.tolist(),
        arrays.link_bandwidth_mbps.tolist(),
        strict=True,
    ):
        if bandwidth < need:
            continue
        if not graph.has_edge(a, b) or graph[a][b]["latency"] > latency:
            graph.add_edge(a, b, latency=latency)
    return graph


def _check_against_networkx(topology: Topology, sources: list[int], need: float) -> None:
    graph = routing_graph(topology)
    paths = distances_from(graph, sources, min_bandwidth_mbps=need)
    reference = _reference(topology, need)
    for row, source in enumerate(sources):
        expected = np.full(graph.n_vertices, np.inf)
        lengths = nx.single_source_dijkstra_path_length(reference, source, weight="latency")
        for vertex, length in lengths.items():
            expected[vertex] = length
        np.testing.assert_allclose(paths.latency_ms[row], expected, rtol=1e-12, atol=1e-9)
        _check_paths(topology, paths, row, need)


def _check_paths(topology: Topology, paths: ShortestPaths, row: int, need: float) -> None:
    """Every materialised path is consistent with the vectorised figures and the links."""
    links = topology.links
    for column in np.flatnonzero(paths.reachable[row]).tolist():
        path = paths.path(column, source=int(paths.sources[row]))
        assert path.hops == paths.hops[row, column] == len(path.vertices) - 1
        for i, segment in enumerate(path.segments):
            ends = {links[segment].a, links[segment].b}
            assert ends == {path.vertices[i], path.vertices[i + 1]}
            assert links[segment].bandwidth_mbps >= need
        assert path.latency_ms == pytest.approx(
            sum(links[s].latency_ms for s in path.segments), abs=1e-9
        )
        expected = min((links[s].bandwidth_mbps for s in path.segments), default=INF)
        assert path.bottleneck_mbps == expected == paths.bottleneck_mbps[row, column]
        assert len(set(path.vertices)) == len(path.vertices)


@pytest.mark.parametrize("nodes", [10, 300, 2_000])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_topologies_match_networkx(nodes: int, seed: int) -> None:
    topology = generate_scenario(nodes, seed=seed).topology
    n = len(topology.arrays.vertex_ids)
    sources = np.random.default_rng(seed).choice(n, size=min(n, 6), replace=False).tolist()
    _check_against_networkx(topology, sources, need=0.0)
    need = float(np.median(topology.arrays.link_bandwidth_mbps))
    _check_against_networkx(topology, sources, need=need)


@st.composite
def _small_topologies(draw: st.DrawFn) -> tuple[Topology, int, float]:
    n = draw(st.integers(2, 10))
    sites = [Site(f"s{i}", Tier.EDGE) for i in range(n)]
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    ends = draw(st.lists(pairs, max_size=3 * n))
    latencies = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5, 10.0])
    bandwidths = st.sampled_from([10.0, 100.0, 1_000.0, 10_000.0])
    links = [
        Link(f"k{i}", f"s{a}", f"s{b}", draw(bandwidths), draw(latencies))
        for i, (a, b) in enumerate(ends)
    ]
    source = draw(st.integers(0, n - 1))
    need = draw(st.sampled_from([0.0, 50.0, 500.0, 5_000.0]))
    return Topology(sites=sites, links=links), source, need


@settings(max_examples=150, deadline=None)
@given(_small_topologies(), st.randoms(use_true_random=False))
def test_property_matches_networkx_and_paths_are_consistent(
    case: tuple[Topology, int, float], random: Random
) -> None:
    topology, source, need = case
    _check_against_networkx(topology, [source], need)
    # Over a residual: every segment has at least the need, the bottleneck is the least residual.
    graph = routing_graph(topology)
    residual = graph.link_bandwidth_mbps * [random.choice([0.0, 0.3, 1.0]) for _ in graph.link_ids]
    paths = distances_from(graph, source, residual_bandwidth_mbps=residual, min_bandwidth_mbps=need)
    for column in np.flatnonzero(paths.reachable[0]).tolist():
        path = paths.path(column)
        used = [residual[graph.link_ids.index(s)] for s in path.segments]
        assert all(u >= need for u in used)
        assert path.bottleneck_mbps == min(used, default=INF) == paths.bottleneck_mbps[0, column]
    # Pruning never lowers latency: the pruned graph is a subgraph.
    graph = routing_graph(topology)
    full = distances_from(graph, source).latency_ms
    pruned = distances_from(graph, source, min_bandwidth_mbps=need).latency_ms
    assert np.all(pruned >= full - 1e-12)


@pytest.mark.parametrize("need_mbps", [0.0, 200.0])
def test_excluded_links_are_never_used(need_mbps: float) -> None:
    topology = _hand()
    graph = routing_graph(topology)
    down = np.zeros(graph.n_links, dtype=bool)
    down[topology.arrays.link_ids.index("l2")] = True  # T-E2, on the fastest path to H
    paths = distances_from(graph, "T", min_bandwidth_mbps=need_mbps, excluded_links=down)
    assert "l2" not in paths.path("H").segments
    assert paths.path("E2").segments == ("l1", "l7")
    # Once the link is back the usual tree is served again.
    assert distances_from(graph, "T").path("H").segments == ("l2", "l4", "l5", "l6")
    none_down = np.zeros(graph.n_links, dtype=bool)
    assert distances_from(graph, "T", excluded_links=none_down).path("E2").segments == ("l2",)


def _chain(length: int) -> Topology:
    """Sites s0 .. s{length} in a line, each link 1 ms and a bandwidth of its own."""
    sites = [Site(f"s{i}", Tier.EDGE) for i in range(length + 1)]
    links = [
        Link(f"c{i}", f"s{i}", f"s{i + 1}", bandwidth_mbps=100.0 + (i * 37) % 50, latency_ms=1.0)
        for i in range(length)
    ]
    return Topology(sites=sites, links=links)


@pytest.mark.parametrize(
    ("topology", "kept_as_matrix"),
    [
        (generate_scenario(2_000, seed=1).topology, True),
        (_chain(PATH_LINKS_DEPTH + 8), False),
        (_chain(5), True),
    ],
    ids=["generated", "deeper-than-the-link-matrix", "shallow-chain"],
)
def test_residual_bottleneck_is_the_pointer_jumping_fold_bit_for_bit(
    topology: Topology, kept_as_matrix: bool
) -> None:
    graph = routing_graph(topology)
    capacity = topology.arrays.link_bandwidth_mbps
    rng = np.random.default_rng(7)
    source = graph.vertex_ids[0]
    (tree,) = _trees(graph, graph.vertices(source), None, None)
    assert tree.path_links is None  # a fold the first time
    for round_ in range(20):
        residual = capacity * rng.uniform(0.0, 1.0, capacity.size)
        paths = distances_from(graph, source, residual_bandwidth_mbps=residual)
        _, folded = fold_paths(
            paths.predecessors,
            paths.predecessor_links,
            residual,
            np.isfinite(paths.latency_ms),
            with_hops=False,
        )
        assert paths.bottleneck_mbps.tobytes() == folded.tobytes(), f"round {round_}"
    assert (tree.path_links is not None) == kept_as_matrix  # from the second on
