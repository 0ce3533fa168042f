"""The Route point: latency-shortest paths from the ingress over links with enough bandwidth."""

from __future__ import annotations

import numpy as np

from suanwang.model import Topology
from suanwang.routing.graph import routing_graph
from suanwang.routing.shortest import ShortestPaths, distances_from
from suanwang.scheduling.cycle import Cycle, required_bandwidth_mbps
from suanwang.scheduling.framework import ChosenPath, FloatArray, RouteResult


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

    def _paths(self, cycle: Cycle) -> ShortestPaths:
        paths = cycle.scratch.get(self.name)
        if isinstance(paths, ShortestPaths):
            return paths
        spec = cycle.spec
        paths = distances_from(
            self._graph,
            spec.ingress_site or "",
            residual_bandwidth_mbps=cycle.state.reservations.residual_mbps(),
            min_bandwidth_mbps=required_bandwidth_mbps(spec),
        )
        cycle.scratch[self.name] = paths
        return paths

    def route(self, cycle: Cycle) -> RouteResult:
        """Per-node latency, bottleneck, hops and path transfer price."""
        paths = self._paths(cycle)
        at = self._graph.node_vertex
        return RouteResult(
            latency_ms=paths.latency_ms[0, at],
            bottleneck_mbps=paths.bottleneck_mbps[0, at],
            hops=paths.hops[0, at].astype(np.float64),
            cost_per_gb=self._path_cost(paths)[at],
        )

    def _path_cost(self, paths: ShortestPaths) -> FloatArray:
        """Sum of cost_per_gb along each vertex's path: one numpy step per hop level."""
        hops, predecessors, links = paths.hops[0], paths.predecessors[0], paths.predecessor_links[0]
        cost = np.where(hops >= 0, 0.0, np.inf)
        for level in range(1, int(hops.max(initial=0)) + 1):
            at = np.flatnonzero(hops == level)
            cost[at] = cost[predecessors[at]] + self._link_cost[links[at]]
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
        if need > 0:
            return (
                f"no path from {cycle.spec.ingress_site} to {site} whose every link has "
                f"{need:.1f} Mbps free"
            )
        return f"no path from {cycle.spec.ingress_site} to {site}"
