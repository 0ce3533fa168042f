"""Filters that need the route: latency budget, deadline, bandwidth on the path, price budget."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from suanwang.model import Topology
from suanwang.routing.graph import RoutingGraph, routing_graph
from suanwang.routing.shortest import distances_from
from suanwang.scheduling.cycle import Cycle, required_bandwidth_mbps
from suanwang.scheduling.framework import BoolArray, FloatArray, IntArray, Miss, Stage


def _one_kind(label: str, unit: str, short_by: FloatArray) -> Miss:
    """The ``Miss`` of a filter with one way to fall short."""
    return Miss((label,), (unit,), np.zeros(len(short_by), dtype=np.intp), short_by)


class LatencyBudget:
    """Estimated end-to-end time (network + queueing + compute + fixed) must fit the limits."""

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
        fixed = f" + fixed {spec.fixed_latency_ms:.1f}" if spec.fixed_latency_ms else ""
        return (
            f"estimated {cycle.total_ms()[node]:.1f} ms (network {cycle.network_ms()[node]:.1f}"
            f" + queueing {cycle.queueing_ms()[node]:.1f} + compute "
            f"{cycle.compute_ms()[node]:.1f}{fixed}) exceeds {limit:g} ms"
        )

    def miss(self, cycle: Cycle, nodes: IntArray) -> Miss:
        """Milliseconds of the estimate over the limit."""
        over = cycle.total_ms()[nodes] - LatencyBound._limit_ms(cycle)
        return _one_kind("estimate over the limit", "ms", over)


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

    def miss(self, cycle: Cycle, nodes: IntArray) -> Miss:
        """Bandwidth the path's bottleneck lacks."""
        assert cycle.route is not None
        lacking = required_bandwidth_mbps(cycle.spec) - cycle.route.bottleneck_mbps[nodes]
        return _one_kind("bandwidth on the path", "Mbps", lacking)


class PriceBudget:
    """The estimated price must not exceed the task's budget."""

    name = "price-budget"
    stage: ClassVar[Stage] = Stage.POST_ROUTE

    def filter(self, cycle: Cycle) -> BoolArray:
        """Nodes within budget (all, when the task states none)."""
        budget = cycle.spec.budget
        return cycle.state.everyone() if budget is None else cycle.cost() <= budget

    def explain(self, cycle: Cycle, node: int) -> str:
        """The price against the budget."""
        return f"estimated price {cycle.cost()[node]:.4g} exceeds the budget {cycle.spec.budget:g}"

    def miss(self, cycle: Cycle, nodes: IntArray) -> Miss:
        """Price over the budget."""
        over = cycle.cost()[nodes] - (cycle.spec.budget or 0.0)
        return _one_kind("price over the budget", "", over)


class LatencyBound:
    """Turns away, before any routing, nodes that cannot meet the limit even on an idle network.

    The best case of a node is twice the unpruned one-way latency from the ingress plus the
    compute time plus the task's fixed latency (spent outside the network and the node whatever
    the node). Queueing and transfer are never negative and pruning only lengthens paths, so
    a node whose best case exceeds the latency budget (or deadline) would fail ``latency-budget``
    anyway: this filter never turns away a node that could have passed, it only does so early and
    cheaply. It reads the same graph as the Route point (``ClusterState.routing_graph``:
    measured latencies where the state feed set them), so the bound holds for the latencies
    routed on; its masks depend on that graph alone, so they are kept per (ingress, demand
    shape, work, fixed latency, limit) and dropped when the graph changes.

    Args:
        topology: The topology whose routing graph gives the unpruned latencies.
    """

    name = "latency-bound"
    stage: ClassVar[Stage] = Stage.PRE_ROUTE
    _MASKS_KEPT = 2048

    def __init__(self, topology: Topology) -> None:
        self._graph = routing_graph(topology)
        self._masks: dict[tuple[object, ...], BoolArray] = {}

    @staticmethod
    def _limit_ms(cycle: Cycle) -> float:
        spec = cycle.spec
        budget = spec.latency_budget_ms if spec.latency_budget_ms is not None else np.inf
        deadline = spec.deadline_s * 1000.0 if spec.deadline_s is not None else np.inf
        return float(min(budget, deadline))

    def _best_case_ms(self, cycle: Cycle) -> FloatArray:
        paths = distances_from(self._graph_of(cycle), cycle.spec.ingress_site or "")
        round_trip = 2.0 * paths.latency_ms[0, self._graph.node_vertex]
        best: FloatArray = round_trip + cycle.compute_ms() + cycle.spec.fixed_latency_ms
        return best

    def _graph_of(self, cycle: Cycle) -> RoutingGraph:
        graph = cycle.state.routing_graph()
        if graph is not self._graph:
            self._graph = graph
            self._masks.clear()  # bounds of the old latencies
        return graph

    def filter(self, cycle: Cycle) -> BoolArray:
        """Nodes whose best case fits the limit (all nodes when the task states none)."""
        limit = self._limit_ms(cycle)
        spec = cycle.spec
        if not np.isfinite(limit):
            return cycle.state.everyone()
        self._graph_of(cycle)
        key = (
            spec.ingress_site,
            id(cycle.static_demand()),
            spec.work_gflop,
            spec.fixed_latency_ms,
            limit,
        )
        mask = self._masks.get(key)
        if mask is None:
            if len(self._masks) >= self._MASKS_KEPT:
                self._masks.clear()
            mask = self._masks[key] = self._best_case_ms(cycle) <= limit
            mask.flags.writeable = False
        return mask

    def never(self, cycle: Cycle) -> BoolArray:
        """The nodes it rejects: a best case on an idle network does not change with load."""
        return ~np.asarray(self.filter(cycle), dtype=bool)

    def explain(self, cycle: Cycle, node: int) -> str:
        """The node's best case against the limit."""
        best = float(self._best_case_ms(cycle)[node])
        compute = float(cycle.compute_ms()[node])
        fixed_ms = cycle.spec.fixed_latency_ms
        fixed = f" + fixed {fixed_ms:.1f}" if fixed_ms else ""
        return (
            f"even on an idle network the best case is {best:.1f} ms (round trip "
            f"{best - compute - fixed_ms:.1f} + compute {compute:.1f}{fixed}), "
            f"over the {self._limit_ms(cycle):g} ms limit"
        )

    def miss(self, cycle: Cycle, nodes: IntArray) -> Miss:
        """Milliseconds of the best case over the limit."""
        over = self._best_case_ms(cycle)[nodes] - self._limit_ms(cycle)
        return _one_kind("best case over the limit", "ms", over)
