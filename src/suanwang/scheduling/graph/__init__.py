"""Decomposition: placing a task graph (a DAG of stages) over cloud, edge and end.

``place_graph(graph, state)`` is the online path: a network-aware HEFT list scheduler over a
cost model of prefiltered candidate nodes (``costs``), the budgets checked, the stages' room
held in the ledger. ``solve_exact`` is the optimum of the same cost model by MILP, for small
graphs, against which the heuristic's gap is measured (``benchmarks/bench_graph.py``).
Along-path stages (``alongpath``), stages that read datasets (``datalocal``), aggregation in the
network (``innetwork``) and the single-site baseline (``singlesite``) build on them.
"""

from suanwang.scheduling.graph.alongpath import AlongPathReport, CloudPath, cloud_path
from suanwang.scheduling.graph.costs import GraphCosts, GraphPlacementError, graph_costs
from suanwang.scheduling.graph.exact import ExactResult, solve_exact
from suanwang.scheduling.graph.innetwork import InNetworkPlan, StagePlace, in_network_plan
from suanwang.scheduling.graph.list_scheduler import (
    heft,
    list_schedule,
    optimistic_costs,
    upward_ranks,
)
from suanwang.scheduling.graph.place import (
    CANDIDATES_PER_STAGE,
    GraphPlacement,
    GraphRefusedError,
    place_graph,
    release_graph,
    stage_task_id,
)
from suanwang.scheduling.graph.singlesite import single_site_schedule
from suanwang.scheduling.graph.timing import GraphSchedule, evaluate

__all__ = [
    "CANDIDATES_PER_STAGE",
    "AlongPathReport",
    "CloudPath",
    "ExactResult",
    "GraphCosts",
    "GraphPlacement",
    "GraphPlacementError",
    "GraphRefusedError",
    "GraphSchedule",
    "InNetworkPlan",
    "StagePlace",
    "cloud_path",
    "evaluate",
    "graph_costs",
    "heft",
    "in_network_plan",
    "list_schedule",
    "optimistic_costs",
    "place_graph",
    "release_graph",
    "single_site_schedule",
    "solve_exact",
    "stage_task_id",
    "upward_ranks",
]
