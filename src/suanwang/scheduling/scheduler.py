"""The scheduler: runs a profile's plugins over one request and binds the winner.

``Scheduler.schedule`` runs PreFilter -> Filter (pre-route) -> Route -> Filter (post-route) ->
Score -> Reserve and returns a ``Decision`` with the placement, or with the status and
a ``Diagnosis`` when no node can take the task. ``release`` gives a task's reservation back on
completion, cancellation or failure. The pre-route filters start with the policy stage
(residency, trust, data tags), which no profile can leave out.

Selection follows CATS: the instance and the path are chosen together (the route figures feed
the estimates every filter and score reads); a request with an affinity key keeps its node while
that node still passes every filter (its SLA still holds); and a flow (ingress, task type)
keeps its previous node unless another scores better by more than the profile's hysteresis, so
near-equal candidates do not flap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from suanwang.model import Placement
from suanwang.scheduling.cycle import Cycle, required_bandwidth_mbps
from suanwang.scheduling.diagnosis import Diagnosis, ScoreRecord
from suanwang.scheduling.framework import (
    SUCCESS,
    Code,
    FilterPlugin,
    FloatArray,
    NeverMask,
    PreFilterPlugin,
    Request,
    ReservePlugin,
    RoutePlugin,
    ScorePlugin,
    Stage,
    Status,
)
from suanwang.scheduling.plugins import policy
from suanwang.scheduling.plugins.leases import LeaseBound
from suanwang.scheduling.plugins.points import LedgerReserve, RequestCheck
from suanwang.scheduling.plugins.services import ServiceInstances
from suanwang.scheduling.plugins.spread import AvoidSites
from suanwang.scheduling.profile import Profile
from suanwang.scheduling.registry import PluginFactory, build_plugin, plugin_factories
from suanwang.scheduling.scaling import SCORE_MAX, scale_scores
from suanwang.scheduling.state import ClusterState

# The scaling is re-exported: the batch planners and older callers import it from here.
__all__ = ["SCORE_MAX", "Decision", "ProfilePlugins", "Scheduler", "scale_scores"]


# Refusal answers kept (see Scheduler._no_node); cleared when full.
_NO_NODE_KEPT = 4096


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one cycle.

    Attributes:
        status: SUCCESS with a placement, or why not.
        placement: The bound placement on success.
        diagnosis: Per-plugin rejections and "why not node X".
        score: Total weighted score of the chosen node (0 when none).
    """

    status: Status
    placement: Placement | None
    diagnosis: Diagnosis
    score: float = 0.0


MANDATORY_FILTERS = (
    "residency",
    "trust",
    "data-tags",
    "service-instances",
    "avoid-sites",
    "leases",
)
"""The policy stage: hard constraints every profile runs first, pre-route (baselines included);
service-instances resolves a task's CS-ID to the nodes of its service's instances (CSCI-IDs)."""


def _mandatory() -> list[Any]:
    # Built here, not through the factories: no profile or plugin package can drop or replace
    # the policy stage.
    return [
        policy.Residency(),
        policy.Trust(),
        policy.DataTags(),
        ServiceInstances(),
        AvoidSites(),
        LeaseBound(),
    ]


def _typed(plugin: object, protocol: Any, name: str, point: str) -> Any:
    """``plugin`` if it has the methods of ``protocol`` (a runtime-checkable Protocol)."""
    if not isinstance(plugin, protocol):
        raise TypeError(f"plugin {name!r} cannot serve as a {point} plugin")
    return plugin


