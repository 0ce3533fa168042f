"""Filters that need the route: latency budget, deadline, bandwidth on the path, price budget."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from suanwang.scheduling.cycle import Cycle, required_bandwidth_mbps
from suanwang.scheduling.framework import BoolArray, Stage


class LatencyBudget:
    """Estimated end-to-end time (network + queueing + compute) must fit the budget/deadline."""

    name = "latency-budget"
    stage: ClassVar[Stage] = Stage.POST_ROUTE

    def filter(self, cycle: Cycle) -> BoolArray:
        """Nodes whose estimate meets the latency budget and the deadline."""
        spec = cycle.spec
        total = cycle.total_ms()
        fits = np.isfinite(total)
        if spec.latency_budget_ms is not None:
            fits &= total <= spec.latency_budget_ms
        if spec.deadline_s is not None:
            fits &= total <= spec.deadline_s * 1000.0
        return fits

    def explain(self, cycle: Cycle, node: int) -> str:
        """The estimate, split, against the limit."""
        spec = cycle.spec
        limit = min(
            spec.latency_budget_ms if spec.latency_budget_ms is not None else np.inf,
            spec.deadline_s * 1000.0 if spec.deadline_s is not None else np.inf,
        )
        return (
            f"estimated {cycle.total_ms()[node]:.1f} ms (network {cycle.network_ms()[node]:.1f}"
            f" + queueing {cycle.queueing_ms()[node]:.1f} + compute "
            f"{cycle.compute_ms()[node]:.1f}) exceeds {limit:g} ms"
        )


class PathBandwidth:
    """Every link of the path must have the residual bandwidth the task reserves."""

    name = "path-bandwidth"
    stage: ClassVar[Stage] = Stage.POST_ROUTE

    def filter(self, cycle: Cycle) -> BoolArray:
        """Nodes whose path's bottleneck carries the task's bandwidth."""
        assert cycle.route is not None  # post-route stage
        need = required_bandwidth_mbps(cycle.spec)
        return cycle.route.bottleneck_mbps >= need - 1e-9

    def explain(self, cycle: Cycle, node: int) -> str:
        """The bottleneck against the need."""
        assert cycle.route is not None
        return (
            f"path bottleneck {cycle.route.bottleneck_mbps[node]:.1f} Mbps is below the "
            f"{required_bandwidth_mbps(cycle.spec):.1f} Mbps the task needs"
        )


class PriceBudget:
    """The estimated price must not exceed the task's budget."""

    name = "price-budget"
    stage: ClassVar[Stage] = Stage.POST_ROUTE

    def filter(self, cycle: Cycle) -> BoolArray:
        """Nodes within budget (all, when the task states none)."""
        budget = cycle.spec.budget
        cost = cycle.cost()
        return np.ones(len(cost), dtype=bool) if budget is None else cost <= budget

    def explain(self, cycle: Cycle, node: int) -> str:
        """The price against the budget."""
        return f"estimated price {cycle.cost()[node]:.4g} exceeds the budget {cycle.spec.budget:g}"
