"""Profiles side by side on one batch: online greedy per profile, the batch flow, the optimum.

Each row places the same requests on a fresh ``ClusterState`` of one topology and is scored
by ``evaluate``; the gap of a row is the optimum's SLA satisfaction minus the row's, in
percentage points (None where the optimum was not computed). When optimality is proven the
gap is exact (``=``); when a time limit stopped the solver it is measured against the proven
upper bound and is an upper bound itself (``<=``), never negative, since no placement meets
more SLAs than the bound; when a path listing was capped (no bound) it is measured against the
best row and is a lower bound (``>=``).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from suanwang.model import Placement, Topology
from suanwang.scheduling.batch.evaluate import BatchMetrics, evaluate
from suanwang.scheduling.batch.flow import FlowOptions, FlowStats, check_batch, place_batch
from suanwang.scheduling.batch.milp import OptimumResult, solve_optimum
from suanwang.scheduling.framework import Request
from suanwang.scheduling.profile import Profile, builtin_profiles
from suanwang.scheduling.scheduler import Scheduler
from suanwang.scheduling.state import ClusterState

Progress = Callable[[str, int, int], None]
"""Told (row name, steps done, steps in the row) as work goes on."""

ONLINE, FLOW, MILP = "online", "batch-flow", "milp-optimum"


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One way of placing the batch and what it achieved.

    Attributes:
        name: Profile name, ``batch-flow`` or ``milp-optimum``.
        method: ``online`` (greedy in arrival order), ``batch-flow`` or ``milp-optimum``.
        objective: What the row optimises, in a few words.
        metrics: Its figures.
        seconds: Time it took.
        gap_pp: Optimum's SLA satisfaction minus this row's, in percentage points.
        note: Status or counts worth knowing (solver status, repairs).
        detail: The objective in full (a profile's scores with their weights).
        gap_kind: ``=`` (exact), ``<=`` (against a proven bound) or ``>=`` (against the best
            known); empty without a gap.
        nodes: Placed tasks per node id, most first.
    """

    name: str
    method: str
    objective: str
    metrics: BatchMetrics
    seconds: float
    gap_pp: float | None = None
    note: str = ""
    detail: str = ""
    gap_kind: str = ""
    nodes: tuple[tuple[str, int], ...] = ()

    def gap_text(self) -> str:
        """The gap as printed: ``+1.5`` when exact, ``<=1.5`` or ``>=1.5`` otherwise."""
        if self.gap_pp is None:
            return "-"
        return (
            f"{self.gap_pp:+.1f}" if self.gap_kind == "=" else f"{self.gap_kind}{self.gap_pp:.1f}"
        )

    def nodes_text(self) -> str:
        """Where placements went: the node, or how many nodes and the busiest."""
        if not self.nodes:
            return "-"
        if len(self.nodes) == 1 and self.metrics.placed == 1:
            return self.nodes[0][0]
        top, count = self.nodes[0]
        return f"{len(self.nodes)} ({top} x{count})"


@dataclass(frozen=True, slots=True)
class PlanComparison:
    """Every row, in order, and the optimum's outcome.

    Attributes:
        rows: Profiles (online), then the batch flow, then the optimum when solved.
        optimum: The MILP's result, or None when it was not attempted.
        flow: The batch flow's statistics, or None when it was not run.
        unplaced_reasons: Why the batch flow left tasks unplaced: (reason, tasks), most first.
        reference_sla: Tasks within SLA the gaps are measured against (the optimum, its
            bound, or the best row), or None without gaps.
        gap_kind: ``=``, ``<=`` or ``>=`` (see the module docstring); empty without gaps.
    """

    rows: tuple[PlanRow, ...]
    optimum: OptimumResult | None = None
    flow: FlowStats | None = None
    unplaced_reasons: tuple[tuple[str, int], ...] = ()
    reference_sla: int | None = None
    gap_kind: str = ""

    def gap_summary(self) -> str:
        """One line on what the gaps mean, when they are not exact; empty otherwise."""
        optimum = self.optimum
        if optimum is None or self.gap_kind in {"", "="}:
            return ""
        if self.gap_kind == "<=":
            worst = max(row.gap_pp or 0.0 for row in self.rows)
            return (
                f"milp-optimum: {optimum.status}, not proven optimal; gaps are to its proven "
                f"bound: gap <= {worst:.1f} pp at worst (bound {self.reference_sla} tasks within "
                f"SLA, best found {optimum.sla_met})"
            )
        return (
            f"milp-optimum: {optimum.status} (path listing capped, no bound): gaps are to the "
            f"best row ({self.reference_sla} tasks within SLA), the true gaps may be larger"
        )


def describe(profile: Profile) -> str:
    """A profile's objective in full: its scores and weights."""
    return " + ".join(f"{weight:g} {name}" for name, weight in profile.scores.items())


def headline(profile: Profile) -> str:
    """A profile's objective in a word: its heaviest score (``+`` when it has more)."""
    name = max(profile.scores, key=lambda score: profile.scores[score])
    return name + ("+" if len(profile.scores) > 1 else "")


def place_online(
    profile: Profile,
    state: ClusterState,
    requests: Sequence[Request],
    progress: Callable[[int], None] | None = None,
) -> tuple[Placement | None, ...]:
    """Each request in turn through ``Scheduler.schedule`` (greedy, arrival order)."""
    scheduler = Scheduler(profile, state)
    placements = []
    for done, request in enumerate(requests, 1):
        placements.append(scheduler.schedule(request).placement)
        if progress is not None and (done % 50 == 0 or done == len(requests)):
            progress(done)
    return tuple(placements)


