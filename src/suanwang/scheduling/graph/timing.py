"""The timing of a graph placement under its cost model: start, finish, makespan, traffic.

``evaluate`` gives the earliest times of an assignment of stages to nodes under the model of
``costs``: a stage starts when its input from the ingress (entry stages) and the data of every
parent have arrived (the parent's finish + ``comm_ms`` between their sites), and runs for its
``compute_ms``; stages hold their own share of a node, so nothing else delays them. The makespan,
the graph's end-to-end latency, is the last arrival of an exit stage's result at the ingress.
The list scheduler and the MILP are both judged by it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanwang.model.graph import TaskGraph
from suanwang.scheduling.graph.costs import FloatArray, GraphCosts, IntArray


@dataclass(frozen=True, eq=False)
class GraphSchedule:
    """Where each stage runs and when, under one cost model.

    Attributes:
        position: Per stage, its node's position in ``GraphCosts.nodes``.
        start_ms: Per stage, its start after the request leaves the ingress.
        finish_ms: Per stage, the end of its compute.
        makespan_ms: End-to-end latency: the last exit stage's result back at the ingress.
        traffic_mb_hops: Data moved times the links it crossed (ingress input and results
            included).
        wan_mb: Data that left a site (MB carried by at least one link).
        cost: Price of the stages' compute.
    """

    position: IntArray
    start_ms: FloatArray
    finish_ms: FloatArray
    makespan_ms: float
    traffic_mb_hops: float
    wan_mb: float
    cost: float


def evaluate(graph: TaskGraph, costs: GraphCosts, position: npt.ArrayLike) -> GraphSchedule:
    """Earliest start and finish of every stage with stage ``s`` on ``position[s]``.

    Raises:
        ValueError: ``position`` does not give one node per stage.
    """
    where = np.asarray(position, dtype=np.intp)
    if where.shape != (len(graph.stages),):
        raise ValueError(f"position needs one entry per stage, got shape {where.shape}")
    site = costs.node_site[where]
    latency, per_mb, hops, ingress = costs.latency_ms, costs.ms_per_mb, costs.hops, costs.ingress
    start = np.zeros(len(graph.stages))
    finish = np.zeros(len(graph.stages))
    entries, exits = set(graph.entries), graph.exits
    traffic = wan = 0.0
    for s in graph.order:
        ready = 0.0
        if s in entries:
            ready = _comm(latency, per_mb, ingress, int(site[s]), float(costs.input_mb[s]))
            traffic, wan = _moved(traffic, wan, costs.input_mb[s], int(hops[ingress, site[s]]))
        for k in graph.parents[s]:
            u = graph.ends[k][0]
            data = float(costs.edge_data_mb[k])
            arrival = finish[u] + _comm(latency, per_mb, int(site[u]), int(site[s]), data)
            ready = max(ready, arrival)
            traffic, wan = _moved(traffic, wan, data, int(hops[site[u], site[s]]))
        start[s] = ready
        finish[s] = ready + costs.compute_ms[s, where[s]]
    makespan = 0.0
    for s in exits:
        result = float(costs.result_mb[s])
        back = finish[s] + _comm(latency, per_mb, int(site[s]), ingress, result)
        makespan = max(makespan, back)
        traffic, wan = _moved(traffic, wan, result, int(hops[site[s], ingress]))
    cost = float(costs.cost[np.arange(where.size), where].sum())
    return GraphSchedule(where, start, finish, float(makespan), traffic, wan, cost)


def _comm(latency: FloatArray, per_mb: FloatArray, a: int, b: int, data_mb: float) -> float:
    value = float(latency[a, b])
    return value + data_mb * float(per_mb[a, b]) if data_mb > 0 else value


def _moved(traffic: float, wan: float, data_mb: float, links: int) -> tuple[float, float]:
    """Traffic and WAN data with ``data_mb`` more carried over ``links`` links."""
    if data_mb <= 0 or links <= 0:
        return traffic, wan
    return traffic + float(data_mb) * links, wan + float(data_mb)
