"""Column generation over the admissible columns, and an integer answer with a proof or a bound.

Written as a minimisation ``min c.y  s.t.  A y <= b, y >= 0 integer`` whose rows are the
members of each class, the free cores, memory and devices of each kind per node, the residual
bandwidth per link, and optionally "at least ``k`` tasks placed". ``A`` is never built for all
columns: the restricted master LP (HiGHS) runs on a working set, its duals ``lam <= 0`` price
every column at once (``rc = c - lam.A``, in numpy), and the most negative join the set until
none is negative. Then ``lam.b`` is the LP bound over all columns, and for any integer ``y``,
``c.y >= lam.b + rc.y`` (weak duality), so a solution that beats an incumbent ``U`` by ``step``
uses only columns with ``rc <= U - step - lam.b``. The integer program is solved on the
working set, then on the working set plus every such column: its optimum is the optimum over
all columns, and when a time limit stops it, its dual bound is a bound for them all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import coo_array, csr_array

from suanwang.model import ACCELERATOR_KINDS
from suanwang.scheduling.batch.columns import Columns
from suanwang.scheduling.framework import FloatArray
from suanwang.scheduling.reservations import Reservations
from suanwang.scheduling.state import ClusterState

_TOLERANCE = 1e-7
"""Relative slack under which an incumbent counts as proven (HiGHS works to about 1e-9)."""
_MAX_ITERATIONS = 500
_INCUMBENT_SHARE = 0.1
"""Share of the time left given to finding an incumbent on the working set."""


@dataclass(frozen=True, slots=True)
class Solved:
    """One stage's answer.

    Attributes:
        counts: Tasks per column (over all columns), integer.
        value: Objective of ``counts``.
        bound: Proven lower bound of the objective over all columns (minimisation).
        proven: Whether ``value`` is proven optimal.
        variables: Columns in the last integer program.
        constraints: Its rows.
    """

    counts: np.ndarray
    value: float
    bound: float
    proven: bool
    variables: int
    constraints: int


class Master:
    """The rows of the placement problem and the column-generation procedure over them.

    Args:
        state: Free capacity is read from its ledger.
        columns: Every admissible column.
    """

    def __init__(self, state: ClusterState, columns: Columns) -> None:
        ledger = state.reservations
        self.columns = columns
        figures = columns.classes
        self.n_classes = int(figures.count.size)
        self.n_nodes = len(state.arrays.node_ids)
        self.n_kinds = len(ACCELERATOR_KINDS)
        self.n_links = len(state.arrays.link_ids)
        self.rhs = np.concatenate(
            [
                figures.count,
                ledger.free_cpu_cores(),
                ledger.free_mem_gib(),
                ledger.free_accelerators().reshape(-1),
                ledger.residual_mbps(),
            ]
        ).astype(np.float64)
        self.rhs = np.maximum(self.rhs, 0.0) + 1e-9  # the ledger's own slack
        c, n = columns.cls, columns.node
        self._cpu, self._mem = figures.cpu_cores[c], figures.mem_gib[c]
        self._dev, self._bw = figures.devices[c], figures.bandwidth_mbps[c]
        kind = np.maximum(figures.kind[c], 0)
        base = self.n_classes
        self._rows = (c, base + n, base + self.n_nodes + n,
                      base + 2 * self.n_nodes + n * self.n_kinds + kind)  # fmt: skip
        self._link_base = base + 2 * self.n_nodes + self.n_nodes * self.n_kinds
        self.upper = self._column_bounds(ledger, columns)

    def _column_bounds(self, ledger: Reservations, columns: Columns) -> FloatArray:
        """Most tasks each column can hold on its own: tight bounds prune the search."""
        figures, c = columns.classes, columns.cls
        upper = figures.count[c].copy()
        slack = 1e-9
        for need, free in (
            (self._cpu, ledger.free_cpu_cores()[columns.node]),
            (self._mem, ledger.free_mem_gib()[columns.node]),
        ):
            with np.errstate(divide="ignore", invalid="ignore"):
                upper = np.where(
                    need > 0, np.minimum(upper, np.floor((free + slack) / need)), upper
                )
        kind = figures.kind[c]
        devices = ledger.free_accelerators()[columns.node, np.maximum(kind, 0)]
        with np.errstate(divide="ignore", invalid="ignore"):
            upper = np.where(
                kind >= 0, np.minimum(upper, np.floor((devices + slack) / self._dev)), upper
            )
        # The path's least residual over the class's bandwidth (inf without links).
        lengths = np.diff(columns.incidence.indptr)
        residual = np.maximum(ledger.residual_mbps(), 0.0)
        least = np.full(lengths.size, np.inf)
        has = lengths > 0
        if has.any():
            starts = columns.incidence.indptr[:-1][has]
            least[has] = np.minimum.reduceat(residual[columns.incidence.indices], starts)
        with np.errstate(divide="ignore", invalid="ignore"):
            by_path = np.floor((least[columns.path] + slack) / self._bw)
        upper = np.where(self._bw > 0, np.minimum(upper, by_path), upper)
        return np.maximum(upper, 0.0)

    def matrix(self, subset: np.ndarray, at_least: int | None) -> tuple[csr_array, FloatArray]:
        """``A`` and ``b`` restricted to ``subset`` (plus the count row when ``at_least``)."""
        k = subset.size
        cols: list[np.ndarray] = [np.arange(k)] * 4
        rows: list[np.ndarray] = [r[subset] for r in self._rows]
        values: list[np.ndarray] = [
            np.ones(k),
            self._cpu[subset],
            self._mem[subset],
            self._dev[subset],
        ]
        paths = self.columns.incidence[self.columns.path[subset]]
        coo = coo_array(paths)
        rows.append(self._link_base + coo.col)
        cols.append(coo.row)
        values.append(self._bw[subset][coo.row])
        rhs = self.rhs
        if at_least is not None:
            rows.append(np.full(k, rhs.size))
            cols.append(np.arange(k))
            values.append(-np.ones(k))
            rhs = np.r_[rhs, -float(at_least) + 1e-9]
        value = np.concatenate(values)
        keep = value != 0
        matrix = coo_array(
            (value[keep], (np.concatenate(rows)[keep], np.concatenate(cols)[keep])),
            shape=(rhs.size, k),
        )
        return csr_array(matrix), rhs

    def reduced(self, objective: FloatArray, duals: FloatArray, at_least: int | None) -> FloatArray:
        """Reduced cost of every column under ``duals`` (one per row of ``matrix``)."""
        priced = sum(d[r] * v for d, r, v in zip(
            [duals] * 4, self._rows, (1.0, self._cpu, self._mem, self._dev), strict=True
        ))  # fmt: skip
        link_duals = duals[self._link_base : self._link_base + self.n_links]
        per_path = self.columns.incidence @ link_duals
        priced = priced + self._bw * per_path[self.columns.path]
        if at_least is not None:
            priced = priced - duals[-1]
        reduced: FloatArray = objective - priced
        return reduced

    def solve(
        self,
        objective: FloatArray,
        start: np.ndarray,
        *,
        at_least: int | None,
        step: float,
        deadline: float,
        max_variables: int,
        fallback: np.ndarray | None = None,
    ) -> Solved:
        """Least ``objective.y`` over all columns, starting from the working set ``start``.

        Args:
            objective: Cost per column (all columns).
            start: Indexes of the initial working set; its LP must be feasible.
            at_least: Place at least this many tasks (the lexicographic second stage).
            step: How much a better solution must improve (1 for counts; a tolerance for price).
            deadline: ``time.perf_counter()`` past which solving stops.
            max_variables: Largest integer program attempted.
            fallback: Counts over all columns to return when no integer solution is found in
                time (default: the LP answer rounded down, feasible without ``at_least``).
        """
        subset, lp_counts, duals, bound, converged = self._generate(
            objective, np.unique(start), at_least, deadline
        )
        # An incumbent only (the proof comes from the wider program): a short look.
        soon = time.perf_counter() + max(0.5, _INCUMBENT_SHARE * (deadline - time.perf_counter()))
        counts, value, _, _, rows = self._integer(objective, subset, at_least, min(deadline, soon))
        if counts is None:  # no integer answer in time: rounding down the LP stays feasible
            counts = fallback if fallback is not None else np.floor(lp_counts + 1e-9)
            counts = counts.astype(np.int64)
            value = float(objective @ counts)
        used = subset.size
        if not converged:
            return Solved(counts, value, bound, False, used, rows)
        slack = value - step - bound
        if slack < -_TOLERANCE * max(1.0, abs(value)):
            return Solved(counts, value, bound, True, used, rows)
        reduced = self.reduced(objective, duals, at_least)
        wider = np.union1d(subset, np.flatnonzero(reduced <= slack + 1e-6))
        if wider.size > max_variables or time.perf_counter() >= deadline:
            return Solved(counts, value, bound, False, used, rows)
        found, found_value, dual, proven, rows = self._integer(objective, wider, at_least, deadline)
        # Anything better than the incumbent lies among ``wider``: its dual bound holds for all.
        wide_bound = max(bound, min(dual, value - step))
        if found is not None and found_value < value:
            counts, value = found, found_value
        return Solved(counts, value, value if proven else wide_bound, proven, wider.size, rows)

    def _generate(
        self, objective: FloatArray, subset: np.ndarray, at_least: int | None, deadline: float
    ) -> tuple[np.ndarray, FloatArray, FloatArray, float, bool]:
        """Column generation from ``subset``.

        Returns:
            The working set, the LP solution over all columns, the final duals, a valid lower
            bound over all columns, and whether it converged (then the bound is the LP's).
        """
        n_pairs = max(1, np.unique(self.columns.cls * self.n_nodes + self.columns.node).size)
        bound = -np.inf
        for _ in range(_MAX_ITERATIONS):
            matrix, rhs = self.matrix(subset, at_least)
            result = linprog(  # type: ignore[call-overload]  # the stubs omit sparse A_ub
                objective[subset], A_ub=matrix, b_ub=rhs, bounds=(0, None), method="highs"
            )
            if result.status != 0:
                raise RuntimeError(f"master LP failed: {result.message}")
            lp_counts = np.zeros(len(self.columns))
            lp_counts[subset] = result.x
            duals = np.asarray(result.ineqlin.marginals, dtype=np.float64)
            reduced = self.reduced(objective, duals, at_least)
            # Weak duality with each class's members bounding its columns: a bound valid even
            # before convergence (the Lagrangian one).
            per_class = np.zeros(self.n_classes)
            np.minimum.at(per_class, self.columns.cls, reduced)
            value = float(duals @ rhs)
            bound = max(bound, value + float(per_class @ self.columns.classes.count))
            negative = np.flatnonzero(reduced < -1e-9)
            negative = negative[~np.isin(negative, subset)]
            if negative.size == 0:
                return subset, lp_counts, duals, bound, True  # with the tiny negatives
            if negative.size > 2 * n_pairs:  # the most negative: one round, not all at once
                negative = negative[np.argpartition(reduced[negative], 2 * n_pairs)[: 2 * n_pairs]]
            subset = np.union1d(subset, negative)
            if time.perf_counter() >= deadline:
                break
        return subset, lp_counts, duals, bound, False

    def _integer(
        self, objective: FloatArray, subset: np.ndarray, at_least: int | None, deadline: float
    ) -> tuple[np.ndarray | None, float, float, bool, int]:
        """HiGHS on ``subset``: (counts over all columns, value, dual bound, optimal, rows)."""
        matrix, rhs = self.matrix(subset, at_least)
        left = max(0.01, deadline - time.perf_counter())
        result = milp(
            objective[subset],
            integrality=np.ones(subset.size, dtype=np.int64),
            bounds=Bounds(0, self.upper[subset]),
            constraints=LinearConstraint(matrix, -np.inf, rhs),
            options={"time_limit": left, "mip_rel_gap": 0.0, "disp": False},
        )
        dual = getattr(result, "mip_dual_bound", None)
        dual_bound = -np.inf if dual is None or not np.isfinite(dual) else float(dual)
        if result.x is None:
            return None, np.inf, dual_bound, False, int(matrix.shape[0])
        counts = np.zeros(len(self.columns), dtype=np.int64)
        counts[subset] = np.rint(result.x).astype(np.int64)
        value = float(objective @ counts)
        return counts, value, dual_bound, result.status == 0, int(matrix.shape[0])
