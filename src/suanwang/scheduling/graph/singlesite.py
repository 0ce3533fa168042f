"""The single-site placement of a task graph: every stage at one site, the best such site.

The baseline decomposition is measured against (算力解构 versus one data centre): for each site
whose nodes in the cost model can run every stage, the list scheduler places the graph with
each stage kept to that site's nodes (``list_schedule`` on the restricted model, capacity
included); the site of least makespan (then least traffic) is kept.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from suanwang.model.graph import TaskGraph
from suanwang.scheduling.graph.costs import GraphCosts, GraphPlacementError
from suanwang.scheduling.graph.list_scheduler import list_schedule
from suanwang.scheduling.graph.timing import GraphSchedule


def single_site_schedule(
    graph: TaskGraph, costs: GraphCosts, traffic_weight: float = 0.0
) -> GraphSchedule:
    """The best schedule of ``graph`` with all its stages at one site of ``costs``.

    Raises:
        GraphPlacementError: No one site can run every stage (the message says so).
    """
    best: GraphSchedule | None = None
    for row in np.unique(costs.node_site).tolist():
        at_site = costs.node_site == row
        candidates = tuple(c[at_site[c]] for c in costs.candidates)
        if any(c.size == 0 for c in candidates):
            continue
        compute = np.where(at_site[None, :], costs.compute_ms, np.inf)
        restricted = dataclasses.replace(costs, compute_ms=compute, candidates=candidates)
        try:
            schedule = list_schedule(graph, restricted, traffic_weight)
        except GraphPlacementError:
            continue  # the site's room does not hold every stage at once
        key = (schedule.makespan_ms, schedule.traffic_mb_hops)
        if best is None or key < (best.makespan_ms, best.traffic_mb_hops):
            best = schedule
    if best is None:
        raise GraphPlacementError(
            f"graph {graph.id!r}: no single site can run every stage (devices or room)"
        )
    return best
