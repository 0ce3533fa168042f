"""Paths chosen by more than latency: the widest path, and the k shortest simple paths."""

from __future__ import annotations

from itertools import islice

import networkx as nx
import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from suanwang.routing._tree import FloatArray
from suanwang.routing.graph import EdgeSet, RoutingGraph, VertexRef
from suanwang.routing.paths import NoPathError, Path
from suanwang.routing.shortest import distances_from

MAX_K_SHORTEST_VERTICES = 5_000
"""Largest graph ``k_shortest_paths`` accepts: Yen's algorithm in networkx is pure Python."""


def widest_path(
    graph: RoutingGraph,
    source: VertexRef,
    target: VertexRef,
    *,
    residual_bandwidth_mbps: npt.ArrayLike | None = None,
) -> Path:
    """The path with the largest bottleneck bandwidth; the lowest latency among such paths.

    The best bottleneck is found by a binary search over the distinct link bandwidths, each
    step a connectivity test (scipy ``connected_components``) on the links at or above the
    candidate value; the path is then the latency-shortest one over those links. Parallel
    links count one at a time (bandwidths of parallel links are not added up).

    Args:
        graph: The routing graph.
        source: Source vertex, by index or id.
        target: Target vertex, by index or id.
        residual_bandwidth_mbps: Per-link free bandwidth, shape ``(links,)``; default capacity.

    Raises:
        NoPathError: No path joins the two vertices.
        ValueError: Unknown vertex or a residual array of the wrong shape.
    """
    start, end = graph.vertex(source), graph.vertex(target)
    bandwidth = graph.query_bandwidth(residual_bandwidth_mbps)
    if start == end:
        return Path.trivial(graph.vertex_ids[start])
    values = np.unique(bandwidth)  # ascending
    if values.size == 0 or not _joined(graph, bandwidth, values[0], start, end):
        raise NoPathError(graph.vertex_ids[start], graph.vertex_ids[end])
    low, high = 0, values.size - 1  # invariant: values[low] joins them
    while low < high:
        middle = (low + high + 1) // 2
        if _joined(graph, bandwidth, values[middle], start, end):
            low = middle
        else:
            high = middle - 1
    paths = distances_from(
        graph,
        start,
        residual_bandwidth_mbps=residual_bandwidth_mbps,
        min_bandwidth_mbps=float(values[low]),
    )
    return paths.path(end)


def _joined(
    graph: RoutingGraph, bandwidth: FloatArray, at_least: float, start: int, end: int
) -> bool:
    """Whether links with ``bandwidth >= at_least`` join ``start`` and ``end``."""
    keep = bandwidth >= at_least
    n = graph.n_vertices
    ones = np.ones(int(keep.sum()), dtype=np.int8)
    matrix = coo_array((ones, (graph.link_a[keep], graph.link_b[keep])), shape=(n, n)).tocsr()
    _, labels = connected_components(matrix, directed=False)
    return bool(labels[start] == labels[end])


def k_shortest_paths(
    graph: RoutingGraph,
    source: VertexRef,
    target: VertexRef,
    k: int,
    *,
    residual_bandwidth_mbps: npt.ArrayLike | None = None,
    min_bandwidth_mbps: float = 0.0,
) -> list[Path]:
    """Up to ``k`` loop-free paths in order of latency (networkx ``shortest_simple_paths``).

    For alternatives on small graphs (backup paths, diagnosis); the scheduler's hot path uses
    ``distances_from``. Paths differ in their vertex sequence: parallel links between two
    vertices count as one, the lowest-latency admitted one.

    Args:
        graph: The routing graph, at most ``MAX_K_SHORTEST_VERTICES`` vertices.
        source: Source vertex, by index or id.
        target: Target vertex, by index or id.
        k: How many paths at most (fewer when fewer exist; none when unreachable).
        residual_bandwidth_mbps: Per-link free bandwidth, shape ``(links,)``; default capacity.
        min_bandwidth_mbps: Links below it are pruned first, as in ``distances_from``.

    Raises:
        ValueError: ``k < 1``, the graph is too large, an unknown vertex, a bad residual array.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if graph.n_vertices > MAX_K_SHORTEST_VERTICES:
        raise ValueError(
            f"k_shortest_paths is for graphs of at most {MAX_K_SHORTEST_VERTICES:,} vertices, "
            f"this one has {graph.n_vertices:,}; use distances_from with pruning instead"
        )
    if not min_bandwidth_mbps >= 0.0:
        raise ValueError(f"min_bandwidth_mbps must be >= 0, got {min_bandwidth_mbps}")
    start, end = graph.vertex(source), graph.vertex(target)
    bandwidth = graph.query_bandwidth(residual_bandwidth_mbps)
    if start == end:
        return [Path.trivial(graph.vertex_ids[start])]
    edges = graph.edges_where(*graph.admitted(bandwidth, min_bandwidth_mbps))
    simple_graph = _networkx_graph(graph, edges)
    try:
        found: list[list[int]] = list(
            islice(nx.shortest_simple_paths(simple_graph, start, end, weight="latency_ms"), k)
        )
    except nx.NetworkXNoPath:
        return []
    return [_path(graph, edges, bandwidth, vertices) for vertices in found]


def _networkx_graph(graph: RoutingGraph, edges: EdgeSet) -> nx.Graph:
    n = graph.n_vertices
    tails, heads = edges.tails, edges.heads
    forward = tails < heads  # each undirected edge once
    simple_graph = nx.Graph()
    simple_graph.add_nodes_from(range(n))
    simple_graph.add_weighted_edges_from(
        zip(
            tails[forward].tolist(),
            heads[forward].tolist(),
            graph.link_latency_ms[edges.link[forward]].tolist(),
            strict=True,
        ),
        weight="latency_ms",
    )
    return simple_graph


def _path(graph: RoutingGraph, edges: EdgeSet, bandwidth: FloatArray, vertices: list[int]) -> Path:
    links = edges.links_between(vertices[:-1], vertices[1:]).tolist()
    latency_ms = 0.0
    for link in links:  # in travel order, as Dijkstra sums, so equal paths give equal floats
        latency_ms += float(graph.link_latency_ms[link])
    return Path(
        vertices=tuple(graph.vertex_ids[v] for v in vertices),
        segments=tuple(graph.link_ids[link] for link in links),
        latency_ms=latency_ms,
        bottleneck_mbps=float(bandwidth[links].min()),
    )
