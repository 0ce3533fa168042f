"""Latency-shortest paths from ingress vertices, optionally over links with enough bandwidth.

The scheduler asks this in its hot path, for the same few ingress sites again and again, so
shortest-path trees are cached on the ``RoutingGraph`` by (source, admitted links): a query
whose bandwidth requirement admits every link shares the unpruned tree, and a pruned query is
cached under the exact set of links it admits (a packed bit mask), which is what its tree
depends on and nothing else. Bottlenecks over residual bandwidth change with every
reservation, so they are recomputed per query from the cached tree (one gather over the tree's
path-link matrix, ``Tree.path_minimum``; a vectorised fold for several sources or deep trees).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanwang.routing._tree import BoolArray, FloatArray, IntArray, Tree, build_trees, fold_paths
from suanwang.routing.graph import RoutingGraph, VertexRef
from suanwang.routing.paths import NoPathError, Path


@dataclass(frozen=True, eq=False, repr=False)
class ShortestPaths:
    """Latency-shortest paths from each of ``sources`` to every vertex.

    Every array has one row per source (in the order asked, repeats kept) and one column per
    vertex; arrays are read-only and may be shared with the graph's cache. For per-node figures
    index the columns with ``graph.node_vertex``, e.g. ``sp.latency_ms[0, graph.node_vertex]``.

    Attributes:
        graph: The graph the paths run through.
        sources: Source vertex index of each row.
        latency_ms: One-way latency in ms; inf where unreachable.
        hops: Links on the path; 0 at the source, -1 where unreachable.
        predecessors: Previous vertex on the path; -1 at the source and where unreachable.
        predecessor_links: Link index of the last segment; -1 at the source and unreachable.
        bottleneck_mbps: Least bandwidth along the path (residual if the query gave it, else
            capacity); inf at the source (nothing limits it), 0 where unreachable.
        min_bandwidth_mbps: The bandwidth the query needed (links below it were pruned).
    """

    graph: RoutingGraph
    sources: IntArray
    latency_ms: FloatArray
    hops: IntArray
    predecessors: IntArray
    predecessor_links: IntArray
    bottleneck_mbps: FloatArray
    min_bandwidth_mbps: float = 0.0

    def __repr__(self) -> str:
        ids = [self.graph.vertex_ids[s] for s in self.sources.tolist()]
        return (
            f"ShortestPaths(sources={ids}, vertices={self.graph.n_vertices}, "
            f"min_bandwidth_mbps={self.min_bandwidth_mbps:g})"
        )

    @property
    def reachable(self) -> BoolArray:
        """``(S, V)``: whether a path exists (in the pruned graph)."""
        return np.isfinite(self.latency_ms)

    def row(self, source: VertexRef | None = None) -> int:
        """Row of ``source`` (its first row if repeated); None means the only source.

        Raises:
            ValueError: ``source`` was not asked for, or None with several sources.
        """
        if source is None:
            if self.sources.size != 1:
                raise ValueError(f"{self.sources.size} sources: say which one the path is from")
            return 0
        index = self.graph.vertex(source)
        rows = np.flatnonzero(self.sources == index)
        if rows.size == 0:
            raise ValueError(f"{self.graph.vertex_ids[index]!r} is not a source of these paths")
        return int(rows[0])

    def path_minimum(self, per_link: npt.ArrayLike) -> FloatArray:
        """``(S, V)``: the least of ``per_link`` (one figure per link) along each path.

        For a figure other than the query's bandwidth over the same paths (the rate a flow
        would get where links are shared); inf at the source, 0 where unreachable.

        Raises:
            ValueError: ``per_link`` does not have one entry per link.
        """
        figures = self.graph.query_bandwidth(per_link)
        _, least = fold_paths(
            self.predecessors, self.predecessor_links, figures, self.reachable, with_hops=False
        )
        return least

    def path(self, vertex: VertexRef, source: VertexRef | None = None) -> Path:
        """Materialise the path to ONE vertex (a Python walk of its hops; do it for the winner).

        Args:
            vertex: Target vertex, by index or id.
            source: Which source's path, when several were asked for.

        Raises:
            NoPathError: ``vertex`` is unreachable (in the graph as pruned for this query).
            ValueError: Unknown vertex or source.
        """
        row = self.row(source)
        target = self.graph.vertex(vertex)
        ids = self.graph.vertex_ids
        start = int(self.sources[row])
        hops = int(self.hops[row, target])
        if hops < 0:
            detail = ""
            if self.min_bandwidth_mbps > 0:
                detail = f"links below {self.min_bandwidth_mbps:g} Mbps pruned"
            raise NoPathError(ids[start], ids[target], detail)
        predecessors, links = self.predecessors[row], self.predecessor_links[row]
        vertices, segments = [target], []
        at = target
        for _ in range(hops):
            segments.append(int(links[at]))
            at = int(predecessors[at])
            vertices.append(at)
        vertices.reverse()
        segments.reverse()
        return Path(
            vertices=tuple(ids[v] for v in vertices),
            segments=tuple(self.graph.link_ids[k] for k in segments),
            latency_ms=float(self.latency_ms[row, target]),
            bottleneck_mbps=float(self.bottleneck_mbps[row, target]),
        )


def distances_from(
    graph: RoutingGraph,
    sources: VertexRef | Iterable[VertexRef] | npt.NDArray[np.integer],
    *,
    residual_bandwidth_mbps: npt.ArrayLike | None = None,
    min_bandwidth_mbps: float = 0.0,
    excluded_links: BoolArray | None = None,
) -> ShortestPaths:
    """Latency-shortest paths (Dijkstra, scipy csgraph) from one or several source vertices.

    Args:
        graph: The routing graph (``routing_graph(topology)``).
        sources: One vertex or several, by index or id (typically ingress sites).
        residual_bandwidth_mbps: Per-link bandwidth still free, in Mbps, shape ``(links,)``;
            default the capacity. Bottlenecks are measured against it.
        min_bandwidth_mbps: Bandwidth the request needs; links whose residual (or capacity) is
            below it are pruned before routing, so paths reroute around them or vertices become
            unreachable (latency inf). 0 prunes nothing.
        excluded_links: Per link, True for links that must not be used (down links); their
            trees are cached under the admitted set like any pruned query.

    Returns:
        The paths, one row per source.

    Raises:
        ValueError: Unknown or no sources, a negative or NaN requirement, or a residual array
            of the wrong shape.
    """
    source_index = graph.vertices(sources)
    if source_index.size == 0:
        raise ValueError("at least one source is needed")
    if not min_bandwidth_mbps >= 0.0:
        raise ValueError(f"min_bandwidth_mbps must be >= 0, got {min_bandwidth_mbps}")
    bandwidth = graph.query_bandwidth(residual_bandwidth_mbps)
    key, mask = graph.admitted(bandwidth, min_bandwidth_mbps, excluded_links)
    trees = _trees(graph, source_index, key, mask)
    if len(trees) == 1:  # the hot case: views of the cached tree, no copies
        (tree,) = trees
        latency, predecessors = tree.latency_ms[None, :], tree.predecessors[None, :]
        links, hops = tree.predecessor_links[None, :], tree.hops[None, :]
        bottleneck = tree.capacity_bottleneck_mbps[None, :]
    else:
        latency = np.stack([t.latency_ms for t in trees])
        predecessors = np.stack([t.predecessors for t in trees])
        links = np.stack([t.predecessor_links for t in trees])
        hops = np.stack([t.hops for t in trees])
        bottleneck = np.stack([t.capacity_bottleneck_mbps for t in trees])
    if residual_bandwidth_mbps is not None:
        if len(trees) == 1:
            bottleneck = trees[0].path_minimum(bandwidth)[None, :]
        else:
            _, bottleneck = fold_paths(
                predecessors, links, bandwidth, np.isfinite(latency), with_hops=False
            )
    for array in (latency, predecessors, links, hops, bottleneck, source_index):
        array.flags.writeable = False
    return ShortestPaths(
        graph=graph,
        sources=source_index,
        latency_ms=latency,
        hops=hops,
        predecessors=predecessors,
        predecessor_links=links,
        bottleneck_mbps=bottleneck,
        min_bandwidth_mbps=float(min_bandwidth_mbps),
    )


def _trees(
    graph: RoutingGraph, sources: IntArray, key: bytes | None, mask: BoolArray | None
) -> list[Tree]:
    """The tree of each source over the admitted links: from the cache, the rest in one run."""
    found: dict[int, Tree] = {}
    missing: list[int] = []
    for source in dict.fromkeys(sources.tolist()):
        tree = graph.trees.get((source, key))
        if tree is None:
            missing.append(source)
        else:
            found[source] = tree
    if missing:
        edges = graph.edges_where(key, mask)
        built = build_trees(edges, np.asarray(missing, dtype=np.int32), graph.link_bandwidth_mbps)
        for tree in built:
            graph.trees.put((tree.source, key), tree)
            found[tree.source] = tree
    return [found[source] for source in sources.tolist()]


def latency_between(graph: RoutingGraph, source: VertexRef, target: VertexRef) -> float:
    """One-way latency of the shortest path between two vertices in ms (inf if none)."""
    return float(distances_from(graph, source).latency_ms[0, graph.vertex(target)])
