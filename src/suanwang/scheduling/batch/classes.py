"""Task classes through a profile's plugins: which nodes can take a class, how well, how many.

``ProfilePlugins`` builds a profile's Filter, Route and Score plugins for one ``ClusterState``
(the registry's ``build_plugin``, as the ``Scheduler`` does) and ``ClassEvaluator`` runs them on
ONE cycle per task class: PreFilter -> Filter (pre-route) -> Route -> Filter (post-route) ->
Score, exactly the online cycle up to the choice of a node. One shortcut, exact: the in-tree
node-side filters (node health, resource fit, residency, trust, data tags, tier-class) read the
node and the demand only (the spec without its ingress), so their masks are computed once per
demand and shared by its classes; any other pre-route filter runs once per class.

An evaluator belongs to one state of the ledger: build a new one after reservations change.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from suanwang.model import ACCELERATOR_KINDS, TaskSpec
from suanwang.routing import ShortestPaths
from suanwang.scheduling.batch.requests import TaskClassGroup
from suanwang.scheduling.cycle import Cycle, required_bandwidth_mbps
from suanwang.scheduling.diagnosis import Diagnosis
from suanwang.scheduling.framework import (
    BoolArray,
    ChosenPath,
    Code,
    FilterPlugin,
    FloatArray,
    Request,
    Stage,
    Status,
)
from suanwang.scheduling.scheduler import ProfilePlugins, scale_scores
from suanwang.scheduling.state import ClusterState

IntArray = npt.NDArray[np.int64]

NODE_SIDE_FILTERS = frozenset(
    {"node-health", "resource-fit", "residency", "trust", "data-tags", "tier-class"}
)
"""In-tree pre-route filters whose mask depends on the node and the demand, not the ingress."""

_IN_TREE_MODULE = "suanwang.scheduling.plugins."
_SLACK = 1e-9
_MANY = 2**40  # slots of a demand that needs nothing countable


@dataclass(frozen=True, slots=True, eq=False)
class ClassView:
    """One class as the profile sees it: candidate nodes, best first, with their figures.

    Arrays are over the kept candidates (``nodes``), sorted by ``objective``, then by the
    end-to-end estimate, then by node index.

    Attributes:
        group: The class.
        request: The request its cycle ran for (the class's spec).
        nodes: Candidate node indexes.
        objective: Profile score turned into a cost, ``score_max - total score`` (lower is better).
        slots: Members each candidate could take on its own: free compute over the demand, and
            the path's residual bottleneck over the task's bandwidth.
        network_ms, queueing_ms, compute_ms, cost, energy_kwh, carbon_g: The estimates.
        bandwidth_mbps: Bandwidth each member reserves on a path with links.
        pruned: Whether candidates were dropped (they were all worse than the kept ones).
        reason: Why no node can take the class (empty when some can).
        scratch: The class cycle's scratch (the Route plugin keeps its path trees there).
        tree: The latency-shortest paths from the ingress the Route plugin chose along, when it
            keeps them in the scratch (the in-tree ``latency-shortest`` does); None otherwise.
    """

    group: TaskClassGroup
    request: Request
    nodes: IntArray
    objective: FloatArray
    slots: IntArray
    network_ms: FloatArray
    queueing_ms: FloatArray
    compute_ms: FloatArray
    cost: FloatArray
    energy_kwh: FloatArray
    carbon_g: FloatArray
    bandwidth_mbps: float
    pruned: bool
    reason: str
    scratch: dict[str, Any]
    tree: ShortestPaths | None = None


def demand_of(spec: TaskSpec) -> TaskSpec:
    """The spec without its ingress: what ingress-free estimates and masks depend on."""
    return spec if spec.ingress_site is None else dataclasses.replace(spec, ingress_site=None)


def compute_slots(state: ClusterState, spec: TaskSpec, cap: int) -> IntArray:
    """How many tasks of ``spec`` each node's free cores, memory and devices hold (<= ``cap``)."""
    ledger = state.reservations
    slots = np.full(len(state.arrays.node_ids), float(cap))
    if spec.cpu_cores > 0:
        slots = np.minimum(slots, np.floor((ledger.free_cpu_cores() + _SLACK) / spec.cpu_cores))
    if spec.mem_gib > 0:
        slots = np.minimum(slots, np.floor((ledger.free_mem_gib() + _SLACK) / spec.mem_gib))
    need = spec.accelerator
    if need is not None:
        k = ACCELERATOR_KINDS.index(need.kind)
        free = ledger.free_accelerators_of(k)
        slots = np.minimum(slots, np.floor((free + _SLACK) / need.count))
    counted: IntArray = np.maximum(slots, 0.0).astype(np.int64)
    return counted


class ClassEvaluator:
    """Runs a profile's plugins once per class on the state as it is now.

    Args:
        plugins: The profile's plugins (their state is the one evaluated).
    """

    def __init__(self, plugins: ProfilePlugins) -> None:
        self.plugins = plugins
        self.state = plugins.state
        self._n = len(self.state.arrays.node_ids)
        self._masks: dict[tuple[TaskSpec, str], BoolArray] = {}
        self._slots: dict[TaskSpec, IntArray] = {}
        self._demands: dict[int, tuple[TaskSpec, TaskSpec]] = {}
        self._alive = np.ones(self._n, dtype=bool)
        self._alive.flags.writeable = False

    def demand(self, spec: TaskSpec) -> TaskSpec:
        """``demand_of(spec)``, cached by object (the specs of a batch are few objects)."""
        known = self._demands.get(id(spec))
        if known is None:  # the entry keeps ``spec`` alive, so its id stays its own
            known = self._demands[id(spec)] = (spec, demand_of(spec))
        return known[1]

    def _filter(self, plugin: FilterPlugin, cycle: Cycle) -> BoolArray:
        in_tree = type(plugin).__module__.startswith(_IN_TREE_MODULE)
        if not (in_tree and plugin.name in NODE_SIDE_FILTERS):
            return np.asarray(plugin.filter(cycle), dtype=bool)
        key = (self.demand(cycle.spec), plugin.name)
        mask = self._masks.get(key)
        if mask is None:  # on a cycle of its own, where every node is alive: shared by classes
            fresh = Cycle(cycle.request, self.state, alive=self._alive)
            mask = self._masks[key] = np.asarray(plugin.filter(fresh), dtype=bool)
        return mask

    def _run(self, cycle: Cycle, stage: Stage) -> None:
        for plugin in self.plugins.filters[stage]:
            if not cycle.alive.any():
                return
            cycle.reject(plugin.name, self._filter(plugin, cycle))

    def slots_for(self, spec: TaskSpec) -> IntArray:
        """Compute slots of ``spec`` per node (cached per demand)."""
        demand = self.demand(spec)
        slots = self._slots.get(demand)
        if slots is None:
            slots = self._slots[demand] = compute_slots(self.state, demand, _MANY)
        return slots

    def evaluate(
        self, group: TaskClassGroup, coverage: float | None = None, min_candidates: int = 16
    ) -> ClassView:
        """Candidates of ``group``, best first.

        Args:
            group: The class.
            coverage: Keep the best candidates until their slots hold ``coverage`` times the
                class's members (at least ``min_candidates`` of them); None keeps them all.
            min_candidates: See ``coverage``.
        """
        plugins, spec = self.plugins, group.spec
        request = Request(f"class:{group.members[0]}", spec, waited_ms=group.waited_ms)
        cycle = Cycle(request, self.state, alive=self._alive)
        for pre_filter in plugins.pre_filters:
            status = pre_filter.pre_filter(cycle)
            if not status.ok:
                return self._empty(group, cycle, status)
        self._run(cycle, Stage.PRE_ROUTE)
        if cycle.alive.any():
            cycle.route = plugins.route.route(cycle)
            cycle.reject(plugins.route.name, np.isfinite(cycle.route.latency_ms))
            self._run(cycle, Stage.POST_ROUTE)
        candidates = cycle.alive.nonzero()[0]
        if candidates.size == 0:
            refused = Status(Code.UNSCHEDULABLE, "no node can take the task")
            return self._empty(group, cycle, refused)
        totals = np.zeros(candidates.size)
        for plugin, weight in plugins.scores:
            raw = np.asarray(plugin.score(cycle), dtype=np.float64)[candidates]
            totals += weight * scale_scores(raw, plugin.higher_is_better)
        objective = plugins.score_max - totals
        slots = np.minimum(self.slots_for(spec)[candidates], group.count)
        bandwidth = required_bandwidth_mbps(spec)
        assert cycle.route is not None
        if bandwidth > 0:
            with np.errstate(invalid="ignore"):
                by_path = np.floor(cycle.route.bottleneck_mbps[candidates] / bandwidth + _SLACK)
            slots = np.minimum(slots, np.nan_to_num(by_path, posinf=group.count).astype(np.int64))
        order = self._order(objective, cycle.total_ms()[candidates])
        keep = order.size
        if coverage is not None:
            enough = int(np.searchsorted(np.cumsum(slots[order]), coverage * group.count)) + 1
            keep = min(order.size, max(min_candidates, enough))
        kept = order[:keep]
        nodes = candidates[kept]
        return ClassView(
            group=group,
            request=request,
            nodes=nodes.astype(np.int64),
            objective=objective[kept],
            slots=slots[kept],
            network_ms=cycle.network_ms()[nodes],
            queueing_ms=cycle.queueing_ms()[nodes],
            compute_ms=cycle.compute_ms()[nodes],
            cost=cycle.cost()[nodes],
            energy_kwh=cycle.energy_kwh()[nodes],
            carbon_g=cycle.carbon_g()[nodes],
            bandwidth_mbps=bandwidth,
            pruned=keep < order.size,
            reason="",
            scratch=cycle.scratch,
            tree=next((v for v in cycle.scratch.values() if isinstance(v, ShortestPaths)), None),
        )

    @staticmethod
    def _order(objective: FloatArray, total_ms: FloatArray) -> IntArray:
        """Positions by objective, then end-to-end estimate, then position (all stable).

        Ties in the objective (a load score on an empty cluster) go to the faster node, not the
        lower index: every class picking the same first nodes would crowd their links.
        """
        by_time = np.argsort(total_ms, kind="stable")
        order: IntArray = by_time[np.argsort(objective[by_time], kind="stable")].astype(np.int64)
        return order

    def _empty(self, group: TaskClassGroup, cycle: Cycle, status: Status) -> ClassView:
        diagnosis = Diagnosis(cycle, status, self.plugins.explainers)
        reason = diagnosis.summary() if status.code is Code.UNSCHEDULABLE else status.reason
        none_i, none_f = np.zeros(0, dtype=np.int64), np.zeros(0)
        return ClassView(
            group=group,
            request=cycle.request,
            nodes=none_i,
            objective=none_f,
            slots=none_i,
            network_ms=none_f,
            queueing_ms=none_f,
            compute_ms=none_f,
            cost=none_f,
            energy_kwh=none_f,
            carbon_g=none_f,
            bandwidth_mbps=required_bandwidth_mbps(group.spec),
            pruned=False,
            reason=reason,
            scratch={},
        )

    def path(self, view: ClassView, node: int) -> ChosenPath:
        """The path of ``view``'s class to ``node``, as its cycle routed it."""
        cycle = Cycle(view.request, self.state, alive=self._alive, scratch=view.scratch)
        return self.plugins.route.path(cycle, node)
