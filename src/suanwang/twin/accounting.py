"""Turns what happens in a twin run into the run's metrics.

``Accounting`` measures each run of a task on a node (latency split, SLA, energy, carbon, cost,
traffic, busy time per tier; the end-to-end time adds the task's ``fixed_latency_ms`` to the
simulated time from submission to result) and the idle draw of the fleet; ``Collector`` is the
controller's listener and counts arrivals, rejections with their causes, failures, re-placements and
session migrations. Both write into one ``RunMetrics`` and one ``TimeSeries``.

Energy model: a node draws its idle power whenever it is up, plus (peak - idle) x the share of
the node a task holds while the task runs; both times the site's PUE. Carbon uses the site's
intensity at the local hour (dynamic energy at the hour the run started; idle energy hour by
hour). The dynamic part alone is also kept as the work-only energy and carbon: what the placements
cause, which the idle draw of a large fleet would hide. Users pay the node's price for the share
they hold, plus each link's price per GB moved.

With a usage sink (a ``market.Meter``'s ``ingest``), every run, completed or cut, is also
metered as the live engines meter it: core-seconds, GiB-seconds and accelerator-seconds (by
kind) for the time it held its node, and one task; a completed run adds its GFLOP (by
precision), the GB it moved over the network and the bandwidth its placement reserved times
the time held (Mbps-seconds), and carries whether it met its SLA (a cut run did not). The
tenant is the task's (``workload`` when it has none), the provider the node's owner, the run id
the task id with the run's start time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from suanwang.market import Dimension, UsageEvent
from suanwang.model import ACCELERATOR_KINDS, Task, TaskState, Tier
from suanwang.model.site import HOURS_PER_DAY
from suanwang.scheduling import ClusterState
from suanwang.twin.metrics import RunMetrics, TimeSeries


class Accounting:
    """Measures task runs and fleet idle energy.

    Args:
        state: The scheduler's state (topology arrays, site facts).
        metrics: Aggregates to add to.
        series: Time series to add to.
        start_hour: Local hour at time 0.
        usage: Where each run's usage events go (module docstring), or None: not metered.
    """

    def __init__(
        self,
        state: ClusterState,
        metrics: RunMetrics,
        series: TimeSeries,
        start_hour: float,
        usage: Callable[[UsageEvent], Any] | None = None,
    ) -> None:
        arrays, sites = state.arrays, state.sites
        topology = state.topology
        self.metrics, self.series, self.start_hour = metrics, series, start_hour
        self._cores: list[float] = arrays.node_cpu_cores.tolist()
        self._devices: list[list[float]] = arrays.node_accel_count.tolist()
        dynamic_w = arrays.node_peak_power_w - _idle_power_w(state)
        self._dynamic_kw: list[float] = (dynamic_w * sites.pue / 1000.0).tolist()
        self._price_per_hour: list[float] = arrays.node_price_per_hour.tolist()
        self._tier: list[Tier] = [topology.sites[n.site_id].tier for n in topology.nodes.values()]
        self._kwh_price: list[float] = [
            topology.sites[n.site_id].energy.price_per_kwh for n in topology.nodes.values()
        ]
        self._carbon_by_hour: list[list[float]] = sites.carbon_g_per_kwh_by_hour.tolist()
        self._link_cost_per_gb: list[float] = arrays.link_cost_per_gb.tolist()
        self._idle_kw = _idle_power_w(state) * sites.pue / 1000.0
        self._state = state
        self._usage = usage
        self._owner: list[str] = [n.owner for n in topology.nodes.values()]

    @property
    def dynamic_kw(self) -> list[float]:
        """Per node, (peak - idle) power times the site's PUE, in kW."""
        return self._dynamic_kw

    def hour(self, at_s: float) -> int:
        """Local hour of day at simulated time ``at_s``."""
        return int(self.start_hour + at_s / 3600.0) % HOURS_PER_DAY

    def _share(self, task: Task, node: int) -> float:
        need = task.spec.accelerator
        if need is None:
            have = self._cores[node]
            return min(1.0, task.spec.cpu_cores / have) if have > 0 else 0.0
        have = self._devices[node][ACCELERATOR_KINDS.index(need.kind)]
        return min(1.0, need.count / have) if have > 0 else 0.0

    def _held(self, task: Task, node: int, started_s: float, ended_s: float) -> None:
        """Energy, carbon, cost and busy time of holding ``node`` from start to end."""
        held_s = ended_s - started_s
        share = self._share(task, node)
        kwh = self._dynamic_kw[node] * share * held_s / 3600.0
        carbon_kg = kwh * self._carbon_by_hour[self.hour(started_s)][node] / 1000.0
        cost = self._price_per_hour[node] * share * held_s / 3600.0
        metrics = self.metrics
        metrics.energy_kwh += kwh
        metrics.carbon_kg += carbon_kg
        metrics.work_energy_kwh += kwh
        metrics.work_carbon_kg += carbon_kg
        metrics.cost += cost
        metrics.energy_cost += kwh * self._kwh_price[node]
        tier = self._tier[node]
        metrics.busy_core_s[tier] += task.spec.cpu_cores * held_s
        if task.spec.accelerator is not None:
            metrics.busy_device_s[tier] += task.spec.accelerator.count * held_s
        series = self.series
        series.add(ended_s, "energy_kwh", kwh)
        series.add(ended_s, "carbon_kg", carbon_kg)
        series.add(ended_s, "work_energy_kwh", kwh)
        series.add(ended_s, "work_carbon_kg", carbon_kg)
        series.add(ended_s, "cost", cost)

    def _meter(
        self, task: Task, node: int, span_s: tuple[float, float], *, moved_gb: float, met: bool
    ) -> None:
        """Usage events of one run (module docstring); ``moved_gb`` < 0: the run was cut."""
        sink = self._usage
        if sink is None:
            return
        spec, (started_s, ended_s) = task.spec, span_s
        held_s = ended_s - started_s
        run = f"{task.id}@{started_s:.6f}"
        tenant, owner = task.tenant or "workload", self._owner[node]
        figures: list[tuple[Dimension, float, str]] = [
            (Dimension.CORE_SECONDS, spec.cpu_cores * held_s, ""),
            (Dimension.MEMORY_GIB_SECONDS, spec.mem_gib * held_s, ""),
            (Dimension.TASKS, 1.0, ""),
        ]
        if spec.accelerator is not None:
            kind = spec.accelerator.kind.value
            figures.append((Dimension.ACCELERATOR_SECONDS, spec.accelerator.count * held_s, kind))
        if moved_gb >= 0:
            figures.append((Dimension.GFLOP, spec.work_gflop, spec.precision.value))
            figures.append((Dimension.NETWORK_GB, moved_gb, ""))
            placement = task.placement  # a completed run's own: it held that path's bandwidth
            if placement is not None and placement.reserved_bandwidth_mbps > 0:
                mbps_s = placement.reserved_bandwidth_mbps * held_s
                figures.append((Dimension.BANDWIDTH_MBPS_SECONDS, mbps_s, ""))
        for dimension, quantity, detail in figures:
            sink(UsageEvent(run, tenant, owner, dimension, quantity, ended_s, detail, met))

    def run_completed(
        self,
        task: Task,
        node: int,
        *,
        links: tuple[int, ...],
        started_s: float,
        ended_s: float,
        network_ms: float,
        compute_ms: float,
    ) -> None:
        """A run ended with the result delivered: latency split, SLA and usage."""
        self._held(task, node, started_s, ended_s)
        spec = task.spec
        # The fixed latency (sensor, display, terminal) happens outside the simulated network
        # and node but is part of what the user waits for: the SLA is judged on it as the
        # scheduler's estimate is, and it is no queueing.
        inside_ms = (ended_s - task.submitted_at_s) * 1000.0
        total_ms = inside_ms + spec.fixed_latency_ms
        queueing_ms = inside_ms - network_ms - compute_ms
        if queueing_ms < 1e-6:  # float residue of a task that never waited
            queueing_ms = 0.0
        budget_ms: float | None = None
        if spec.latency_budget_ms is not None:
            budget_ms = spec.latency_budget_ms
        elif spec.deadline_s is not None:
            budget_ms = spec.deadline_s * 1000.0
        met = budget_ms is None or total_ms <= budget_ms
        data_gb = (spec.data_in_mb + spec.data_out_mb) / 1000.0
        self._meter(task, node, (started_s, ended_s), moved_gb=data_gb if links else 0.0, met=met)
        if data_gb > 0 and links:
            transfer_cost = data_gb * sum(self._link_cost_per_gb[link] for link in links)
            self.metrics.cost += transfer_cost
            self.series.add(ended_s, "cost", transfer_cost)
            self.metrics.traffic_gb_hops += data_gb * len(links)
        for stats in (
            self.metrics.by_class[spec.task_class],
            self.metrics.type_stats(spec.task_type or "(untyped)"),
        ):
            stats.completed += 1
            stats.sla_met += met
            if budget_ms is not None:
                stats.add_budget(budget_ms)
            stats.total.add(total_ms)
            stats.network.add(network_ms)
            stats.queueing.add(queueing_ms)
            stats.compute.add(compute_ms)
            if task.placement is not None:
                stats.add_fidelity(task.placement.estimate.total_ms, total_ms)
        series = self.series
        series.add(ended_s, "completed")
        series.add(ended_s, "latency_sum_ms", total_ms)
        if met:
            series.add(ended_s, "sla_met")

    def run_cut(self, task: Task, node: int, started_s: float, ended_s: float) -> None:
        """A run stopped before its end (its node or link failed, or it was cancelled)."""
        self._held(task, node, started_s, ended_s)
        self._meter(task, node, (started_s, ended_s), moved_gb=-1.0, met=False)

    def idle(self, horizon_s: float, down_s: np.ndarray) -> None:
        """Add the fleet's idle draw over ``[0, horizon_s)``, less each node's time down.

        The run is cut at every local hour and every time-series bucket, so each piece has one
        carbon intensity and lands in its own bucket (pieces past the series' horizon go to the
        last bucket, like every other event there).

        Args:
            horizon_s: Length of the run.
            down_s: Per node, seconds it spent down.
        """
        if horizon_s <= 0:
            return
        up_kw = self._idle_kw * np.clip(1.0 - down_s / horizon_s, 0.0, 1.0)
        fleet_kw = float(up_kw.sum())
        carbon_g_per_h = np.asarray(self._carbon_by_hour) @ up_kw  # per local hour
        euro_per_h = float(up_kw @ np.asarray(self._kwh_price))
        hour_s = 3600.0
        offset_s = self.start_hour * hour_s
        cuts = {0.0, horizon_s}
        cuts.update(np.arange(hour_s - offset_s % hour_s, horizon_s, hour_s).tolist())
        width_s = self.series.width_s
        cuts.update(np.arange(width_s, min(horizon_s, width_s * len(self.series.values)), width_s))
        edges = sorted(cuts)
        for start_s, end_s in itertools.pairwise(edges):
            hours = (end_s - start_s) / hour_s
            kwh = fleet_kw * hours
            carbon_kg = float(carbon_g_per_h[self.hour(start_s)]) * hours / 1000.0
            self.metrics.energy_kwh += kwh
            self.metrics.carbon_kg += carbon_kg
            self.metrics.energy_cost += euro_per_h * hours
            self.series.add(start_s, "energy_kwh", kwh)
            self.series.add(start_s, "carbon_kg", carbon_kg)


