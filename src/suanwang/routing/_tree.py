"""Shortest-path trees and the vectorised folds over them (hop counts, bottleneck bandwidth).

A tree is scipy's predecessor array from one source. Per-vertex figures that are a fold along
the tree path (hops: a sum; bottleneck: a minimum) are computed for every vertex at once by
pointer jumping: each vertex keeps the fold of the segment up to its current ancestor, and each
round joins that segment with the ancestor's, doubling its length. That is ``ceil(log2(depth))``
numpy passes over the vertices instead of a Python walk per vertex.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import numpy.typing as npt
from scipy.sparse.csgraph import dijkstra

if TYPE_CHECKING:
    from suanwang.routing.graph import EdgeSet

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int32]
BoolArray: TypeAlias = npt.NDArray[np.bool_]

NO_VERTEX = -1
"""Predecessor of a source or an unreachable vertex, and the link into it."""


@dataclass(frozen=True, slots=True)
class Tree:
    """The latency-shortest-path tree from one source over one edge set (read-only arrays).

    Attributes:
        source: Source vertex index.
        latency_ms: One-way latency to each vertex in ms; inf where unreachable.
        predecessors: Previous vertex on the path to each vertex; -1 at the source and where
            unreachable.
        predecessor_links: Link index of the last segment to each vertex; -1 likewise.
        hops: Links on the path to each vertex; 0 at the source, -1 where unreachable.
        capacity_bottleneck_mbps: Least link capacity along the path to each vertex; inf at the
            source, 0 where unreachable.
    """

    source: int
    latency_ms: FloatArray
    predecessors: IntArray
    predecessor_links: IntArray
    hops: IntArray
    capacity_bottleneck_mbps: FloatArray


def build_trees(edges: EdgeSet, sources: IntArray, capacity_mbps: FloatArray) -> list[Tree]:
    """Run Dijkstra from each source (one scipy call) and fold hops and bottlenecks.

    Args:
        edges: The admitted edges.
        sources: Distinct source vertex indices.
        capacity_mbps: Per-link capacity, for the cached capacity bottleneck.
    """
    latency, predecessors = dijkstra(
        edges.latency_csr, directed=True, indices=sources, return_predecessors=True
    )
    latency = np.asarray(latency, dtype=np.float64).reshape(len(sources), -1)
    predecessors = np.asarray(predecessors, dtype=np.int32).reshape(latency.shape)
    predecessors[predecessors < 0] = NO_VERTEX
    heads = np.broadcast_to(np.arange(latency.shape[1], dtype=np.int32), latency.shape)
    links = edges.links_between(predecessors, heads)
    links[predecessors < 0] = NO_VERTEX
    reachable = np.isfinite(latency)
    hops, bottleneck = fold_paths(predecessors, links, capacity_mbps, reachable, with_hops=True)
    assert hops is not None
    trees = []
    for row, source in enumerate(sources.tolist()):
        arrays = (latency[row], predecessors[row], links[row], hops[row], bottleneck[row])
        for array in arrays:
            array.flags.writeable = False
        trees.append(Tree(int(source), *arrays))
    return trees


def fold_paths(
    predecessors: IntArray,
    predecessor_links: IntArray,
    bandwidth_mbps: FloatArray,
    reachable: BoolArray,
    *,
    with_hops: bool,
) -> tuple[IntArray | None, FloatArray]:
    """Hops and bottleneck bandwidth of the tree path to every vertex, by pointer jumping.

    Args:
        predecessors: ``(S, V)`` predecessor rows, -1 for a root or an unreachable vertex.
        predecessor_links: ``(S, V)`` link index into each vertex, -1 likewise.
        bandwidth_mbps: Per-link bandwidth whose minimum along each path is wanted.
        reachable: ``(S, V)`` whether each vertex is reachable (finite latency).
        with_hops: Whether to count hops too (the bottleneck alone is cheaper).

    Returns:
        ``(hops, bottleneck)``, each ``(S, V)``. A root has 0 hops and an infinite bottleneck;
        an unreachable vertex has -1 hops and a bottleneck of 0. ``hops`` is None unless asked.
    """
    rows, n = predecessors.shape
    flat = predecessors.ravel()
    has_parent = flat >= 0
    offsets = np.repeat(np.arange(rows, dtype=np.int64) * n, n)
    ancestor = np.where(has_parent, flat + offsets, -1)
    bottleneck = np.full(flat.shape, np.inf)
    bottleneck[has_parent] = bandwidth_mbps[predecessor_links.ravel()[has_parent]]
    hops = has_parent.astype(np.int32) if with_hops else None
    active = np.flatnonzero(has_parent)
    while active.size:
        up = ancestor[active]
        # Each right-hand side is read in full before the assignment, so every vertex joins
        # its segment with its ancestor's segment as it was before this round.
        bottleneck[active] = np.minimum(bottleneck[active], bottleneck[up])
        if hops is not None:
            hops[active] += hops[up]
        ancestor[active] = ancestor[up]
        active = active[ancestor[active] >= 0]
    unreachable = ~reachable.ravel()
    bottleneck[unreachable] = 0.0
    if hops is not None:
        hops[unreachable] = -1
        return hops.reshape(rows, n), bottleneck.reshape(rows, n)
    return None, bottleneck.reshape(rows, n)
