"""The routing graph: a topology's vertices and links as scipy CSR matrices, cached per version.

Vertices are ``TopologyArrays.vertex_ids`` (sites, then network elements); links are
bidirectional with the same figures each way, so every link gives two directed edges. When
several links join the same two vertices (parallel links), an edge set keeps the one with the
lowest latency among those it admits (ties: the first in topology order); the others stay in
the topology for bandwidth accounting but are never chosen by latency routing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_array

from suanwang.model import Topology, TopologyArrays
from suanwang.routing._cache import LruCache
from suanwang.routing._tree import BoolArray, FloatArray, IntArray, Tree

VertexRef: TypeAlias = int | np.integer | str
"""A vertex given by its index in ``vertex_ids`` or by its id (a site or network element id)."""

GRAPH_CACHE_SIZE = 4
"""Routing graphs kept by ``routing_graph``: the current topology version and a few before it."""
EDGE_SET_CACHE_SIZE = 32
"""Pruned edge sets kept per graph (one per distinct set of admitted links)."""
TREE_CACHE_CELLS = 2**21
"""Budget of the per-graph shortest-path-tree cache, in vertices × trees (about 28 bytes each,
and 4 more per link of the deepest path for ``Tree.path_links``)."""
MIN_TREE_CACHE_ENTRIES = 8


def _readonly(*arrays: npt.NDArray[np.generic]) -> None:
    for array in arrays:
        array.flags.writeable = False


@dataclass(frozen=True, eq=False, repr=False, slots=True)
class EdgeSet:
    """The directed edges admitted for one query, in CSR order, with the link behind each.

    Attributes:
        latency_csr: ``(V, V)`` one-way latency in ms; symmetric. Zero-latency links are
            stored as explicit zeros, which scipy's csgraph treats as edges.
        keys: ``u * V + v`` of each stored edge, ascending (the CSR order); used to look up the
            edge between two vertices with a binary search.
        link: Link index (into ``link_ids``) behind each stored edge.
        tails: Tail vertex of each stored edge.
        heads: Head vertex of each stored edge (the CSR column indices).
        bandwidth_mbps: Capacity of the link behind each stored edge, in Mbps.
    """

    latency_csr: csr_array
    keys: npt.NDArray[np.int64]
    link: IntArray
    tails: IntArray
    heads: IntArray
    bandwidth_mbps: FloatArray

    def __repr__(self) -> str:
        return f"EdgeSet(vertices={self.latency_csr.shape[0]}, edges={self.keys.size})"

    def links_between(self, u: npt.ArrayLike, v: npt.ArrayLike) -> IntArray:
        """Link index of the edge ``u -> v`` for each pair (vectorised); -1 where none.

        Args:
            u: Tail vertex indices.
            v: Head vertex indices, broadcast against ``u``.
        """
        n = self.latency_csr.shape[0]
        u_arr = np.asarray(u, dtype=np.int64)
        v_arr = np.asarray(v, dtype=np.int64)
        wanted = u_arr * n + v_arr
        at = np.searchsorted(self.keys, wanted)
        found = at < self.keys.size
        found[found] = self.keys[at[found]] == wanted[found]
        result = np.full(wanted.shape, -1, dtype=np.int32)
        result[found] = self.link[at[found]]
        return result


@dataclass(frozen=True, eq=False, repr=False)
class RoutingGraph:
    """Everything routing needs from one topology version, built once and shared read-only.

    Build it with ``routing_graph(topology)`` (cached per ``topology.version``) or
    ``RoutingGraph.from_arrays``. The caches inside (pruned edge sets, shortest-path trees) only
    hold pure functions of this graph and a query, so sharing one graph between threads and
    callers is safe.

    Attributes:
        version: Version of the topology it was built from.
        vertex_ids: Vertex ids; a vertex index is a position in this tuple.
        link_ids: Link ids; a link index is a position in this tuple.
        node_vertex: Vertex index of each node's site (``TopologyArrays.node_vertex``), so that
            ``latency_ms[..., graph.node_vertex]`` gives per-node figures. Two nodes of one site
            are 0 hops and 0 ms apart.
        link_a: Vertex index of one end of each link.
        link_b: Vertex index of the other end of each link.
        link_latency_ms: One-way latency of each link in ms.
        link_bandwidth_mbps: Capacity of each link in Mbps, per direction.
        edges: All links as edges (nothing pruned).
    """

    version: int
    vertex_ids: tuple[str, ...]
    link_ids: tuple[str, ...]
    node_vertex: IntArray
    link_a: IntArray
    link_b: IntArray
    link_latency_ms: FloatArray
    link_bandwidth_mbps: FloatArray
    edges: EdgeSet
    _vertex_index: dict[str, int] = field(repr=False)
    # Candidate directed edges sorted by (u * V + v, latency, link index): an edge set for any
    # admitted-link mask is then a filter plus "first of each key", with no sort per query.
    _candidate_keys: npt.NDArray[np.int64] = field(repr=False)
    _candidate_links: IntArray = field(repr=False)
    _edge_sets: LruCache[bytes, EdgeSet] = field(repr=False)
    trees: LruCache[tuple[int, bytes | None], Tree] = field(repr=False)
    """Shortest-path trees by (source, admitted-link key); managed by ``routing.shortest``."""

    @classmethod
    def from_arrays(
        cls,
        arrays: TopologyArrays,
        version: int,
        link_latency_ms: npt.ArrayLike | None = None,
    ) -> RoutingGraph:
        """Build the graph of a topology's array view.

        Args:
            arrays: The topology's array view.
            version: The topology's version (identifies the graph in caches).
            link_latency_ms: One-way latency per link to route on instead of the configured
                figures (measured latencies); None routes on the topology's.

        Raises:
            ValueError: ``link_latency_ms`` has not one finite, non-negative entry per link.
        """
        n = len(arrays.vertex_ids)
        latency = arrays.link_latency_ms
        if link_latency_ms is not None:
            latency = np.array(link_latency_ms, dtype=np.float64)
            if latency.shape != (len(arrays.link_ids),):
                raise ValueError(
                    f"link_latency_ms needs shape ({len(arrays.link_ids)},), got {latency.shape}"
                )
            if not (np.isfinite(latency).all() and (latency >= 0).all()):
                raise ValueError("link_latency_ms must be finite and not negative")
            _readonly(latency)
        links = np.arange(len(arrays.link_ids), dtype=np.int32)
        tails = np.concatenate([arrays.link_a, arrays.link_b]).astype(np.int64)
        heads = np.concatenate([arrays.link_b, arrays.link_a]).astype(np.int64)
        both = np.concatenate([links, links])
        keys = tails * n + heads
        order = np.lexsort((both, latency[both], keys))
        candidate_keys, candidate_links = keys[order], both[order]
        _readonly(candidate_keys, candidate_links)
        bandwidth = arrays.link_bandwidth_mbps
        edges = _edge_set(n, latency, bandwidth, candidate_keys, candidate_links)
        cells = max(n, 1)
        return cls(
            version=version,
            vertex_ids=arrays.vertex_ids,
            link_ids=arrays.link_ids,
            node_vertex=arrays.node_vertex,
            link_a=arrays.link_a,
            link_b=arrays.link_b,
            link_latency_ms=latency,
            link_bandwidth_mbps=bandwidth,
            edges=edges,
            _vertex_index={vertex_id: i for i, vertex_id in enumerate(arrays.vertex_ids)},
            _candidate_keys=candidate_keys,
            _candidate_links=candidate_links,
            _edge_sets=LruCache(EDGE_SET_CACHE_SIZE),
            trees=LruCache(max(MIN_TREE_CACHE_ENTRIES, TREE_CACHE_CELLS // cells)),
        )

    def __repr__(self) -> str:
        return (
            f"RoutingGraph(version={self.version}, vertices={self.n_vertices}, "
            f"links={self.n_links}, edges={self.edges.keys.size})"
        )

    @property
    def n_vertices(self) -> int:
        """Number of vertices (sites and network elements)."""
        return len(self.vertex_ids)

    @property
    def n_links(self) -> int:
        """Number of links."""
        return len(self.link_ids)

    @property
    def latency_csr(self) -> csr_array:
        """``(V, V)`` CSR matrix of one-way latency in ms over all links (symmetric)."""
        return self.edges.latency_csr

    def vertex(self, ref: VertexRef) -> int:
        """Index of a vertex given by index or id.

        Raises:
            ValueError: The id is unknown or the index out of range.
        """
        if isinstance(ref, str):
            index = self._vertex_index.get(ref)
            if index is None:
                raise ValueError(f"unknown vertex {ref!r} (not a site or network element)")
            return index
        index = int(ref)
        if not 0 <= index < self.n_vertices:
            raise ValueError(f"vertex index {index} out of range [0, {self.n_vertices})")
        return index

    def vertices(self, refs: VertexRef | Iterable[VertexRef] | npt.NDArray[np.integer]) -> IntArray:
        """Indexes of one or several vertices, as a 1-D array (order and repeats kept).

        Raises:
            ValueError: An id is unknown or an index out of range.
        """
        if isinstance(refs, np.ndarray):
            result = np.asarray(refs, dtype=np.int64).ravel()
            if result.size and (result.min() < 0 or result.max() >= self.n_vertices):
                raise ValueError(f"vertex indexes must lie in [0, {self.n_vertices})")
            return result.astype(np.int32)
        if isinstance(refs, str | int | np.integer):
            return np.asarray([self.vertex(refs)], dtype=np.int32)
        return np.asarray([self.vertex(ref) for ref in refs], dtype=np.int32)

    def query_bandwidth(self, residual_bandwidth_mbps: npt.ArrayLike | None) -> FloatArray:
        """The per-link bandwidth a query measures against: ``residual_bandwidth_mbps`` or capacity.

        Raises:
            ValueError: The residual array does not have one entry per link.
        """
        if residual_bandwidth_mbps is None:
            return self.link_bandwidth_mbps
        bandwidth = np.asarray(residual_bandwidth_mbps, dtype=np.float64)
        if bandwidth.shape != (self.n_links,):
            raise ValueError(
                f"residual_bandwidth_mbps needs shape ({self.n_links},), got {bandwidth.shape}"
            )
        return bandwidth

    def admitted(
        self,
        bandwidth_mbps: FloatArray,
        min_bandwidth_mbps: float,
        excluded_links: BoolArray | None = None,
    ) -> tuple[bytes | None, BoolArray | None]:
        """Which links a query admits, and a compact key for it.

        Args:
            bandwidth_mbps: Per-link bandwidth the query measures against (residual or capacity).
            min_bandwidth_mbps: The request's need; links below it are pruned. 0 prunes nothing.
            excluded_links: Per link, True for links never to use (down); None for none.

        Returns:
            ``(None, None)`` when every link is admitted, else the packed mask as bytes (a
            cache key that names the admitted set exactly) and the boolean mask.
        """
        if min_bandwidth_mbps <= 0.0:
            if excluded_links is None or not excluded_links.any():
                return None, None
            mask = ~excluded_links
        else:
            mask = bandwidth_mbps >= min_bandwidth_mbps
            if excluded_links is not None:
                mask &= ~excluded_links
        if bool(mask.all()):
            return None, None
        return np.packbits(mask).tobytes(), mask

    def edges_where(self, key: bytes | None, mask: BoolArray | None) -> EdgeSet:
        """The edge set of the links in ``mask`` (all links when ``key`` is None), cached by key.

        Among parallel admitted links, the lowest-latency one is kept.
        """
        if key is None or mask is None:
            return self.edges

        def build() -> EdgeSet:
            keep = mask[self._candidate_links]
            return _edge_set(
                self.n_vertices,
                self.link_latency_ms,
                self.link_bandwidth_mbps,
                self._candidate_keys[keep],
                self._candidate_links[keep],
            )

        return self._edge_sets.get_or_build(key, build)


def _edge_set(
    n: int,
    latency_ms: FloatArray,
    bandwidth_mbps: FloatArray,
    keys: npt.NDArray[np.int64],
    links: IntArray,
) -> EdgeSet:
    """Edges from candidates sorted by (key, latency, link): the first of each key wins."""
    first = np.ones(keys.size, dtype=np.bool_)
    first[1:] = keys[1:] != keys[:-1]
    keys, links = keys[first], links[first].astype(np.int32)
    indptr = np.searchsorted(keys, np.arange(n + 1, dtype=np.int64) * n)
    tails = (keys // max(n, 1)).astype(np.int32)
    heads = (keys % max(n, 1)).astype(np.int32)
    data = latency_ms[links].astype(np.float64)
    bandwidth = bandwidth_mbps[links].astype(np.float64)
    matrix = csr_array((data, heads.copy(), indptr.astype(np.int32)), shape=(n, n))
    _readonly(keys, links, tails, heads, bandwidth)
    return EdgeSet(matrix, keys, links, tails, heads, bandwidth)


_graphs: LruCache[int, RoutingGraph] = LruCache(GRAPH_CACHE_SIZE)


def routing_graph(topology: Topology) -> RoutingGraph:
    """The routing graph of ``topology``, built on first use and cached by its version.

    The same version always gives the same object (while it stays among the last
    ``GRAPH_CACHE_SIZE`` versions asked for); a changed topology (``Topology.updated`` or
    ``removed``) has a new version and so gets a new graph, with fresh path caches.
    """
    version = topology.version
    return _graphs.get_or_build(version, lambda: RoutingGraph.from_arrays(topology.arrays, version))


def reweighted_graph(topology: Topology, link_latency_ms: npt.ArrayLike) -> RoutingGraph:
    """A routing graph of ``topology`` whose links weigh ``link_latency_ms`` (one-way, per link).

    Not cached here: the caller keeps it for as long as those latencies hold (a new graph has
    fresh path caches, so reusing it is what keeps queries cheap).
    """
    return RoutingGraph.from_arrays(topology.arrays, topology.version, link_latency_ms)


def clear_graph_cache() -> None:
    """Forget every cached routing graph (tests, or to free memory)."""
    _graphs.clear()
