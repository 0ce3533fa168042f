"""Accounting of a slice-mode twin run: what ``Accounting`` measures per run, over arrays.

``SliceAccounting`` buffers arrivals and ended runs as rows (demand kind, node, times, latency
split, the placement's estimate) and measures them together when the buffer fills or the run
ends, with numpy over thousands of rows instead of one Python call per run. The formulas are
``Accounting``'s: dynamic energy (peak - idle) x the share held x the time held x PUE, carbon at
the site's intensity of the hour the run started, the node's price for the share held plus each
link's price per GB moved, busy time per tier, the end-to-end time (submission to result plus
the fixed latency) against the latency budget or deadline, the latency histograms and the
estimate error. Sums and histogram counts do not depend on the order rows come in, so a run's
figures are those per-run accounting would give for the same runs.

A kind is one demand of the run (a task type at one ingress: one spec object); its facts are
kept once in arrays indexed by kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanwang.model import ACCELERATOR_KINDS, TaskClass, TaskSpec, Tier
from suanwang.model.site import HOURS_PER_DAY
from suanwang.scheduling import ClusterState
from suanwang.twin.metrics import ClassStats, RunMetrics, TimeSeries

FloatArray = npt.NDArray[np.float64]

FLUSH_ROWS = 8192
"""Rows buffered before they are measured (bounds the buffer's memory)."""


@dataclass(frozen=True, slots=True)
class Ended:
    """One run that ended, as the slice core hands it over.

    Attributes:
        kind: The demand's kind (``SliceAccounting.kind``).
        node: Node index.
        submitted_s: When the task arrived.
        started_s: When it started holding its node.
        ended_s: When its result was back (or it was cut).
        network_ms: Simulated propagation and transfer time.
        compute_ms: Simulated compute time.
        estimate_ms: The placement's end-to-end estimate.
        link_cost_per_gb: Sum of the path's link prices per GB.
        hops: Links on its path.
        completed: False for a run cut short (failure, end of the run).
    """

    kind: int
    node: int
    submitted_s: float
    started_s: float
    ended_s: float
    network_ms: float
    compute_ms: float
    estimate_ms: float
    link_cost_per_gb: float
    hops: int
    completed: bool = True


class SliceAccounting:
    """Measures buffered runs into one ``RunMetrics`` and ``TimeSeries`` (module docstring).

    Args:
        state: The scheduler's state (topology arrays, site facts).
        metrics: Aggregates to add to.
        series: Time series to add to.
        start_hour: Local hour at time 0.
        dynamic_kw: Per node, (peak - idle) power x PUE in kW (``Accounting``'s).
    """

    def __init__(
        self,
        state: ClusterState,
        metrics: RunMetrics,
        series: TimeSeries,
        start_hour: float,
        dynamic_kw: FloatArray,
    ) -> None:
        arrays, topology = state.arrays, state.topology
        self.metrics, self.series, self.start_hour = metrics, series, start_hour
        self._node_cores = arrays.node_cpu_cores
        self._devices = arrays.node_accel_count
        self._dynamic_kw = dynamic_kw
        self._price = arrays.node_price_per_hour
        self._kwh_price = np.array(
            [topology.sites[n.site_id].energy.price_per_kwh for n in topology.nodes.values()]
        )
        self._carbon_by_hour = state.sites.carbon_g_per_kwh_by_hour
        self._tiers = tuple(Tier)
        position = {tier: i for i, tier in enumerate(self._tiers)}
        self._tier_of_node = np.array(
            [position[topology.sites[n.site_id].tier] for n in topology.nodes.values()],
            dtype=np.intp,
        )
        self._classes = tuple(TaskClass)
        self._types: list[str] = []
        self._kinds: list[TaskSpec] = []
        self._kind_facts: list[tuple[float, ...]] = []
        self._facts: FloatArray = np.zeros((0, 8))
        self._arrived: list[tuple[int, float]] = []
        self._rows: list[Ended] = []

    def kind(self, spec: TaskSpec) -> int:
        """Register a demand; its kind index (call once per spec object)."""
        task_type = spec.task_type or "(untyped)"
        if task_type not in self._types:
            self._types.append(task_type)
        need = spec.accelerator
        budget_ms = (
            spec.latency_budget_ms
            if spec.latency_budget_ms is not None
            else (spec.deadline_s * 1000.0 if spec.deadline_s is not None else np.nan)
        )
        self._kinds.append(spec)
        self._kind_facts.append(
            (
                float(self._classes.index(spec.task_class)),
                float(self._types.index(task_type)),
                spec.cpu_cores,
                -1.0 if need is None else float(ACCELERATOR_KINDS.index(need.kind)),
                0.0 if need is None else float(need.count),
                budget_ms,
                spec.fixed_latency_ms,
                (spec.data_in_mb + spec.data_out_mb) / 1000.0,
            )
        )
        self._facts = np.array(self._kind_facts)
        return len(self._kinds) - 1

    def spec_of(self, kind: int) -> TaskSpec:
        """The demand registered as ``kind``."""
        return self._kinds[kind]

    def arrived(self, kind: int, at_s: float) -> None:
        """A task of ``kind`` arrived at ``at_s``."""
        self._arrived.append((kind, at_s))
        if len(self._arrived) >= FLUSH_ROWS:
            self._flush_arrivals()

    def ended(self, row: Ended) -> None:
        """A run ended (completed or cut)."""
        self._rows.append(row)
        if len(self._rows) >= FLUSH_ROWS:
            self._flush_rows()

    def flush(self) -> None:
        """Measure everything buffered."""
        self._flush_arrivals()
        self._flush_rows()

    def _stats(self, kind: int) -> tuple[ClassStats, ClassStats]:
        spec = self._kinds[kind]
        metrics = self.metrics
        return metrics.by_class[spec.task_class], metrics.type_stats(spec.task_type or "(untyped)")

    def _flush_arrivals(self) -> None:
        if not self._arrived:
            return
        kinds = np.array([k for k, _ in self._arrived], dtype=np.intp)
        times = np.array([t for _, t in self._arrived])
        self._arrived.clear()
        for kind, count in zip(*np.unique(kinds, return_counts=True), strict=True):
            for stats in self._stats(int(kind)):
                stats.generated += int(count)
        self.series.add_many(times, "arrivals", np.ones(times.size))

    def _flush_rows(self) -> None:
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        kind = np.array([r.kind for r in rows], dtype=np.intp)
        node = np.array([r.node for r in rows], dtype=np.intp)
        submitted = np.array([r.submitted_s for r in rows])
        started = np.array([r.started_s for r in rows])
        ended = np.array([r.ended_s for r in rows])
        done = np.array([r.completed for r in rows], dtype=bool)
        facts = self._facts[kind]
        held_s = ended - started
        self._held(kind, node, times=(started, ended, held_s), facts=facts)
        # Transfers are priced and counted for delivered results only, as in ``Accounting``.
        hops = np.array([r.hops for r in rows], dtype=np.float64)
        data_gb = facts[:, 7]
        moved = done & (hops > 0) & (data_gb > 0)
        transfer = np.where(moved, data_gb * np.array([r.link_cost_per_gb for r in rows]), 0.0)
        self.metrics.cost += float(transfer.sum())
        self.metrics.traffic_gb_hops += float((data_gb * hops)[moved].sum())
        self.series.add_many(ended, "cost", transfer)
        if done.any():
            network = np.array([r.network_ms for r in rows])[done]
            compute = np.array([r.compute_ms for r in rows])[done]
            estimate = np.array([r.estimate_ms for r in rows])[done]
            self._completed(
                kind[done], (submitted[done], ended[done]), split=(network, compute, estimate)
            )

    def _held(
        self,
        kind: npt.NDArray[np.intp],
        node: npt.NDArray[np.intp],
        *,
        times: tuple[FloatArray, FloatArray, FloatArray],
        facts: FloatArray,
    ) -> None:
        """Energy, carbon, cost and busy time of the rows' holding of their nodes.

        ``times`` are the rows' starts, ends and times held.
        """
        started, ended, held_s = times
        cores, accel_kind, accel_count = facts[:, 2], facts[:, 3].astype(np.intp), facts[:, 4]
        have_cores = self._node_cores[node]
        cpu_share = np.divide(cores, have_cores, out=np.zeros(node.size), where=have_cores > 0)
        have_devices = self._devices[node, np.maximum(accel_kind, 0)]
        device_share = np.divide(
            accel_count, have_devices, out=np.zeros(node.size), where=have_devices > 0
        )
        share = np.minimum(np.where(accel_kind >= 0, device_share, cpu_share), 1.0)
        kwh = self._dynamic_kw[node] * share * held_s / 3600.0
        hour = (self.start_hour + started / 3600.0).astype(np.intp) % HOURS_PER_DAY
        carbon_kg = kwh * self._carbon_by_hour[hour, node] / 1000.0
        cost = self._price[node] * share * held_s / 3600.0
        metrics = self.metrics
        metrics.energy_kwh += float(kwh.sum())
        metrics.work_energy_kwh += float(kwh.sum())
        metrics.carbon_kg += float(carbon_kg.sum())
        metrics.work_carbon_kg += float(carbon_kg.sum())
        metrics.cost += float(cost.sum())
        metrics.energy_cost += float((kwh * self._kwh_price[node]).sum())
        tier = self._tier_of_node[node]
        n_tiers = len(self._tiers)
        core_s = np.bincount(tier, weights=cores * held_s, minlength=n_tiers)
        device_s = np.bincount(
            tier, weights=np.where(accel_kind >= 0, accel_count, 0.0) * held_s, minlength=n_tiers
        )
        for i, name in enumerate(self._tiers):
            metrics.busy_core_s[name] += float(core_s[i])
            metrics.busy_device_s[name] += float(device_s[i])
        for column, values in (
            ("energy_kwh", kwh),
            ("carbon_kg", carbon_kg),
            ("work_energy_kwh", kwh),
            ("work_carbon_kg", carbon_kg),
            ("cost", cost),
        ):
            self.series.add_many(ended, column, values)

    def _completed(
        self,
        kind: npt.NDArray[np.intp],
        span: tuple[FloatArray, FloatArray],
        *,
        split: tuple[FloatArray, FloatArray, FloatArray],
    ) -> None:
        """SLA, latency split and estimate error of the completed rows.

        ``span`` holds their submissions and ends, ``split`` their simulated network and
        compute times and their estimates.
        """
        submitted, ended = span
        network, compute, estimate = split
        facts = self._facts[kind]
        inside_ms = (ended - submitted) * 1000.0
        total = inside_ms + facts[:, 6]
        queueing = inside_ms - network - compute
        queueing[queueing < 1e-6] = 0.0  # float residue of a task that never waited
        budget = facts[:, 5]
        with np.errstate(invalid="ignore"):
            met = np.isnan(budget) | (total <= budget)
        self.series.add_many(ended, "completed", np.ones(ended.size))
        self.series.add_many(ended, "latency_sum_ms", total)
        self.series.add_many(ended, "sla_met", met.astype(np.float64))
        measured = total > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            error = np.abs(estimate - total) / total * 100.0
        under = total > estimate * (1 + 1e-9)
        for index, column in ((0, self._classes), (1, self._types)):
            group = facts[:, index].astype(np.intp)
            for g in np.unique(group).tolist():
                at = group == g
                name = column[g]
                stats = (
                    self.metrics.by_class[name]
                    if isinstance(name, TaskClass)
                    else self.metrics.type_stats(name)
                )
                stats.completed += int(at.sum())
                stats.sla_met += int(met[at].sum())
                budgets = budget[at][~np.isnan(budget[at])]
                if budgets.size:
                    stats.add_budget(float(budgets.min()))
                    stats.add_budget(float(budgets.max()))
                stats.total.add_many(total[at])
                stats.network.add_many(network[at])
                stats.queueing.add_many(queueing[at])
                stats.compute.add_many(compute[at])
                fidelity = at & measured
                stats.estimate_error_pct.add_many(error[fidelity])
                stats.underestimated += int(under[fidelity].sum())
