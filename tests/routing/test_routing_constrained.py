"""Widest path and k shortest simple paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from suanwang.model import Link, Site, Tier, Topology
from suanwang.routing import (
    MAX_K_SHORTEST_VERTICES,
    NoPathError,
    Path,
    distances_from,
    k_shortest_paths,
    routing_graph,
    widest_path,
)
from suanwang.scenario.generate import generate_scenario


def _diamond() -> Topology:
    """s reaches t over a fast narrow route, a slow wide one, and a middle one; x is cut off."""
    sites = [Site(v, Tier.EDGE) for v in ("s", "a", "b", "c", "d", "t", "x")]
    return Topology(
        sites=sites,
        links=[
            Link("sa", "s", "a", bandwidth_mbps=100, latency_ms=1),
            Link("at", "a", "t", bandwidth_mbps=10_000, latency_ms=1),
            Link("sb", "s", "b", bandwidth_mbps=5_000, latency_ms=11),
            Link("bt", "b", "t", bandwidth_mbps=5_000, latency_ms=10),
            Link("sc", "s", "c", bandwidth_mbps=5_000, latency_ms=3),
            Link("cd", "c", "d", bandwidth_mbps=5_000, latency_ms=3),
            Link("dt", "d", "t", bandwidth_mbps=8_000, latency_ms=3),
            Link("ab", "a", "b", bandwidth_mbps=1_000, latency_ms=2),
        ],
    )


def test_widest_path_maximises_the_bottleneck_then_minimises_latency() -> None:
    graph = routing_graph(_diamond())
    path = widest_path(graph, "s", "t")
    # Two routes reach 5,000 Mbps; the faster one (9 ms) wins over s-b-t (21 ms).
    assert path == Path(("s", "c", "d", "t"), ("sc", "cd", "dt"), 9.0, 5_000.0)
    assert widest_path(graph, "t", "s").bottleneck_mbps == 5_000
    assert widest_path(graph, "s", "s") == Path.trivial("s")
    with pytest.raises(NoPathError):
        widest_path(graph, "s", "x")


def test_widest_path_over_residual_bandwidth() -> None:
    topology = _diamond()
    graph = routing_graph(topology)
    residual = graph.link_bandwidth_mbps.copy()
    residual[topology.arrays.link_ids.index("cd")] = 200.0
    path = widest_path(graph, "s", "t", residual_bandwidth_mbps=residual)
    assert path.segments == ("sb", "bt")
    assert path.bottleneck_mbps == 5_000


def test_widest_path_bottleneck_is_the_best_on_generated_topologies() -> None:
    topology = generate_scenario(300, seed=5).topology
    graph = routing_graph(topology)
    rng = np.random.default_rng(5)
    for source, target in rng.choice(graph.n_vertices, size=(5, 2)).tolist():
        path = widest_path(graph, source, target)
        links = [topology.links[s] for s in path.segments]
        assert path.bottleneck_mbps == min((k.bandwidth_mbps for k in links), default=math.inf)
        # Nothing wider exists: pruning just above the bottleneck disconnects them.
        if path.segments:
            above = np.nextafter(path.bottleneck_mbps, math.inf)
            pruned = distances_from(graph, source, min_bandwidth_mbps=above)
            assert not pruned.reachable[0, target]
        # And no path at that bandwidth is faster.
        at = distances_from(graph, source, min_bandwidth_mbps=path.bottleneck_mbps)
        assert path.latency_ms == at.latency_ms[0, target]


def test_k_shortest_paths_in_latency_order_and_distinct() -> None:
    graph = routing_graph(_diamond())
    paths = k_shortest_paths(graph, "s", "t", k=10)
    assert [p.vertices for p in paths] == [
        ("s", "a", "t"),
        ("s", "c", "d", "t"),
        ("s", "a", "b", "t"),
        ("s", "b", "a", "t"),
        ("s", "b", "t"),
    ]
    assert [p.latency_ms for p in paths] == [2.0, 9.0, 13.0, 14.0, 21.0]
    latencies = [p.latency_ms for p in paths]
    assert latencies == sorted(latencies)
    assert latencies[0] == 2.0
    assert len({p.vertices for p in paths}) == len(paths) == 5
    for path in paths:
        links = [graph.link_ids.index(s) for s in path.segments]
        assert path.bottleneck_mbps == graph.link_bandwidth_mbps[links].min()
    assert k_shortest_paths(graph, "s", "t", k=2) == paths[:2]
    assert k_shortest_paths(graph, "s", "x", k=3) == []
    assert k_shortest_paths(graph, "t", "t", k=3) == [Path.trivial("t")]
    wide = k_shortest_paths(graph, "s", "t", k=10, min_bandwidth_mbps=5_000)
    assert [p.segments for p in wide] == [("sc", "cd", "dt"), ("sb", "bt")]


def test_k_shortest_first_path_is_the_shortest_on_a_generated_topology() -> None:
    topology = generate_scenario(500, seed=2).topology
    graph = routing_graph(topology)
    shortest = distances_from(graph, 0)
    target = int(np.argmax(np.where(shortest.reachable[0], shortest.latency_ms[0], -1)))
    paths = k_shortest_paths(graph, 0, target, k=5)
    assert paths[0].latency_ms == pytest.approx(shortest.latency_ms[0, target])
    assert [p.latency_ms for p in paths] == sorted(p.latency_ms for p in paths)
    assert len({p.vertices for p in paths}) == len(paths)


def test_k_shortest_refuses_large_graphs_and_bad_k() -> None:
    n = MAX_K_SHORTEST_VERTICES + 1
    sites = [Site(f"s{i}", Tier.EDGE) for i in range(n)]
    links = [Link(f"k{i}", f"s{i}", f"s{i + 1}", 100.0, 1.0) for i in range(n - 1)]
    graph = routing_graph(Topology(sites=sites, links=links))
    with pytest.raises(ValueError, match="at most 5,000 vertices"):
        k_shortest_paths(graph, 0, n - 1, k=2)
    small = routing_graph(_diamond())
    with pytest.raises(ValueError, match="k must be at least 1"):
        k_shortest_paths(small, "s", "t", k=0)
