"""Batch placement: many pending tasks at once, and the optimum to measure it against.

* ``draw_batch(workload, tasks, seed)`` - a seeded batch of requests from a scenario's workload;
* ``place_batch(profile, state, requests)`` - min-cost flow over task classes (OR-Tools),
  bound through the reservation ledger, leftovers repaired by the online scheduler;
* ``place_windowed(profile, state, requests)`` - consecutive windows of arrivals, each placed
  by ``place_batch`` on what the earlier ones left;
* ``improve_placements(scheduler, requests, placements)`` - the bounded local-improvement pass
  both run last: insertion, then ejection moves that meet strictly more SLAs;
* ``solve_optimum(state, requests)`` - the true optimum over every simple path (column
  generation on HiGHS): most tasks within SLA, then least price, proven or with a bound;
* ``evaluate(topology, requests, placements)`` - SLA satisfaction, latency, cost, carbon;
* ``compare_profiles(topology, requests)`` - every profile online, the flow and the optimum;
* ``instances.generate_instance(seed)`` - seeded instances for quality benchmarks.
"""

from suanwang.scheduling.batch.compare import (
    PlanComparison,
    PlanRow,
    compare_profiles,
    describe,
    headline,
    place_online,
)
from suanwang.scheduling.batch.evaluate import BatchMetrics, SlaCheck, evaluate
from suanwang.scheduling.batch.flow import BatchPlan, FlowOptions, FlowStats, place_batch
from suanwang.scheduling.batch.improve import ImproveOptions, ImproveStats, improve_placements
from suanwang.scheduling.batch.milp import SLA_FILTERS, OptimumResult, solve_optimum
from suanwang.scheduling.batch.requests import (
    BatchError,
    TaskClassGroup,
    draw_batch,
    group_classes,
    mean_rate_per_s,
)
from suanwang.scheduling.batch.windowed import forecast_of, place_windowed

__all__ = [
    "SLA_FILTERS",
    "BatchError",
    "BatchMetrics",
    "BatchPlan",
    "FlowOptions",
    "FlowStats",
    "ImproveOptions",
    "ImproveStats",
    "OptimumResult",
    "PlanComparison",
    "PlanRow",
    "SlaCheck",
    "TaskClassGroup",
    "compare_profiles",
    "describe",
    "draw_batch",
    "evaluate",
    "forecast_of",
    "group_classes",
    "headline",
    "improve_placements",
    "mean_rate_per_s",
    "place_batch",
    "place_online",
    "place_windowed",
    "solve_optimum",
]
