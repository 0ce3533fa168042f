"""Path algorithms over the topology: pure functions of records and arrays, no I/O.

Layer (DESIGN.md §3): imports ``suanwang.model`` only. Everything the scheduler needs in its hot
path is vectorised over vertices and cached per topology version:

* ``routing_graph(topology)`` - the graph of a topology version (scipy CSR), cached by version;
* ``distances_from(graph, sources, residual_bandwidth_mbps=..., min_bandwidth_mbps=...)`` -
  latency-shortest paths from ingress vertices (Dijkstra), links below the needed bandwidth
  pruned, with hops and bottleneck bandwidth to every vertex; ``.path(vertex)`` materialises one;
* ``widest_path`` and ``k_shortest_paths`` - alternatives (the latter on small graphs only);
* ``network_time_ms`` - propagation round trip plus transfer time at the bottleneck.
"""

from suanwang.routing.constrained import MAX_K_SHORTEST_VERTICES, k_shortest_paths, widest_path
from suanwang.routing.graph import (
    GRAPH_CACHE_SIZE,
    EdgeSet,
    RoutingGraph,
    VertexRef,
    clear_graph_cache,
    routing_graph,
)
from suanwang.routing.paths import NoPathError, Path
from suanwang.routing.shortest import ShortestPaths, distances_from, latency_between
from suanwang.routing.timing import BITS_PER_BYTE, network_time_ms, transfer_time_ms

__all__ = [
    "BITS_PER_BYTE",
    "GRAPH_CACHE_SIZE",
    "MAX_K_SHORTEST_VERTICES",
    "EdgeSet",
    "NoPathError",
    "Path",
    "RoutingGraph",
    "ShortestPaths",
    "VertexRef",
    "clear_graph_cache",
    "distances_from",
    "k_shortest_paths",
    "latency_between",
    "network_time_ms",
    "routing_graph",
    "transfer_time_ms",
    "widest_path",
]
