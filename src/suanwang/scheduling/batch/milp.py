"""The exact optimum of a small batch: a MILP over classes, nodes and paths (scipy, HiGHS).

Variables ``y[c, n, p]`` count the tasks of class ``c`` placed on node ``n`` along path ``p``
(one of the ``k`` latency-shortest simple paths from the class's ingress to the node's site over
links with the bandwidth it needs). Tasks of a class are identical, so integer counts are exact
for the per-task assignment and far smaller. Only combinations whose estimate keeps every term
of the SLA (``evaluate.SlaCheck``: latency budget, deadline, price, residency, trust) get a
variable, so the objective "most tasks placed" is "most tasks within their SLA"; ties go to the
lowest total price (a weight too small to trade a single task). Constraints: members per
class; free cores, memory and devices of each kind per node; residual bandwidth per link over
every path that uses it.

Estimates are those of the scheduling cycle against the state before the batch (queueing from
the load already reserved; transfer at the residual bottleneck): the reservations of the batch
dedicate cores, devices and bandwidth to each task, and the online scheduler's estimates, which
also count the load of the batch's earlier tasks, are never lower. So no profile's placements
can meet more SLAs than the optimum, as long as they use one of its ``k`` paths.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array, csr_array

from suanwang.model import ACCELERATOR_KINDS, AcceleratorNeed, Estimate, Placement
from suanwang.routing import (
    MAX_K_SHORTEST_VERTICES,
    NoPathError,
    Path,
    ShortestPaths,
    distances_from,
    k_shortest_paths,
    routing_graph,
)
from suanwang.scheduling.batch.flow import check_batch
from suanwang.scheduling.batch.requests import TaskClassGroup, group_classes
from suanwang.scheduling.cycle import Cycle, required_bandwidth_mbps
from suanwang.scheduling.framework import FloatArray, Request, RouteResult, Stage
from suanwang.scheduling.profile import Profile
from suanwang.scheduling.registry import PluginFactory
from suanwang.scheduling.reservations import OverCommitError, Reservation
from suanwang.scheduling.scheduler import ProfilePlugins
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
"""Filters that decide which (class, node, path) may hold a task: capacity and the SLA."""
_PROFILE = Profile("milp-optimum", filters=SLA_FILTERS, scores={"cost": 1.0})


@dataclass(frozen=True, slots=True)
class OptimumResult:
    """The MILP's answer.

    Attributes:
        status: ``optimal``, ``time limit`` (best found so far), ``too large`` (not solved:
            more variables than allowed) or ``failed: ...``.
        placements: One entry per request (None: not placed); all None unless solved.
        sla_met: Tasks placed, all within their SLA.
        upper_bound: Most tasks any placement can meet the SLA of (proven; equals ``sla_met``
            when optimal), or None when unknown.
        variables: Integer variables.
        constraints: Constraint rows.
        seconds: Time to build, solve and bind.
        bind_conflicts: Assignments the ledger refused (0 unless the solver's tolerance bit).
    """

    status: str
    placements: tuple[Placement | None, ...]
    sla_met: int = 0
    upper_bound: int | None = None
    variables: int = 0
    constraints: int = 0
    seconds: float = 0.0
    bind_conflicts: int = 0

    @property
    def optimal(self) -> bool:
        """Whether optimality was proven."""
        return self.status == "optimal"

    @property
    def solved(self) -> bool:
        """Whether placements came back (optimal or the best found in the time limit)."""
        return self.status in {"optimal", "time limit"}


@dataclass(slots=True)
class _Choices:
    """Variables: one (class, node, path) each, with what binding needs."""

    classes: list[int]
    nodes: list[int]
    paths: list[Path]
    links: list[tuple[int, ...]]
    estimates: list[Estimate]

    def __len__(self) -> int:
        return len(self.nodes)


class _PathBook:
    """The k latency-shortest paths per (ingress, site, bandwidth), computed once each."""

    def __init__(self, state: ClusterState, k: int) -> None:
        self.graph = routing_graph(state.topology)
        self.k = k if self.graph.n_vertices <= MAX_K_SHORTEST_VERTICES else 1
        self._trees: dict[tuple[str, float], ShortestPaths] = {}
        self.residual = state.reservations.residual_mbps()
        self.link_index = {link: i for i, link in enumerate(self.graph.link_ids)}
        self.link_cost = state.arrays.link_cost_per_gb
        self._paths: dict[tuple[str, int, float], list[Path]] = {}

    def paths(self, ingress: str, vertex: int, bandwidth: float) -> list[Path]:
        key = (ingress, vertex, bandwidth)
        found = self._paths.get(key)
        if found is None:
            if self.k == 1:
                tree = self._trees.get((ingress, bandwidth))
                if tree is None:
                    tree = self._trees[(ingress, bandwidth)] = distances_from(
                        self.graph,
                        ingress,
                        residual_bandwidth_mbps=self.residual,
                        min_bandwidth_mbps=bandwidth,
                    )
                try:
                    found = [tree.path(vertex)]
                except NoPathError:
                    found = []
            else:
                found = k_shortest_paths(
                    self.graph,
                    ingress,
                    vertex,
                    self.k,
                    residual_bandwidth_mbps=self.residual,
                    min_bandwidth_mbps=bandwidth,
                )
            self._paths[key] = found
        return found

    def links(self, path: Path) -> tuple[int, ...]:
        return tuple(self.link_index[segment] for segment in path.segments)

    def cost_per_gb(self, path: Path) -> float:
        return float(sum(self.link_cost[i] for i in self.links(path)))


def solve_optimum(
    state: ClusterState,
    requests: Sequence[Request],
    *,
    time_limit_s: float = 60.0,
    k_paths: int = 3,
    max_variables: int = 20_000,
    factories: Mapping[str, PluginFactory] | None = None,
) -> OptimumResult:
    """Most tasks within their SLA, then least price: placed and reserved on ``state``.

    Args:
        state: The cluster (its ledger receives the optimum's reservations when solved).
        requests: The batch (unique task ids).
        time_limit_s: HiGHS time limit; past it the best placement found so far is returned.
        k_paths: Paths per ingress and node site (1 on graphs too large for Yen's algorithm).
        max_variables: Solve only up to this many variables; above, status ``too large``.
        factories: Plugin factories (default: in-tree plus entry points).

    Raises:
        BatchError: repeated or already held task ids.
    """
    started = time.perf_counter()
    check_batch(state, requests)
    unplaced: tuple[Placement | None, ...] = (None,) * len(requests)
    groups = group_classes(requests)
    book = _PathBook(state, max(1, k_paths))
    if book.k > 1:  # the shortest paths alone already too many? (cheap: no Yen's algorithm)
        shortest = _choices(state, groups, _PathBook(state, 1), factories)
        if len(shortest) > max_variables:
            seconds = time.perf_counter() - started
            return OptimumResult("too large", unplaced, variables=len(shortest), seconds=seconds)
    choices = _choices(state, groups, book, factories)
    if len(choices) > max_variables:
        return OptimumResult(
            "too large", unplaced, variables=len(choices), seconds=time.perf_counter() - started
        )
    if not len(choices):
        seconds = time.perf_counter() - started
        return OptimumResult("optimal", unplaced, upper_bound=0, seconds=seconds)
    objective, matrix, upper, bounds = _model(state, groups, choices)
    result = milp(
        objective,
        integrality=np.ones(len(choices), dtype=np.int64),
        bounds=Bounds(0, bounds),
        constraints=LinearConstraint(matrix, -np.inf, upper),
        options={"time_limit": time_limit_s, "mip_rel_gap": 0.0, "disp": False},
    )
    dual = getattr(result, "mip_dual_bound", None)
    bound = None if dual is None or not np.isfinite(dual) else int(np.floor(-dual + 0.5))
    if result.x is None:
        status = "time limit" if result.status == 1 else f"failed: {result.message}"
        return OptimumResult(
            status,
            unplaced,
            upper_bound=bound,
            variables=len(choices),
            constraints=matrix.shape[0],
            seconds=time.perf_counter() - started,
        )
    status = "optimal" if result.status == 0 else "time limit"
    counts = np.rint(result.x).astype(np.int64)
    placements, conflicts = _bind(state, requests, groups, choices, counts=counts)
    met = sum(p is not None for p in placements)
    return OptimumResult(
        status,
        placements,
        sla_met=met,
        upper_bound=met if status == "optimal" and not conflicts else bound,
        variables=len(choices),
        constraints=matrix.shape[0],
        seconds=time.perf_counter() - started,
        bind_conflicts=conflicts,
    )


def _choices(
    state: ClusterState,
    groups: Sequence[TaskClassGroup],
    book: _PathBook,
    factories: Mapping[str, PluginFactory] | None,
) -> _Choices:
    """Every (class, node, path) that passes the capacity and SLA filters."""
    plugins = ProfilePlugins(_PROFILE, state, factories)
    arrays = state.arrays
    n_nodes = len(arrays.node_ids)
    ingress_vertex = {v: i for i, v in enumerate(arrays.vertex_ids)}
    out = _Choices([], [], [], [], [])
    for c, group in enumerate(groups):
        spec = group.spec
        ingress = spec.ingress_site
        if ingress is None or ingress not in state.topology.sites:
            continue
        request = Request(f"class:{group.members[0]}", spec)
        base = Cycle(request, state, alive=np.ones(n_nodes, dtype=bool))
        for plugin in plugins.filters[Stage.PRE_ROUTE]:
            base.reject(plugin.name, np.asarray(plugin.filter(base), dtype=bool))
        candidates = base.alive.nonzero()[0]
        if candidates.size == 0:
            continue
        bandwidth = required_bandwidth_mbps(spec)
        source = ingress_vertex[ingress]
        by_vertex = {
            int(v): book.paths(ingress, int(v), bandwidth)
            for v in np.unique(arrays.node_vertex[candidates])
        }
        for rank in range(book.k):
            route, chosen = _route(
                arrays.node_vertex, candidates, by_vertex, rank=rank, source=source, book=book
            )
            if not chosen:
                break
            cycle = Cycle(request, state, alive=base.alive.copy(), route=route)
            cycle.reject(plugins.route.name, np.isfinite(route.latency_ms))
            for plugin in plugins.filters[Stage.POST_ROUTE]:
                if cycle.alive.any():
                    cycle.reject(plugin.name, np.asarray(plugin.filter(cycle), dtype=bool))
            for node in cycle.alive.nonzero()[0].tolist():
                path = chosen[int(arrays.node_vertex[node])]
                out.classes.append(c)
                out.nodes.append(node)
                out.paths.append(path)
                out.links.append(book.links(path))
                out.estimates.append(cycle.estimate(node))
    return out


def _route(
    node_vertex: np.ndarray,
    candidates: np.ndarray,
    by_vertex: Mapping[int, list[Path]],
    *,
    rank: int,
    source: int,
    book: _PathBook,
) -> tuple[RouteResult, dict[int, Path]]:
    """Route figures per node along each site's ``rank``-th path (inf where it has none)."""
    n = len(node_vertex)
    latency, bottleneck = np.full(n, np.inf), np.zeros(n)
    hops, cost = np.zeros(n), np.full(n, np.inf)
    chosen: dict[int, Path] = {}
    for vertex, paths in by_vertex.items():
        if vertex == source and rank > 0:
            continue  # one way to stay at the ingress site
        if rank < len(paths):
            chosen[vertex] = paths[rank]
    for node in candidates.tolist():
        path = chosen.get(int(node_vertex[node]))
        if path is not None:
            latency[node], bottleneck[node] = path.latency_ms, path.bottleneck_mbps
            hops[node], cost[node] = path.hops, book.cost_per_gb(path)
    return RouteResult(latency, bottleneck, hops, cost), chosen


def _model(
    state: ClusterState, groups: Sequence[TaskClassGroup], choices: _Choices
) -> tuple[FloatArray, csr_array, FloatArray, FloatArray]:
    """Objective, constraint matrix, right-hand sides and upper bounds of the variables."""
    arrays, ledger = state.arrays, state.reservations
    n_vars, n_nodes, n_kinds = len(choices), len(arrays.node_ids), len(ACCELERATOR_KINDS)
    cls = np.array(choices.classes)
    node = np.array(choices.nodes)
    specs = [g.spec for g in groups]
    counts = np.array([g.count for g in groups], dtype=np.float64)
    cost = np.array([e.cost for e in choices.estimates])
    scale = float(cost.max()) if cost.size and cost.max() > 0 else 1.0
    weight = 0.5 / (counts.sum() + 1.0)  # all the price terms together stay below one task
    objective = -1.0 + weight * cost / scale
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    values: list[np.ndarray] = []
    upper: list[FloatArray] = []

    def add(row: np.ndarray, var: np.ndarray, value: np.ndarray, rhs: FloatArray) -> None:
        """A block of rows: entry i puts ``value[i]`` at (block row ``row[i]``, ``var[i]``)."""
        keep = value != 0
        rows.append(sum(u.size for u in upper) + row[keep])
        cols.append(var[keep])
        values.append(value[keep])
        upper.append(np.asarray(rhs, dtype=np.float64))

    every = np.arange(n_vars)
    add(cls, every, np.ones(n_vars), counts)
    add(node, every, np.array([s.cpu_cores for s in specs])[cls], ledger.free_cpu_cores())
    add(node, every, np.array([s.mem_gib for s in specs])[cls], ledger.free_mem_gib())
    kind = np.array([_kind(s.accelerator) for s in specs])[cls]
    devices = np.array([0 if s.accelerator is None else s.accelerator.count for s in specs])[cls]
    add(node * n_kinds + np.maximum(kind, 0), every, devices.astype(np.float64),
        ledger.free_accelerators().reshape(n_nodes * n_kinds))  # fmt: skip
    bandwidth = np.array([required_bandwidth_mbps(s) for s in specs])[cls]
    link_var = np.repeat(every, [len(links) for links in choices.links])
    link_row = np.array([i for links in choices.links for i in links], dtype=np.int64)
    add(link_row, link_var, bandwidth[link_var], ledger.residual_mbps())
    rhs = np.concatenate(upper)
    matrix = coo_array(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(rhs.size, n_vars),
    ).tocsr()
    used = np.flatnonzero(np.diff(matrix.indptr) > 0)  # drop rows no variable touches
    bounds: FloatArray = counts[cls]
    return objective, csr_array(matrix[used]), rhs[used] + 1e-9, bounds


def _kind(need: AcceleratorNeed | None) -> int:
    """Index of the device kind a task needs (-1 for none)."""
    return -1 if need is None else ACCELERATOR_KINDS.index(need.kind)


def _bind(
    state: ClusterState,
    requests: Sequence[Request],
    groups: Sequence[TaskClassGroup],
    choices: _Choices,
    *,
    counts: np.ndarray,
) -> tuple[tuple[Placement | None, ...], int]:
    """Reserve the optimum through the ledger."""
    placements: list[Placement | None] = [None] * len(requests)
    cursor = [0] * len(groups)
    conflicts = 0
    node_ids = state.arrays.node_ids
    for var in np.flatnonzero(counts > 0).tolist():
        c, node, path = choices.classes[var], choices.nodes[var], choices.paths[var]
        group = groups[c]
        spec, need = group.spec, group.spec.accelerator
        reserved = required_bandwidth_mbps(spec) if path.segments else 0.0
        for member in group.members[cursor[c] : cursor[c] + int(counts[var])]:
            task_id = requests[member].task_id
            try:
                state.reservations.reserve(
                    Reservation(
                        task_id,
                        node,
                        spec.cpu_cores,
                        spec.mem_gib,
                        None if need is None else need.kind,
                        0 if need is None else need.count,
                        choices.links[var],
                        reserved,
                    )
                )
            except OverCommitError:
                conflicts += 1
                break
            placements[member] = Placement(
                task_id=task_id,
                node_id=node_ids[node],
                path=path.vertices,
                segments=path.segments,
                reserved_bandwidth_mbps=reserved,
                estimate=choices.estimates[var],
            )
            cursor[c] += 1
    return tuple(placements), conflicts
