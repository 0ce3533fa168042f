"""The routing graph: built once per topology version, CSR contents, vertex lookups."""

from __future__ import annotations

import numpy as np
import pytest

from suanwang.model import ElementKind, Link, NetworkElement, Site, Tier, Topology
from suanwang.routing import (
    GRAPH_CACHE_SIZE,
    RoutingGraph,
    clear_graph_cache,
    distances_from,
    routing_graph,
)


def _topology() -> Topology:
    return Topology(
        sites=[Site("user", Tier.TERMINAL), Site("edge", Tier.EDGE), Site("hub", Tier.HUB)],
        elements=[NetworkElement("r1", ElementKind.ROUTER)],
        links=[
            Link("l1", "user", "edge", bandwidth_mbps=1_000, latency_ms=2),
            Link("l2", "edge", "r1", bandwidth_mbps=10_000, latency_ms=5),
            Link("l3", "r1", "hub", bandwidth_mbps=100_000, latency_ms=10),
            Link("l3b", "hub", "r1", bandwidth_mbps=400_000, latency_ms=12),  # parallel, slower
        ],
    )


def test_same_version_same_graph_new_version_new_graph() -> None:
    topology = _topology()
    graph = routing_graph(topology)
    assert routing_graph(topology) is graph
    assert graph.version == topology.version
    changed = topology.updated(Link("l2", "edge", "r1", bandwidth_mbps=10_000, latency_ms=1))
    new_graph = routing_graph(changed)
    assert new_graph is not graph
    assert new_graph.version == changed.version != graph.version
    assert distances_from(new_graph, "user").latency_ms[0, 3] == 3.0
    assert distances_from(graph, "user").latency_ms[0, 3] == 7.0  # the old one is untouched
    assert routing_graph(topology) is graph


def test_graph_cache_is_bounded() -> None:
    clear_graph_cache()
    topology = _topology()
    first = routing_graph(topology)
    for _ in range(GRAPH_CACHE_SIZE):
        routing_graph(topology.updated())
    assert routing_graph(topology) is not first  # evicted, rebuilt
    assert routing_graph(topology) is routing_graph(topology)


def test_csr_is_symmetric_one_way_latency_with_the_fastest_parallel_link() -> None:
    topology = _topology()
    graph = routing_graph(topology)
    dense = graph.latency_csr.toarray()
    assert np.array_equal(dense, dense.T)
    assert graph.vertex_ids == ("user", "edge", "hub", "r1")
    assert dense[0, 1] == 2.0
    assert dense[3, 2] == 10.0  # l3, not the slower l3b
    assert graph.latency_csr.nnz == 6
    assert graph.edges.links_between([3, 2, 0], [2, 3, 2]).tolist() == [2, 2, -1]
    assert graph.n_vertices == 4
    assert graph.edges.bandwidth_mbps[graph.edges.keys == 3 * 4 + 2].tolist() == [100_000]
    assert graph.n_links == 4


def test_vertex_lookup() -> None:
    graph = routing_graph(_topology())
    assert graph.vertex("r1") == 3
    assert graph.vertex(np.int64(2)) == 2
    assert graph.vertices(["hub", 0, "hub"]).tolist() == [2, 0, 2]
    assert graph.vertices(np.array([1, 3])).tolist() == [1, 3]
    with pytest.raises(ValueError, match="unknown vertex"):
        graph.vertex("nope")
    with pytest.raises(ValueError, match="out of range"):
        graph.vertex(4)
    with pytest.raises(ValueError, match="must lie in"):
        graph.vertices(np.array([0, -1]))


def test_from_arrays_of_an_empty_topology() -> None:
    graph = RoutingGraph.from_arrays(Topology().arrays, version=0)
    assert graph.n_vertices == 0
    assert graph.latency_csr.shape == (0, 0)


def test_isolated_vertices_and_no_links() -> None:
    topology = Topology(sites=[Site("a", Tier.EDGE), Site("b", Tier.EDGE)])
    paths = distances_from(routing_graph(topology), "a")
    assert paths.latency_ms[0].tolist() == [0.0, np.inf]
    assert paths.hops[0].tolist() == [0, -1]
    assert paths.bottleneck_mbps[0].tolist() == [np.inf, 0.0]
