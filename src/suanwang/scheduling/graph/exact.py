"""The exact optimum of a small graph placement: a MILP on HiGHS (``scipy.optimize.milp``).

The model is the list scheduler's (``costs.GraphCosts``, ``timing.evaluate``), so the
gap between the two is the heuristic's alone. Variables: ``x[s, n]`` (stage s on node position
n, binary, only where its compute is finite), ``t[s]`` (start, ms) and ``C`` (makespan, ms).
Minimise C subject to

* each stage on one node: sum_n x[s, n] = 1;
* entry stages wait for their input: t[s] >= sum_n in_comm[s, n] x[s, n];
* precedence with communication between the assigned nodes, disjunctive big-M per edge
  (u, v) and parent node a: t[v] >= t[u] + sum_n w[u, n] x[u, n] + sum_b comm[a, b] x[v, b]
  - M_a (1 - x[u, a]), M_a = max_b comm[a, b]; unreachable pairs get x[u, a] + x[v, b] <= 1;
* the makespan covers each exit's result back at the ingress:
  C >= t[s] + sum_n (w[s, n] + out_comm[s, n]) x[s, n];
* capacity, as stages hold their room for the graph's run: sum_s demand[s, r] x[s, n] <=
  free[n, r] for every node and resource.

It grows as edges x nodes^2 and is meant for about 10 stages on 8 nodes. With a time limit
the best assignment found is returned with HiGHS's proven lower bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from suanwang.model.graph import TaskGraph
from suanwang.scheduling.graph.costs import GraphCosts, GraphPlacementError, IntArray
from suanwang.scheduling.graph.timing import GraphSchedule, evaluate

MIP_REL_GAP = 1e-7
"""Relative gap at which HiGHS calls an incumbent optimal (its default, 1e-4, is too coarse
for measuring a heuristic's gap)."""


@dataclass(frozen=True, eq=False)
class ExactResult:
    """The MILP's answer.

    Attributes:
        schedule: The best assignment found, timed by ``timing.evaluate``.
        bound_ms: Proven lower bound on the makespan (equals it when ``proven``).
        proven: Whether the makespan is proven optimal (within ``MIP_REL_GAP``).
        solve_s: Wall time of the solve.
    """

    schedule: GraphSchedule
    bound_ms: float
    proven: bool
    solve_s: float


class _Rows:
    """Sparse constraint rows ``lower <= A x <= upper``, built a coefficient at a time."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.values: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []

    def add(self, terms: dict[int, float], lower: float, upper: float) -> None:
        row = len(self.lower)
        for col, value in terms.items():
            if value:
                self.rows.append(row)
                self.cols.append(col)
                self.values.append(value)
        self.lower.append(lower)
        self.upper.append(upper)

    def constraint(self, n_vars: int) -> LinearConstraint:
        matrix = coo_array(
            (self.values, (self.rows, self.cols)), shape=(len(self.lower), n_vars)
        ).tocsr()
        return LinearConstraint(matrix, np.array(self.lower), np.array(self.upper))


def solve_exact(graph: TaskGraph, costs: GraphCosts, *, time_limit_s: float = 60.0) -> ExactResult:
    """The least-makespan placement of ``graph`` under ``costs`` (module docstring).

    Raises:
        GraphPlacementError: No assignment satisfies the capacities, or the solver found none
            within the time limit.
    """
    model = _Model(graph, costs)
    n_vars = model.makespan + 1
    objective = np.zeros(n_vars)
    objective[model.makespan] = 1.0
    integrality = np.zeros(n_vars, dtype=np.int64)
    integrality[: model.t0] = 1
    upper = np.full(n_vars, np.inf)
    upper[: model.t0] = 1.0
    started = time.perf_counter()
    result = milp(
        objective,
        constraints=model.rows.constraint(n_vars),
        integrality=integrality,
        bounds=Bounds(np.zeros(n_vars), upper),
        options={"time_limit": time_limit_s, "mip_rel_gap": MIP_REL_GAP},
    )
    solve_s = time.perf_counter() - started
    if result.x is None:
        raise GraphPlacementError(
            f"graph {graph.id!r}: the MILP found no placement ({result.message})"
        )
    chosen = np.asarray(result.x)
    position = np.empty(len(graph.stages), dtype=np.intp)
    for s in range(len(graph.stages)):
        position[s] = max(model.placed(s), key=lambda n: chosen[model.x[s, n]])
    schedule = evaluate(graph, costs, position)
    proven = result.status == 0
    bound = schedule.makespan_ms if proven else float(getattr(result, "mip_dual_bound", 0.0))
    return ExactResult(schedule, bound, proven, solve_s)


class _Model:
    """The MILP's variables and rows (module docstring) for one graph and cost model."""

    def __init__(self, graph: TaskGraph, costs: GraphCosts) -> None:
        self.graph, self.costs = graph, costs
        self.x: dict[tuple[int, int], int] = {}
        for s in range(len(graph.stages)):
            for n in self.placed(s):
                self.x[s, n] = len(self.x)
        self.t0 = len(self.x)
        self.makespan = self.t0 + len(graph.stages)
        self.rows = _Rows()
        for s in range(len(graph.stages)):
            self.rows.add({self.x[s, n]: 1.0 for n in self.placed(s)}, 1.0, 1.0)
        for s in graph.entries:
            self._entry(s)
        for k in range(len(graph.edges)):
            self._precedence(k)
        for s in graph.exits:
            self._exit(s)
        self._capacity()

    def placed(self, s: int) -> list[int]:
        """Positions stage ``s`` may go to."""
        positions: list[int] = self.costs.candidates[s].tolist()
        return positions

    def _sites(self, s: int) -> IntArray:
        return self.costs.node_site[self.costs.candidates[s]]

    def _forbid(self, s: int, n: int) -> None:
        self.rows.add({self.x[s, n]: 1.0}, 0.0, 0.0)

    def _entry(self, s: int) -> None:
        costs = self.costs
        arrive = costs.comm_ms(costs.ingress, self._sites(s), float(costs.input_mb[s]))
        terms = {self.t0 + s: 1.0}
        for n, value in zip(self.placed(s), arrive.tolist(), strict=True):
            if np.isfinite(value):
                terms[self.x[s, n]] = -value
            else:
                self._forbid(s, n)
        self.rows.add(terms, 0.0, np.inf)

    def _precedence(self, k: int) -> None:
        costs, x = self.costs, self.x
        u, v = self.graph.ends[k]
        data = float(costs.edge_data_mb[k])
        for a in self.placed(u):
            comm = costs.comm_ms(int(costs.node_site[a]), self._sites(v), data)
            reachable = np.isfinite(comm)
            big_m = float(comm[reachable].max()) if reachable.any() else 0.0
            terms = {self.t0 + v: 1.0, self.t0 + u: -1.0, x[u, a]: -big_m}
            for n in self.placed(u):
                terms[x[u, n]] = terms.get(x[u, n], 0.0) - float(costs.compute_ms[u, n])
            for b, value, ok in zip(self.placed(v), comm.tolist(), reachable.tolist(), strict=True):
                if ok:
                    terms[x[v, b]] = -value
                else:
                    self.rows.add({x[u, a]: 1.0, x[v, b]: 1.0}, -np.inf, 1.0)
            self.rows.add(terms, -big_m, np.inf)

    def _exit(self, s: int) -> None:
        costs = self.costs
        back = costs.comm_ms(costs.ingress, self._sites(s), float(costs.result_mb[s]))
        terms = {self.makespan: 1.0, self.t0 + s: -1.0}
        for n, value in zip(self.placed(s), back.tolist(), strict=True):
            if np.isfinite(value):
                terms[self.x[s, n]] = -(float(costs.compute_ms[s, n]) + value)
            else:
                self._forbid(s, n)
        self.rows.add(terms, 0.0, np.inf)

    def _capacity(self) -> None:
        costs = self.costs
        for n in range(costs.nodes.size):
            for r in range(costs.demand.shape[1]):
                terms = {
                    self.x[s, n]: float(costs.demand[s, r])
                    for s in range(len(self.graph.stages))
                    if (s, n) in self.x
                }
                if any(terms.values()):
                    self.rows.add(terms, -np.inf, float(costs.free[n, r]) + 1e-9)