def _no_prediction(task_id: str) -> float | None:
    return None


def _idle_power_w(state: ClusterState) -> np.ndarray:
    return np.array([node.idle_power_w for node in state.topology.nodes.values()])


class Collector:
    """The controller's listener in a twin run: counts outcomes other than completions."""

    def __init__(self, metrics: RunMetrics, series: TimeSeries) -> None:
        self.metrics, self.series = metrics, series
        self._session_node: dict[str, str] = {}
        self.predictions: Callable[[str], float | None] = _no_prediction
        """The controller's ``predicted_wait_s`` (set once the controller exists)."""
        self._queued: dict[str, tuple[float, float | None]] = {}  # since, predicted wait s

    def task_changed(self, task: Task, cause: str) -> None:
        """Count one transition (see ``ControllerListener``)."""
        metrics, spec = self.metrics, task.spec
        at_s = task.history[-1].at_s
        if cause == "submitted":
            metrics.by_class[spec.task_class].generated += 1
            metrics.type_stats(spec.task_type or "(untyped)").generated += 1
            self.series.add(at_s, "arrivals")
        elif cause == "queued":
            self._queued[task.id] = (at_s, self.predictions(task.id))
        elif cause == "placed":
            self._waited(task, at_s)
            key = spec.affinity_key
            if key is not None and task.placement is not None:
                node = task.placement.node_id
                previous = self._session_node.get(key)
                if previous is not None and previous != node:
                    metrics.migrations += 1
                self._session_node[key] = node
        elif cause == "replaced":
            metrics.replacements += 1
            self.series.add(at_s, "replaced")
        elif task.state.is_terminal and task.state is not TaskState.COMPLETED:
            self._final(task, cause, at_s)

    def _waited(self, task: Task, at_s: float) -> None:
        """A queued task was placed: its wait against the wait predicted when it queued."""
        queued = self._queued.pop(task.id, None)
        if queued is None:
            return
        since_s, predicted_s = queued
        stats = self.metrics.by_class[task.spec.task_class]
        stats.queued += 1
        if predicted_s is not None:
            stats.wait_error_ms.add(abs(at_s - since_s - predicted_s) * 1000.0)

    def _final(self, task: Task, cause: str, at_s: float) -> None:
        self._queued.pop(task.id, None)
        metrics, spec = self.metrics, task.spec
        state = task.state
        for stats in (
            metrics.by_class[spec.task_class],
            metrics.type_stats(spec.task_type or "(untyped)"),
        ):
            if state is TaskState.REJECTED:
                stats.rejected += 1
            elif state is TaskState.FAILED:
                stats.failed += 1
            else:
                stats.cancelled += 1
        if state is TaskState.REJECTED:
            self.series.add(at_s, "rejected")
        elif state is TaskState.FAILED:
            self.series.add(at_s, "failed")
        metrics.count_cause(cause, task.history[-1].reason)
