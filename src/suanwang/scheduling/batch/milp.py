"""The true optimum of a batch: most tasks within their SLA, then the least total price.

Over every admissible (class, node, path) column (``batch.columns``: every simple path, each
parallel link apart, cut only where the SLA could not be met), by column generation with a
proof (``batch.master``), lexicographically: first the most tasks within their SLA, then,
with that count as a constraint, the least total price (no weight trades one for the other).
Tasks of a class are identical, so integer counts per column are exact for the per-task
assignment and far smaller. Constraints: members per class; free cores, memory and devices
of each kind per node; residual bandwidth per link over every path that crosses it.

Estimates are those of the scheduling cycle against the state before the batch (queueing
from the load already reserved; transfer at the residual bottleneck): the reservations of
the batch dedicate cores, devices and bandwidth to each task, and the online scheduler's
estimates, which also count the load of the batch's earlier tasks, are never lower. Every
simple path is a column, so no profile's placements can meet more SLAs than the optimum.

When a time limit stops the solver, ``upper_bound`` is the proven bound on the tasks any
placement can meet the SLA of (from the LP over all columns and HiGHS' dual bound). When a
path listing stops at its cap, the columns are restricted: nothing is claimed (status
``restricted``, no bound).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from suanwang.model import Estimate, Placement
from suanwang.scheduling.batch.columns import Columns, build_columns
from suanwang.scheduling.batch.flow import check_batch
from suanwang.scheduling.batch.master import Master, Solved
from suanwang.scheduling.batch.requests import TaskClassGroup, group_classes
from suanwang.scheduling.framework import Request
from suanwang.scheduling.registry import PluginFactory
from suanwang.scheduling.reservations import OverCommitError, Reservation
from suanwang.scheduling.state import ClusterState

SLA_FILTERS = (
    "node-health",
    "resource-fit",
    "residency",
    "trust",
    "path-bandwidth",
    "latency-budget",
    "price-budget",
)
"""What decides which (class, node, path) may hold a task: capacity and the SLA."""
MAX_COLUMNS = 2_000_000
"""Admissible columns listed at most (priced in numpy; only a working set reaches HiGHS)."""
_MIN_PRICE_STAGE_S = 1.0


@dataclass(frozen=True, slots=True)
class OptimumResult:
    """The optimum's answer.

    Attributes:
        status: ``optimal`` (most tasks within SLA proven), ``time limit`` (the best found,
            with ``upper_bound``), ``restricted`` (a path listing hit its cap: the best over
            the paths listed, no bound claimed), ``too large`` (not solved) or ``failed: ...``.
        placements: One entry per request (None: not placed); all None unless solved.
        sla_met: Tasks placed, all within their SLA.
        upper_bound: Most tasks any placement can meet the SLA of (proven; equals ``sla_met``
            when optimal), or None when unknown.
        price: Total estimated price of the placements.
        price_optimal: Whether that price is proven least among placements meeting
            ``sla_met`` SLAs.
        variables: Columns in the largest integer program solved.
        columns: Admissible columns listed.
        constraints: Rows of that integer program.
        seconds: Time to list, solve and bind.
        bind_conflicts: Assignments the ledger refused (0 unless the solver's tolerance bit).
    """

    status: str
    placements: tuple[Placement | None, ...]
    sla_met: int = 0
    upper_bound: int | None = None
    price: float = 0.0
    price_optimal: bool = False
    variables: int = 0
    columns: int = 0
    constraints: int = 0
    seconds: float = 0.0
    bind_conflicts: int = 0

    @property
    def optimal(self) -> bool:
        """Whether optimality (of the SLA count) was proven."""
        return self.status == "optimal"

    @property
    def solved(self) -> bool:
        """Whether placements came back (optimal or the best found)."""
        return self.status in {"optimal", "time limit", "restricted"}


def solve_optimum(
    state: ClusterState,
    requests: Sequence[Request],
    *,
    time_limit_s: float = 60.0,
    max_variables: int = 20_000,
    max_columns: int = MAX_COLUMNS,
    max_paths_per_pair: int | None = None,
    least_price: bool = True,
    factories: Mapping[str, PluginFactory] | None = None,
) -> OptimumResult:
    """Most tasks within their SLA, then least price: placed and reserved on ``state``.

    Args:
        state: The cluster (its ledger receives the optimum's reservations when solved).
        requests: The batch (unique task ids).
        time_limit_s: For both stages together; past it the best found so far is returned.
        max_variables: Largest integer program attempted (columns); above, status
            ``too large`` when even the first working set is larger.
        max_columns: Admissible columns listed at most; above, status ``too large``.
        max_paths_per_pair: Cap of each (class, site) path listing (default
            ``paths.MAX_PATHS_PER_PAIR``); a listing that reaches it makes the result
            ``restricted``.
        least_price: Run the second stage (least price at the most tasks within SLA); without
            it the placements are the first stage's, their price not minimised.
        factories: Plugin factories (default: in-tree plus entry points).

    Raises:
        BatchError: repeated or already held task ids.
    """
    started = time.perf_counter()
    deadline = started + time_limit_s
    check_batch(state, requests)
    unplaced: tuple[Placement | None, ...] = (None,) * len(requests)
    groups = group_classes(requests)
    columns = build_columns(
        state,
        groups,
        max_columns=max_columns,
        factories=factories,
        max_paths_per_pair=max_paths_per_pair,
    )

    def result(status: str, variables: int = 0, upper_bound: int | None = None) -> OptimumResult:
        seconds = time.perf_counter() - started
        return OptimumResult(
            status,
            unplaced,
            upper_bound=upper_bound,
            price_optimal=upper_bound == 0,
            variables=variables,
            columns=len(columns),
            seconds=seconds,
        )

    if columns.too_many:
        return result("too large", variables=len(columns))
    if not len(columns):
        if not columns.complete:
            return result("restricted")
        return result("optimal", upper_bound=0)
    pairs = columns.cls * len(state.arrays.node_ids) + columns.node
    _, first = np.unique(pairs, return_index=True)  # one column per (class, node) to start
    if first.size > max_variables:
        return result("too large", variables=first.size)
    master = Master(state, columns)
    try:
        count = master.solve(
            -np.ones(len(columns)), first, at_least=None, step=1.0, deadline=deadline,
            max_variables=max_variables,
        )  # fmt: skip
        met = int(count.counts.sum())
        price = (
            count
            if not least_price
            else _price_stage(
                master,
                columns,
                count,
                pairs,
                met=met,
                deadline=deadline,
                max_variables=max_variables,
            )
        )
    except RuntimeError as error:
        return result(f"failed: {error}")
    placements, conflicts = _bind(state, requests, groups, columns, price.counts)
    # Proven: the optimum's count bounds every placement (bind refusals only lower ``met``).
    bound: int | None = met if count.proven else math.floor(-count.bound + 1e-6)
    met = sum(p is not None for p in placements)
    status = "optimal" if count.proven and not conflicts else "time limit"
    if not columns.complete:
        status, bound = "restricted", None
    return OptimumResult(
        status,
        placements,
        sla_met=met,
        upper_bound=None if bound is None else max(bound, met),
        price=float(sum(p.estimate.cost for p in placements if p is not None)),
        price_optimal=least_price and price.proven and count.proven and columns.complete,
        variables=max(count.variables, price.variables),
        columns=len(columns),
        constraints=max(count.constraints, price.constraints),
        seconds=time.perf_counter() - started,
        bind_conflicts=conflicts,
    )


def _price_stage(
    master: Master,
    columns: Columns,
    count: Solved,
    pairs: np.ndarray,
    *,
    met: int,
    deadline: float,
    max_variables: int,
) -> Solved:
    """The least price among placements of ``met`` tasks (``count``'s answer if none found)."""
    if met == 0:
        return Solved(count.counts, 0.0, 0.0, True, count.variables, count.constraints)
    cost = np.nan_to_num(columns.cost, posinf=1e12)
    order = np.lexsort((cost, pairs))  # the cheapest column of each (class, node) too
    cheapest = order[np.r_[True, pairs[order][1:] != pairs[order][:-1]]]
    start = np.union1d(np.flatnonzero(count.counts > 0), cheapest)
    scale = float(np.abs(cost[count.counts > 0]).max(initial=1.0))
    return master.solve(
        cost,
        start,
        at_least=met,
        step=1e-7 * max(1.0, scale),
        deadline=max(deadline, time.perf_counter() + _MIN_PRICE_STAGE_S),
        max_variables=max_variables,
        fallback=count.counts,
    )


def _bind(
    state: ClusterState,
    requests: Sequence[Request],
    groups: Sequence[TaskClassGroup],
    columns: Columns,
    counts: np.ndarray,
) -> tuple[tuple[Placement | None, ...], int]:
    """Reserve the chosen columns through the ledger; (placements, refusals)."""
    placements: list[Placement | None] = [None] * len(requests)
    cursor = [0] * len(groups)
    conflicts = 0
    arrays = state.arrays
    for j in np.flatnonzero(counts > 0).tolist():
        c, node, path = int(columns.cls[j]), int(columns.node[j]), int(columns.path[j])
        group, part = groups[c], columns.node_parts[c]
        spec = group.spec
        links = columns.path_links[path]
        reserved = float(columns.classes.bandwidth_mbps[c]) if links else 0.0
        estimate = Estimate(
            network_ms=float(columns.network_ms[j]),
            queueing_ms=float(part.queueing_ms[node]),
            compute_ms=float(part.compute_ms[node]),
            fixed_ms=spec.fixed_latency_ms,
            cost=float(columns.cost[j]),
            energy_kwh=float(part.energy_kwh[node]),
            carbon_g=float(part.carbon_g[node]),
        )
        for member in group.members[cursor[c] : cursor[c] + int(counts[j])]:
            task_id = requests[member].task_id
            try:
                state.reservations.reserve(Reservation.of(task_id, node, spec, links, reserved))
            except OverCommitError:
                conflicts += 1
                break
            placements[member] = Placement(
                task_id=task_id,
                node_id=arrays.node_ids[node],
                path=tuple(arrays.vertex_ids[v] for v in columns.path_vertices[path]),
                segments=tuple(arrays.link_ids[i] for i in links),
                reserved_bandwidth_mbps=reserved,
                estimate=estimate,
            )
            cursor[c] += 1
    return tuple(placements), conflicts
