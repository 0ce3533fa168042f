"""The Route point: latency-shortest paths from the ingress over links with enough bandwidth."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from suanwang.model import Topology
from suanwang.routing.graph import routing_graph
from suanwang.routing.shortest import ShortestPaths, distances_from
from suanwang.scheduling.cycle import Cycle, required_bandwidth_mbps
from suanwang.scheduling.framework import ChosenPath, FloatArray, RouteResult

_COST_CELLS = 4_000_000
"""Path-cost arrays kept, in vertices (32 MB of float64): one array per ingress tree."""
_QUERIES_KEPT = 256
"""Shortest-path answers kept per link state: one per (ingress, bandwidth needed)."""


class LatencyShortest:
    """Latency-shortest path from the ingress site to each node's site (CATS C-PS).

    Links whose residual bandwidth is below what the task reserves are pruned first, so a
    congested link is routed around rather than over-committed; the shortest-path trees are
    cached per (ingress, admitted links) on the routing graph. That graph weighs each link by
    the latency the state routes on (``ClusterState.routing_graph``: measured where the state
    feed set it, else configured); when the state's ``latency_version`` moves, the plugin
    takes the new graph and forgets every answer kept from the old one.

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
        # Answers of distances_from by (ingress, bandwidth needed), and what is derived from
        # one answer (materialised paths by vertex, route figures when every node survives),
        # kept while ``_link_state`` holds: they depend on the residual bandwidth and the down
        # links only, which most decisions leave unchanged. Derived entries are keyed by the
        # answer's id and hold the answer, checked by identity: a cycle's scratch may hold an
        # answer no longer kept, whose id could be reused.
        self._link_state: tuple[object, ...] = ()
        self._queries: dict[tuple[str, float], ShortestPaths] = {}
        self._chosen: dict[tuple[int, int], tuple[ShortestPaths, ChosenPath]] = {}
        self._routes: dict[tuple[int, bool], tuple[ShortestPaths, RouteResult]] = {}
        # Shared-link rates by (answer, flow counts, bandwidth the task reserves), kept likewise.
        self._rates: dict[tuple[int, int, float], tuple[ShortestPaths, FloatArray]] = {}

    def _paths(self, cycle: Cycle) -> ShortestPaths:
        paths = cycle.scratch.get(self.name)
        if isinstance(paths, ShortestPaths):
            return paths
        graph = cycle.state.routing_graph()
        if graph is not self._graph:
            # New latencies: trees, answers and path prices of the old graph no longer hold.
            self._graph = graph
            self._costs.clear()
            self._link_state = ()
        spec = cycle.spec
        ingress, need = spec.ingress_site or "", required_bandwidth_mbps(spec)
        # The unpruned tree is cached per ingress. When its paths to every surviving node
        # already carry the bandwidth, they are also the shortest among the links that would
        # survive pruning, so the pruned search (a fresh Dijkstra whenever link fill changes)
        # is needed only when some surviving node's path falls short.
        paths = self._query(cycle, ingress, 0.0)
        if need > 0:
            bottleneck = paths.bottleneck_mbps[0, self._graph.node_vertex[cycle.alive_index()]]
            if (bottleneck < need).any():
                paths = self._query(cycle, ingress, need)
        cycle.scratch[self.name] = paths
        return paths

    def _query(self, cycle: Cycle, ingress: str, need: float) -> ShortestPaths:
        """``distances_from`` the ingress over the residual bandwidth, kept per link state."""
        state = cycle.state
        ledger = state.reservations
        # The state and ledger are told apart by identity (a cycle may read another state, e.g.
        # one with a frozen copy of the ledger), then by the versions that change with link
        # fill and link marks.
        kept = self._link_state
        versions = (ledger.link_version, state.link_marks)
        if not kept or kept[0] is not state or kept[1] is not ledger or kept[2] != versions:
            self._link_state = (state, ledger, versions)
            self._forget()
        elif max(len(self._queries), len(self._chosen), len(self._routes)) >= _QUERIES_KEPT:
            self._forget()
        key = (ingress, need)
        paths = self._queries.get(key)
        if paths is None:
            paths = self._queries[key] = distances_from(
                self._graph,
                ingress,
                residual_bandwidth_mbps=ledger.residual_mbps(),
                min_bandwidth_mbps=need,
                excluded_links=state.down_links(),
            )
        return paths

    def _forget(self) -> None:
        self._queries.clear()
        self._chosen.clear()
        self._routes.clear()
        self._rates.clear()

    def route(self, cycle: Cycle) -> RouteResult:
        """Latency, bottleneck, hops and path transfer price of the surviving nodes.

        Nodes already turned away get latency ``inf`` (they are not looked at again). The
        arrays are read-only (they may be shared with other cycles).
        """
        paths = self._paths(cycle)
        with_data = cycle.spec.data_in_mb + cycle.spec.data_out_mb > 0
        result = self._route_of(cycle, paths, with_data)
        if not with_data or cycle.state.reservations.flow_version == 0:
            return result
        return replace(result, rate_mbps=self._shared_rate(cycle, paths))

    def _shared_rate(self, cycle: Cycle, paths: ShortestPaths) -> FloatArray:
        """Per node, the rate the task's data would move at along its path (links shared)."""
        ledger = cycle.state.reservations
        need = required_bandwidth_mbps(cycle.spec)
        key = (id(paths), ledger.flow_version, need)
        kept = self._rates.get(key)
        if kept is not None and kept[0] is paths:
            return kept[1]
        if len(self._rates) >= _QUERIES_KEPT:
            self._rates.clear()
        rate: FloatArray = paths.path_minimum(ledger.shared_rate_mbps(need))[
            0, self._graph.node_vertex
        ]
        rate.flags.writeable = False
        self._rates[key] = (paths, rate)
        return rate

    def _route_of(self, cycle: Cycle, paths: ShortestPaths, with_data: bool) -> RouteResult:
        at = cycle.alive_index()
        if at.size == len(cycle.alive):
            return self._route_everyone(paths, with_data)
        vertex = self._graph.node_vertex[at]
        n = len(cycle.alive)
        latency, bottleneck = np.full(n, np.inf), np.zeros(n)
        hops, cost = np.full(n, -1.0), np.full(n, np.inf)
        latency[at] = paths.latency_ms[0, vertex]
        bottleneck[at] = paths.bottleneck_mbps[0, vertex]
        hops[at] = paths.hops[0, vertex]
        if with_data:
            cost[at] = self._path_cost(paths)[vertex]
        else:
            cost[at] = 0.0  # nothing to transfer: the path's price does not matter
        return _readonly_route(latency, bottleneck, hops, cost)

    def _route_everyone(self, paths: ShortestPaths, with_data: bool) -> RouteResult:
        """``route`` when every node survives: the same figures for every such cycle."""
        key = (id(paths), with_data)
        kept = self._routes.get(key)
        if kept is not None and kept[0] is paths:
            return kept[1]
        vertex = self._graph.node_vertex
        # With nothing to transfer, the path's price does not matter.
        cost = self._path_cost(paths)[vertex] if with_data else np.zeros(len(vertex))
        result = _readonly_route(
            paths.latency_ms[0, vertex],
            paths.bottleneck_mbps[0, vertex],
            paths.hops[0, vertex].astype(np.float64),
            cost,
        )
        self._routes[key] = (paths, result)
        return result

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
        paths = self._paths(cycle)
        vertex = int(self._graph.node_vertex[node])
        key = (id(paths), vertex)
        kept = self._chosen.get(key)
        if kept is not None and kept[0] is paths:
            return kept[1]
        path = paths.path(vertex)
        chosen = ChosenPath(
            vertices=path.vertices,
            segments=path.segments,
            link_indexes=tuple(self._link_index[link] for link in path.segments),
        )
        self._chosen[key] = (paths, chosen)
        return chosen

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


def _readonly_route(
    latency: FloatArray, bottleneck: FloatArray, hops: FloatArray, cost: FloatArray
) -> RouteResult:
    for array in (latency, bottleneck, hops, cost):
        array.flags.writeable = False
    return RouteResult(latency, bottleneck, hops, cost)