class ProfilePlugins:
    """A profile's PreFilter, Filter, Route and Score plugins, built for ``state``.

    Shared by the online ``Scheduler`` and the batch planners, so that both run exactly the
    plugins the profile names, after the policy stage (``MANDATORY_FILTERS``: residency, trust,
    data tags), which runs first under every profile whatever it lists; a profile that names one
    of those filters gets it once, in the policy stage. The data-tags plugin is a PreFilter too:
    a tag without a data policy is an ERROR.

    Args:
        profile: Plugins and weights.
        state: The state the plugins read (its ledger is shared with whoever binds).
        factories: Plugin factories (default: in-tree plus entry points).

    Raises:
        UnknownPluginError: the profile names an unregistered plugin.
        TypeError: a plugin cannot serve at the point the profile puts it.
    """

    def __init__(
        self,
        profile: Profile,
        state: ClusterState,
        factories: Mapping[str, PluginFactory] | None = None,
    ) -> None:
        known = factories if factories is not None else plugin_factories()
        self.profile = profile
        self.state = state

        def make(name: str) -> Any:
            return build_plugin(name, profile.args.get(name, {}), state, known)

        mandatory = _mandatory()
        self.pre_filters: list[PreFilterPlugin] = [
            RequestCheck(),
            *(p for p in mandatory if isinstance(p, PreFilterPlugin)),
        ]
        filters: list[FilterPlugin] = mandatory + [
            _typed(make(n), FilterPlugin, n, "Filter")
            for n in profile.filters
            if n not in MANDATORY_FILTERS
        ]
        self.filters = {stage: [f for f in filters if f.stage is stage] for stage in Stage}
        self.route: RoutePlugin = _typed(make(profile.route), RoutePlugin, profile.route, "Route")
        self.scores: list[tuple[ScorePlugin, float]] = [
            (_typed(make(n), ScorePlugin, n, "Score"), weight)
            for n, weight in profile.scores.items()
        ]
        self.explainers: dict[str, FilterPlugin | RoutePlugin] = {f.name: f for f in filters}
        self.explainers[self.route.name] = self.route

    @property
    def score_max(self) -> float:
        """Largest total weighted score (every plugin at 100)."""
        return SCORE_MAX * sum(weight for _, weight in self.scores)


