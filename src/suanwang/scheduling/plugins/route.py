"""The Route point: latency-shortest paths from the ingress over links with enough bandwidth."""

from __future__ import annotations

import numpy as np

from suanwang.model import Topology
from suanwang.routing.graph import routing_graph
from suanwang.routing.shortest import ShortestPaths, distances_from
from suanwang.scheduling.cycle import Cycle, required_bandwidth_mbps
from suanwang.scheduling.framework import ChosenPath, FloatArray, RouteResult

_COST_CELLS = 4_000_000
"""Path-cost arrays kept, in vertices (32 MB of float64): one array per ingress tree."""


class LatencyShortest:
    """Latency-shortest path from the ingress site to each node's site (CATS C-PS).

    Links whose residual bandwidth is below what the task reserves are pruned first, so a
    congested link is routed around rather than over-committed; the shortest-path trees are
    cached per (ingress, admitted links) on the topology's routing graph.

    Args:
        topology: The topology whose routing graph to use.
    """

    name = "latency-shortest"

    def __init__(self, topology: Topology) -> None:
        self._graph = routing_graph(topology)
        self._link_index = {link_id: i for i, link_id in enumerate(self._graph.link_ids)}
        self._link_cost = topology.arrays.link_cost_per_gb
        self._costs: dict[int, tuple[object, FloatArray]] = {}
        self._trees_kept = max(64, _COST_CELLS // max(1, self._graph.n_vertices))

    def _paths(self, cycle: Cycle) -> ShortestPaths:
        paths = cycle.scratch.get(self.name)
        if isinstance(paths, ShortestPaths):
            return paths
        spec = cycle.spec
        ingress, need = spec.ingress_site or "", required_bandwidth_mbps(spec)
        residual = cycle.state.reservations.residual_mbps()
        # The unpruned tree is cached per ingress. When its paths to every surviving node
        # already carry the bandwidth, they are also the shortest among the links that would
        # survive pruning, so the pruned search (a fresh Dijkstra whenever link fill changes)
        # is needed only when some surviving node's path falls short.
        down = cycle.state.down_links()
        paths = distances_from(
            self._graph, ingress, residual_bandwidth_mbps=residual, excluded_links=down
        )
        if need > 0:
            bottleneck = paths.bottleneck_mbps[0, self._graph.node_vertex[cycle.alive_index()]]
            if (bottleneck < need).any():
                paths = distances_from(
                    self._graph,
                    ingress,
                    residual_bandwidth_mbps=residual,
                    min_bandwidth_mbps=need,
                    excluded_links=down,
                )
        cycle.scratch[self.name] = paths
        return paths

    def route(self, cycle: Cycle) -> RouteResult:
        """Latency, bottleneck, hops and path transfer price of the surviving nodes.

        Nodes already turned away get latency ``inf`` (they are not looked at again).
        """
        paths = self._paths(cycle)
        at = cycle.alive_index()
        vertex = self._graph.node_vertex[at]
        n = len(cycle.alive)
        latency, bottleneck = np.full(n, np.inf), np.zeros(n)
        hops, cost = np.full(n, -1.0), np.full(n, np.inf)
        latency[at] = paths.latency_ms[0, vertex]
        bottleneck[at] = paths.bottleneck_mbps[0, vertex]
        hops[at] = paths.hops[0, vertex]
        if cycle.spec.data_in_mb + cycle.spec.data_out_mb > 0:
            cost[at] = self._path_cost(paths)[vertex]
        else:
            cost[at] = 0.0  # nothing to transfer: the path's price does not matter
        return RouteResult(latency, bottleneck, hops, cost)

    def _path_cost(self, paths: ShortestPaths) -> FloatArray:
        """Sum of cost_per_gb along each vertex's path, once per shortest-path tree.

        Trees are cached by the routing graph and handed out as views, so the tree's own
        predecessor array identifies it; it is held in the cache entry to keep the id valid.
        """
        tree_array = (
            paths.predecessors.base if paths.predecessors.base is not None else paths.predecessors
        )
        cached = self._costs.get(id(tree_array))
        if cached is not None and cached[0] is tree_array:
            return cached[1]
        hops, predecessors, links = paths.hops[0], paths.predecessors[0], paths.predecessor_links[0]
        cost = np.where(hops >= 0, 0.0, np.inf)
        for level in range(1, int(hops.max(initial=0)) + 1):
            step = np.flatnonzero(hops == level)
            cost[step] = cost[predecessors[step]] + self._link_cost[links[step]]
        if len(self._costs) >= self._trees_kept:
            self._costs.clear()
        self._costs[id(tree_array)] = (tree_array, cost)
        return cost

    def path(self, cycle: Cycle, node: int) -> ChosenPath:
        """The materialised path to ``node``'s site."""
        path = self._paths(cycle).path(int(self._graph.node_vertex[node]))
        return ChosenPath(
            vertices=path.vertices,
            segments=path.segments,
            link_indexes=tuple(self._link_index[link] for link in path.segments),
        )

    def explain(self, cycle: Cycle, node: int) -> str:
        """Why the node's site cannot be reached."""
        need = required_bandwidth_mbps(cycle.spec)
        site = cycle.state.arrays.vertex_ids[int(self._graph.node_vertex[node])]
        down = "" if cycle.state.down_links() is None else " (some links are down)"
        if need > 0:
            return (
                f"no path from {cycle.spec.ingress_site} to {site} whose every link has "
                f"{need:.1f} Mbps free{down}"
            )
        return f"no path from {cycle.spec.ingress_site} to {site}{down}"
