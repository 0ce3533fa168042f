"""Shortest-path trees and the vectorised folds over them (hop counts, bottleneck bandwidth).

A tree is scipy's predecessor array from one source. Per-vertex figures that are a fold along
the tree path (hops: a sum; bottleneck: a minimum) are computed for every vertex at once by
pointer jumping: each vertex keeps the fold of the segment up to its current ancestor, and each
round joins that segment with the ancestor's, doubling its length. That is ``ceil(log2(depth))``
numpy passes over the vertices instead of a Python walk per vertex. A tree of no more than
``PATH_LINKS_DEPTH`` levels asked for a bottleneck more than once also keeps each vertex's path
as a column of link indexes, so that the bottleneck over a new residual (asked at every
decision) is one gather and one reduction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
PATH_LINKS_DEPTH = 32
"""Deepest tree whose paths are kept as a link matrix (``Tree.path_links``): vertices x depth
int32 cells, so a deep, chain-like tree keeps none."""


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
    _kept: dict[str, IntArray | None] = field(
        default_factory=dict, compare=False, repr=False, init=False
    )

    @property
    def path_links(self) -> IntArray | None:
        """``(depth, V)`` link indexes of each vertex's path, padded with the number of links.

        Built at the second ``path_minimum`` over this tree (a tree asked once, as for an
        ingress seen once, keeps the cheaper fold); None until then, and for a tree deeper
        than ``PATH_LINKS_DEPTH``.
        """
        return self._kept.get("matrix")

    def path_minimum(self, bandwidth_mbps: FloatArray) -> FloatArray:
        """The least of ``bandwidth_mbps`` (per link) along the path to each vertex.

        The same minimum as ``fold_paths`` (inf at the source, 0 where unreachable). From the
        second call on, it is one gather over ``path_links`` and one reduction: the figure a
        route asks for at every decision, as the residual bandwidth changes with every
        reservation.
        """
        kept = self._kept
        matrix = kept.get("matrix")
        if matrix is None and "matrix" not in kept and "asked" in kept:
            matrix = kept["matrix"] = path_links(
                self.predecessors, self.predecessor_links, self.hops, len(bandwidth_mbps)
            )
        if matrix is None:
            kept.setdefault("asked", None)
            _, folded = fold_paths(
                self.predecessors[None, :],
                self.predecessor_links[None, :],
                bandwidth_mbps,
                np.isfinite(self.latency_ms)[None, :],
                with_hops=False,
            )
            row: FloatArray = folded[0]
            return row
        extended = np.append(bandwidth_mbps, np.inf)
        # Reduced over the leading axis: depth passes over contiguous rows of vertices.
        least: FloatArray = np.minimum.reduce(extended[matrix], axis=0)
        least[self.hops < 0] = 0.0
        return least


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
    links = tree_links(edges, predecessors)
    reachable = np.isfinite(latency)
    hops, bottleneck = fold_paths(predecessors, links, capacity_mbps, reachable, with_hops=True)
    assert hops is not None
    trees = []
    for row, source in enumerate(sources.tolist()):
        arrays = [a[row] for a in (latency, predecessors, links, hops, bottleneck)]
        if len(sources) > 1:  # own copies, so that evicting one tree frees its memory
            arrays = [a.copy() for a in arrays]
        for array in arrays:
            array.flags.writeable = False
        trees.append(Tree(int(source), *arrays))
    return trees


def path_links(
    predecessors: IntArray, predecessor_links: IntArray, hops: IntArray, n_links: int
) -> IntArray | None:
    """``(depth, V)`` link indexes of each vertex's tree path, padded with ``n_links``.

    Built level by level (a vertex's column is its predecessor's plus its own last link); None
    when the tree is deeper than ``PATH_LINKS_DEPTH``.
    """
    depth = int(hops.max(initial=0))
    if depth > PATH_LINKS_DEPTH:
        return None
    matrix = np.full((max(depth, 1), hops.size), n_links, dtype=np.int32)
    for level in range(1, depth + 1):
        step = np.flatnonzero(hops == level)
        if level > 1:
            matrix[: level - 1, step] = matrix[: level - 1, predecessors[step]]
        matrix[level - 1, step] = predecessor_links[step]
    matrix.flags.writeable = False
    return matrix


def tree_links(edges: EdgeSet, predecessors: IntArray) -> IntArray:
    """``(S, V)`` link index of the tree edge into each vertex (-1 where none).

    An edge ``u -> v`` is in the tree iff ``predecessors[v] == u``; edges are unique per
    ``(u, v)``, so one vectorised pass over the edges finds each vertex's link, with no search.
    """
    rows, n = predecessors.shape
    result = np.full((rows, n), NO_VERTEX, dtype=np.int32)
    in_tree = predecessors[:, edges.heads] == edges.tails
    row, edge = np.nonzero(in_tree)
    result[row, edges.heads[edge]] = edges.link[edge]
    return result


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
    size = rows * n
    flat = predecessors.ravel()
    has_parent = flat >= 0
    # One extra cell, the sentinel, stands above every root: it adds no hop and no limit, and
    # is its own ancestor, so whole-array rounds need no bookkeeping of who is done.
    ancestor = np.full(size + 1, size, dtype=np.int64)
    parent = flat.astype(np.int64)
    if rows > 1:
        parent += np.repeat(np.arange(rows, dtype=np.int64) * n, n)
    ancestor[:size][has_parent] = parent[has_parent]
    bottleneck = np.full(size + 1, np.inf)
    bottleneck[:size][has_parent] = bandwidth_mbps[predecessor_links.ravel()[has_parent]]
    hops = np.zeros(size + 1, dtype=np.int32)
    hops[:size] = has_parent
    for _ in range(size.bit_length() + 1):  # depth < size, and each round halves it
        if ancestor.min() == size:
            break
        # Each vertex joins its segment (up to its ancestor) with its ancestor's segment, as
        # both were before this round: the right-hand sides are read in full first.
        np.minimum(bottleneck, bottleneck[ancestor], out=bottleneck)
        if with_hops:
            hops += hops[ancestor]
        ancestor = ancestor[ancestor]
    bottleneck_out = bottleneck[:size]
    unreachable = ~reachable.ravel()
    bottleneck_out[unreachable] = 0.0
    if not with_hops:
        return None, bottleneck_out.reshape(rows, n)
    hops_out = hops[:size]
    hops_out[unreachable] = -1
    return hops_out.reshape(rows, n), bottleneck_out.reshape(rows, n)