class Scheduler:
    """Places requests on a cluster state with one profile.

    ``plugins`` are its plugin instances; a batch planner on the same state may share them
    (``place_batch(plugins=...)``), so that stateful scores learn from both.

    Args:
        profile: Plugins and weights.
        state: The cluster it places on (its reservation ledger is the Reserve point's).
        factories: Plugin factories (default: in-tree plus entry points).
    """

    def __init__(
        self,
        profile: Profile,
        state: ClusterState,
        *,
        factories: Mapping[str, PluginFactory] | None = None,
    ) -> None:
        self.profile = profile
        self.state = state
        plugins = self.plugins = ProfilePlugins(profile, state, factories)
        self._pre_filters = plugins.pre_filters
        self._filters = plugins.filters
        self._route = plugins.route
        self._scores = plugins.scores
        self._explainers = plugins.explainers
        self._reserve: ReservePlugin = LedgerReserve(state.reservations)
        self._never = [
            f for stage in Stage for f in self._filters[stage] if isinstance(f, NeverMask)
        ]
        self._no_node_seen: dict[tuple[object, ...], Status] = {}
        self._affinity: dict[str, int] = {}
        self._last_choice: dict[tuple[str | None, str | None], int] = {}
        self._hysteresis_margin = (
            self.profile.hysteresis * SCORE_MAX * sum(weight for _, weight in self._scores)
        )

    def schedule(self, request: Request) -> Decision:
        """Place ``request`` and reserve what it needs (see the module docstring)."""
        # Read-only and shared: Cycle.reject replaces ``alive`` rather than writing to it.
        cycle = Cycle(request, self.state, alive=self.state.everyone())
        for pre_filter in self._pre_filters:
            status = pre_filter.pre_filter(cycle)
            if not status.ok:
                return self._refuse(cycle, status)
        self._run_filters(cycle, Stage.PRE_ROUTE)
        if np.count_nonzero(cycle.alive):
            cycle.route = self._route.route(cycle)
            cycle.reject(self._route.name, np.isfinite(cycle.route.latency_ms))
            self._run_filters(cycle, Stage.POST_ROUTE)
        candidates = cycle.alive.nonzero()[0]
        if candidates.size == 0:
            return self._refuse(cycle, self._no_node(cycle))
        totals = np.zeros(candidates.size)
        raws = []  # kept (references only) for the diagnosis's "why here", built when asked
        for plugin, weight in self._scores:
            raw = np.asarray(plugin.score(cycle), dtype=np.float64)[candidates]
            raws.append(raw)
            totals += weight * scale_scores(raw, plugin.higher_is_better)
        chosen = self._select(cycle, candidates, totals)
        score = float(totals[candidates.searchsorted(chosen)])
        return self._bind_to(cycle, chosen, score, ScoreRecord(self._scores, candidates, raws))

    def release(self, task_id: str) -> None:
        """Give back what ``task_id`` holds (completion, cancellation, failure); idempotent."""
        self._reserve.unreserve(task_id)

    def _run_filters(self, cycle: Cycle, stage: Stage) -> None:
        alive = None
        for plugin in self._filters[stage]:
            if cycle.alive is not alive:  # recount only after a narrowing (Cycle.reject)
                alive = cycle.alive
                if not np.count_nonzero(alive):  # cheaper than np.any on small masks
                    return
            cycle.reject(plugin.name, np.asarray(plugin.filter(cycle), dtype=bool))

    def _select(self, cycle: Cycle, candidates: np.ndarray, totals: FloatArray) -> int:
        spec = cycle.spec
        if self.profile.affinity and spec.affinity_key is not None:
            held = self._affinity.get(spec.affinity_key)
            if held is not None and cycle.alive[held]:
                return held
        best = int(candidates[int(totals.argmax())])
        flow = (spec.ingress_site, spec.task_type)
        previous = self._last_choice.get(flow)
        if previous is not None and previous != best and cycle.alive[previous]:
            margin = self._hysteresis_margin
            if totals[candidates.searchsorted(previous)] >= totals.max() - margin:
                return previous
        return best

    def _bind_to(self, cycle: Cycle, node: int, score: float, scores: ScoreRecord) -> Decision:
        request, arrays = cycle.request, self.state.arrays
        path = self._route.path(cycle, node)
        cycle.chosen_node, cycle.chosen_path = node, path
        bandwidth = required_bandwidth_mbps(cycle.spec) if path.segments else 0.0
        catalogue, node_id = self.state.catalogue, arrays.node_ids[node]
        placement = Placement(
            task_id=request.task_id,
            node_id=node_id,
            path=path.vertices,
            segments=path.segments,
            reserved_bandwidth_mbps=bandwidth,
            estimate=cycle.estimate(node),
            instance_id=None
            if catalogue is None
            else catalogue.instance_on(cycle.spec.service_id, node_id),
        )
        status = self._reserve.reserve(cycle, placement)
        if not status.ok:
            return self._refuse(cycle, status)
        if cycle.spec.affinity_key is not None:
            self._affinity[cycle.spec.affinity_key] = node
        self._last_choice[(cycle.spec.ingress_site, cycle.spec.task_type)] = node
        diagnosis = Diagnosis(cycle, SUCCESS, self._explainers, scores)
        return Decision(SUCCESS, placement, diagnosis, score)

    def _no_node(self, cycle: Cycle) -> Status:
        """UNRESOLVABLE when the filters' ``never`` masks cover every node, else UNSCHEDULABLE.

        ``never`` masks read the demand, the topology and the routing graph, never the load:
        the answer is kept per (spec, topology version, graph, service catalogue), as refusals
        repeat by the thousand under load.
        """
        state = self.state
        key = (cycle.spec, state.topology.version, id(state.routing_graph()), id(state.catalogue))
        status = self._no_node_seen.get(key)
        if status is None:
            if len(self._no_node_seen) >= _NO_NODE_KEPT:
                self._no_node_seen.clear()
            status = self._no_node_seen[key] = self._no_node_status(cycle)
        return status

    def _no_node_status(self, cycle: Cycle) -> Status:
        never = np.zeros(len(cycle.alive), dtype=bool)
        counts: list[str] = []
        for plugin in self._never:
            mask = np.asarray(plugin.never(cycle), dtype=bool) & ~never
            if np.count_nonzero(mask):
                counts.append(f"{plugin.name}: {int(np.count_nonzero(mask))}")
                never |= mask
        if never.all():
            reason = f"no node could take it even on an idle network ({', '.join(counts)})"
            return Status(Code.UNRESOLVABLE, reason, counts[0].split(":")[0] if counts else "")
        return Status(Code.UNSCHEDULABLE, "no node can take the task")

    def _refuse(self, cycle: Cycle, status: Status) -> Decision:
        # Reasons are built on demand, after later decisions have changed the ledger: keep a
        # copy of the ledger as it was, so that "why not" answers about this cycle.
        cycle.state = cycle.state.with_frozen_ledger()
        diagnosis = Diagnosis(cycle, status, self._explainers)
        if status.code is Code.UNSCHEDULABLE and not status.plugin:
            # A refusal by the filters as a whole: the reason is the per-plugin count line.
            status = diagnosis.status = Status(status.code, diagnosis.summary())
        return Decision(status, None, diagnosis)
