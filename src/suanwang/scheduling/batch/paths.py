"""Simple paths over the link graph, every parallel link apart: what the optimum routes over.

The routing graph keeps, between two vertices, only the lowest-latency link; the optimum must
see every link with its own residual bandwidth, and every simple path, not the few shortest.
``LinkGraph`` is the topology's links as a multigraph (down links left out) and
``enumerate_paths`` lists the simple paths from an ingress to a site that could still meet a
network-time and path-price allowance, pruning a partial path as soon as its best completion
cannot: the round trip of its latency plus the latency-shortest rest, plus the transfer at its
bottleneck so far (the bottleneck only falls as the path grows, so the transfer only grows),
and its price per GB plus the cheapest rest. The pruning is exact: no path it cuts could meet
the allowance. A listing stopped by its cap says so (``PathSet.complete``).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_array, csr_array
from scipy.sparse.csgraph import dijkstra

from suanwang.scheduling.framework import FloatArray
from suanwang.scheduling.state import ClusterState

IntArray = npt.NDArray[np.int64]
Figures = tuple[float, float, float]
"""(one-way latency ms, residual bottleneck Mbps, cost per GB) of a path."""
_SLACK = 1e-9
ANY_LINK = -1.0
"""A bandwidth need that admits every link that is up (tasks that move no data)."""
MAX_PATHS_PER_PAIR = 5_000
"""Paths listed per (class, site) before the listing stops and calls itself incomplete."""
MAX_STEPS_PER_PAIR = 200_000
"""Search steps per (class, site) before the listing stops and calls itself incomplete."""


@dataclass(slots=True)
class PathSet:
    """Paths from one source to one target, as link and vertex index tuples with figures.

    Attributes:
        links: Link indexes of each path, in travel order (empty: within the ingress site).
        vertices: Vertex indexes of each path, source first.
        latency_ms: One-way latency of each path.
        bottleneck_mbps: Least residual bandwidth along each path (inf without links).
        cost_per_gb: Summed transfer price per GB of each path.
        complete: False when a cap stopped the listing (paths may be missing).
    """

    links: list[tuple[int, ...]] = field(default_factory=list)
    vertices: list[tuple[int, ...]] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    bottleneck_mbps: list[float] = field(default_factory=list)
    cost_per_gb: list[float] = field(default_factory=list)
    complete: bool = True

    def __len__(self) -> int:
        return len(self.links)

    def add(self, links: tuple[int, ...], vertices: tuple[int, ...], figures: Figures) -> None:
        """Append one path with its (latency, bottleneck, cost per GB)."""
        self.links.append(links)
        self.vertices.append(vertices)
        self.latency_ms.append(figures[0])
        self.bottleneck_mbps.append(figures[1])
        self.cost_per_gb.append(figures[2])


class LinkGraph:
    """The links of ``state`` as an undirected multigraph with residual bandwidth per link.

    Args:
        state: Its topology, ledger (residual bandwidth) and down-link marks are read once.
    """

    def __init__(self, state: ClusterState) -> None:
        arrays = state.arrays
        self.n_vertices = len(arrays.vertex_ids)
        self.link_a = np.asarray(arrays.link_a, dtype=np.int64)
        self.link_b = np.asarray(arrays.link_b, dtype=np.int64)
        self.latency_ms = np.asarray(arrays.link_latency_ms, dtype=np.float64)
        self.cost_per_gb = np.asarray(arrays.link_cost_per_gb, dtype=np.float64)
        residual = np.asarray(state.reservations.residual_mbps(), dtype=np.float64).copy()
        residual[np.asarray(state.link_down, dtype=bool)] = -np.inf  # no path uses a down link
        self.residual_mbps = residual
        # Neighbours by vertex, lowest latency first: early paths are the short ones.
        self._adjacent: list[list[tuple[int, int]]] = [[] for _ in range(self.n_vertices)]
        for link in np.argsort(self.latency_ms, kind="stable").tolist():
            a, b = int(self.link_a[link]), int(self.link_b[link])
            if a != b:
                self._adjacent[a].append((b, link))
                self._adjacent[b].append((a, link))
        self._distances: dict[tuple[float, str], FloatArray] = {}

    def admitted(self, min_bandwidth_mbps: float) -> npt.NDArray[np.bool_]:
        """Links a task may cross: residual >= a positive need; > 0 at 0; any up at ANY_LINK."""
        if min_bandwidth_mbps > 0:
            return self.residual_mbps >= min_bandwidth_mbps - _SLACK
        if min_bandwidth_mbps == 0:  # moves data without reserving: needs some bandwidth
            return self.residual_mbps > 0
        return np.isfinite(self.residual_mbps)

    def distances(self, min_bandwidth_mbps: float, weight: str) -> FloatArray:
        """All-pairs least ``latency`` or ``cost`` (per GB) over the admitted links, (V, V)."""
        key = (min_bandwidth_mbps, weight)
        found = self._distances.get(key)
        if found is None:
            keep = np.flatnonzero(self.admitted(min_bandwidth_mbps))
            values = (self.latency_ms if weight == "latency" else self.cost_per_gb)[keep]
            # Explicit zeros are edges for csgraph only when stored; shift them by a hair.
            values = np.maximum(values, 1e-12)  # csgraph drops zero weights: keep a hair
            matrix = _least_parallel(self.link_a[keep], self.link_b[keep], values, self.n_vertices)
            found = np.asarray(dijkstra(matrix, directed=False))
            found[found < 1e-6] = 0.0  # the hairs, not latency
            self._distances[key] = found
        return found

    def best_path(
        self, source: int, target: int, min_bandwidth_mbps: float, weight: str
    ) -> tuple[tuple[int, ...], tuple[int, ...], Figures] | None:
        """Least-``weight`` path (``latency`` or ``cost``) over admitted links; None if none.

        Returns:
            (links, vertices, (latency, bottleneck, cost per GB)) of the path.
        """
        allowed = self.admitted(min_bandwidth_mbps)
        values = self.latency_ms if weight == "latency" else self.cost_per_gb
        best = {source: (0.0, -1, -1)}
        queue = [(0.0, source)]
        done: set[int] = set()
        while queue:
            dist, u = heapq.heappop(queue)
            if u in done:
                continue
            done.add(u)
            if u == target:
                break
            for v, link in self._adjacent[u]:
                if allowed[link] and v not in done:
                    d = dist + float(values[link])
                    if v not in best or d < best[v][0]:
                        best[v] = (d, u, link)
                        heapq.heappush(queue, (d, v))
        if target not in done:
            return None
        links, vertices = [], [target]
        at = target
        while at != source:
            _, parent, link = best[at]
            links.append(link)
            vertices.append(parent)
            at = parent
        return tuple(reversed(links)), tuple(reversed(vertices)), self.figures(tuple(links))

    def figures(self, links: tuple[int, ...]) -> Figures:
        """(one-way latency, residual bottleneck, cost per GB) of a path's links."""
        if not links:
            return 0.0, math.inf, 0.0
        at = list(links)
        return (
            float(self.latency_ms[at].sum()),
            float(self.residual_mbps[at].min()),
            float(self.cost_per_gb[at].sum()),
        )

    def enumerate_paths(
        self,
        source: int,
        target: int,
        *,
        min_bandwidth_mbps: float,
        data_mbit: float,
        data_gb: float,
        network_allowance_ms: float,
        price_allowance: float,
        max_paths: int = MAX_PATHS_PER_PAIR,
        max_steps: int = MAX_STEPS_PER_PAIR,
    ) -> PathSet:
        """Every simple path ``source -> target`` over admitted links that could meet both.

        A path meets the allowances when ``2 x latency + data_mbit / bottleneck x 1000`` is at
        most ``network_allowance_ms`` and ``cost_per_gb x data_gb`` at most
        ``price_allowance`` (both with a 1e-9 slack).
        """
        found = PathSet()
        if network_allowance_ms < -_SLACK or price_allowance < -_SLACK:
            return found
        if source == target:  # a simple path never returns: the ingress site is reached once
            found.add((), (source,), (0.0, math.inf, 0.0))
            return found
        if not np.isfinite(self.distances(min_bandwidth_mbps, "latency")[target, source]):
            return found
        limits = (network_allowance_ms + _SLACK, price_allowance + _SLACK, max_paths, max_steps)
        self._search(
            found, (source, target), min_bandwidth_mbps, data=(data_mbit, data_gb), limits=limits
        )
        return found

    def _search(
        self,
        found: PathSet,
        ends: tuple[int, int],
        min_bandwidth_mbps: float,
        *,
        data: tuple[float, float],
        limits: tuple[float, float, int, int],
    ) -> None:
        """The depth-first listing of ``enumerate_paths`` into ``found``."""
        (source, target), (data_mbit, data_gb) = ends, data
        net_limit, price_limit, max_paths, max_steps = limits
        to_go = self.distances(min_bandwidth_mbps, "latency")[target]
        to_pay = self.distances(min_bandwidth_mbps, "cost")[target]
        allowed = self.admitted(min_bandwidth_mbps)
        visited = np.zeros(self.n_vertices, dtype=bool)
        visited[source] = True
        links: list[int] = []
        vertices = [source]
        steps = 0
        # Iterative depth-first search: a stack of (vertex, next neighbour position, figures).
        stack: list[tuple[int, int, float, float, float]] = [(source, 0, 0.0, math.inf, 0.0)]
        while stack:
            u, position, latency, bottleneck, price = stack[-1]
            adjacent = self._adjacent[u]
            if position >= len(adjacent):
                stack.pop()
                visited[u] = False
                vertices.pop()
                if links:
                    links.pop()
                continue
            stack[-1] = (u, position + 1, latency, bottleneck, price)
            v, link = adjacent[position]
            if visited[v] or not allowed[link]:
                continue
            steps += 1
            if steps > max_steps:
                found.complete = False
                break
            lat = latency + float(self.latency_ms[link])
            neck = min(bottleneck, float(self.residual_mbps[link]))
            cost = price + float(self.cost_per_gb[link])
            transfer = data_mbit / neck * 1000.0 if data_mbit > 0 else 0.0
            if 2.0 * (lat + to_go[v]) + transfer > net_limit:
                continue
            if data_gb > 0 and (cost + to_pay[v]) * data_gb > price_limit:
                continue
            if v == target:
                found.add((*links, link), (*vertices, v), (lat, neck, cost))
                if len(found) >= max_paths:
                    found.complete = False
                    break
                continue
            visited[v] = True
            links.append(link)
            vertices.append(v)
            stack.append((v, 0, lat, neck, cost))


def _least_parallel(tails: IntArray, heads: IntArray, values: FloatArray, n: int) -> csr_array:
    """(V, V) CSR of the least value among the parallel links of each pair, both directions."""
    tails, heads = np.r_[tails, heads], np.r_[heads, tails]
    both = np.r_[values, values]
    key = tails * n + heads
    order = np.lexsort((both, key))
    first = np.ones(order.size, dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    chosen = order[first]
    return csr_array(coo_array((both[chosen], (tails[chosen], heads[chosen])), shape=(n, n)))