def compare_profiles(
    topology: Topology,
    requests: Sequence[Request],
    *,
    profiles: Mapping[str, Profile] | None = None,
    flow_profile: Profile | None = None,
    optimum: bool = True,
    time_limit_s: float = 60.0,
    max_variables: int = 20_000,
    hour_of_day: int = 12,
    flow_options: FlowOptions | None = None,
    progress: Progress | None = None,
) -> PlanComparison:
    """Place ``requests`` on ``topology`` every way and score each.

    Args:
        topology: The cluster (each row starts from its empty ledger).
        requests: The batch (unique task ids).
        profiles: Online rows (default: every built-in profile).
        flow_profile: Profile of the batch-flow row (default ``cats-joint``); None and
            ``profiles`` given without ``cats-joint`` still uses the built-in one.
        optimum: Whether to attempt the MILP.
        time_limit_s: MILP time limit.
        max_variables: Largest MILP solved (variables).
        hour_of_day: Hour for carbon intensity.
        flow_options: Options of the batch flow.
        progress: Told how far each row is.

    Raises:
        BatchError: repeated task ids.
    """
    check_batch(ClusterState(topology), requests)
    builtins = builtin_profiles()
    profiles = builtins if profiles is None else profiles
    flow_profile = flow_profile or builtins["cats-joint"]

    def fresh() -> ClusterState:
        return ClusterState(topology, hour_of_day=hour_of_day)

    def tell(name: str, done: int, total: int) -> None:
        if progress is not None:
            progress(name, done, total)

    rows: list[PlanRow] = []
    for name, profile in profiles.items():
        started = time.perf_counter()

        def step(done: int, row: str = name) -> None:
            tell(row, done, len(requests))

        placements = place_online(profile, fresh(), requests, step)
        seconds = time.perf_counter() - started
        metrics = evaluate(topology, requests, placements)
        rows.append(
            PlanRow(
                name,
                ONLINE,
                headline(profile),
                metrics,
                seconds,
                detail=describe(profile),
                nodes=_nodes(placements),
            )
        )
    tell(FLOW, 0, 1)
    started = time.perf_counter()
    plan = place_batch(flow_profile, fresh(), requests, options=flow_options)
    seconds = time.perf_counter() - started
    note = (
        f"profile {flow_profile.name}; {plan.stats.placed_by_repair} repaired online, "
        f"{plan.stats.bind_conflicts} ledger refusals re-planned"
    )
    rows.append(
        PlanRow(
            FLOW,
            FLOW,
            f"placed, then {flow_profile.name}",
            evaluate(topology, requests, plan.placements),
            seconds,
            note=note,
            detail=f"most tasks placed, then {describe(flow_profile)}",
            nodes=_nodes(plan.placements),
        )
    )
    tell(FLOW, 1, 1)
    result = None
    if optimum:
        tell(MILP, 0, 1)
        result = solve_optimum(
            fresh(), requests, time_limit_s=time_limit_s, max_variables=max_variables
        )
        tell(MILP, 1, 1)
        if result.solved:
            note = f"{result.status}; {result.columns:,} columns, {result.variables:,} in HiGHS"
            if not result.optimal and result.upper_bound is not None:
                note += f", bound {result.upper_bound}"
            if result.sla_met and not result.price_optimal:
                note += "; least price not proven"
            rows.append(
                PlanRow(
                    MILP,
                    MILP,
                    "SLA, then price",
                    evaluate(topology, requests, result.placements),
                    result.seconds,
                    note=note,
                    detail="most tasks within their SLA, then the least total price",
                    nodes=_nodes(result.placements),
                )
            )
    reference, kind = _reference(result, rows)
    if reference is not None:
        rows = [_with_gap(row, reference, kind) for row in rows]
    reasons = tuple(Counter(plan.reasons.values()).most_common())
    return PlanComparison(tuple(rows), result, plan.stats, reasons, reference, kind)


def _reference(result: OptimumResult | None, rows: Sequence[PlanRow]) -> tuple[int | None, str]:
    """Tasks within SLA the gaps are measured against, and the kind of gap that gives."""
    if result is None or not result.solved:
        return None, ""
    best_row = max(row.metrics.sla_met for row in rows)
    reference, kind = result.sla_met, "="
    if not result.optimal:  # a bound holds for every row: gaps against it are upper bounds
        reference, kind = (
            (result.upper_bound, "<=") if result.upper_bound is not None else (best_row, ">=")
        )
    if best_row > reference:  # cannot happen with a sound bound; never print a negative gap
        return best_row, ">="
    return reference, kind


def _with_gap(row: PlanRow, reference: int, kind: str) -> PlanRow:
    tasks = row.metrics.tasks
    gap = 100.0 * (reference - row.metrics.sla_met) / tasks if tasks else 0.0
    return dataclasses.replace(row, gap_pp=gap, gap_kind=kind)


def _nodes(placements: Sequence[Placement | None]) -> tuple[tuple[str, int], ...]:
    """Placed tasks per node, most first (ties by node id)."""
    counts = Counter(p.node_id for p in placements if p is not None)
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
