"""One scheduling cycle: the request, the surviving nodes, and the estimates plugins share.

Estimates are arrays over all nodes, computed on first use and kept for the cycle, so that a
Filter and a Score that both need ``total_ms`` pay for it once. The formulas:

* compute_ms = work_gflop / (peak rate of the task's device at its precision x efficiency x
  share) x 1000, where share is the task's cores over the node's cores (CPU work) or its devices
  over the node's devices of that kind (accelerated work): a task gets the part it reserves.
* queueing_ms = compute_ms x rho / (1 - rho), rho the device's utilisation capped at 0.95 — the
  M/M/1 waiting factor, a cheap stand-in for contention on a shared node.
* network_ms = 2 x one-way path latency + (data_in_mb + data_out_mb) x 8 / bottleneck_mbps x 1000.
* cost = node price_per_hour x share x compute hours + path cost_per_gb x data GB.
* energy_kwh = node peak power x share x compute time x site PUE; carbon_g = energy_kwh x the
  site's grid intensity at the state's hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from suanwang.measure.compute import DEVICES, WorkloadClass, effective_rate_gflops
from suanwang.model import ACCELERATOR_KINDS, TaskClass, TaskSpec
from suanwang.scheduling.framework import (
    BoolArray,
    ChosenPath,
    FloatArray,
    Request,
    RouteResult,
)
from suanwang.scheduling.state import ClusterState

MB_BITS = 8.0e6
"""Bits in one megabyte (MB = 10^6 bytes, as in data_in_mb)."""
MAX_UTILISATION = 0.95
TRANSFER_SHARE_OF_BUDGET = 0.5
"""A task with a latency budget needs the bandwidth that moves its data in half the budget."""
TRANSFER_SHARE_OF_DEADLINE = 0.1
"""A task with only a deadline needs the bandwidth that moves its data in a tenth of it."""

_CLASS_WORKLOAD = {
    TaskClass.HOT: WorkloadClass.INFERENCE,
    TaskClass.WARM: WorkloadClass.INFERENCE,
    TaskClass.COLD: WorkloadClass.DENSE,
}


def required_bandwidth_mbps(spec: TaskSpec) -> float:
    """Bandwidth the task reserves on every link of its path (0: best effort, no reservation).

    The rate that moves ``data_in_mb + data_out_mb`` within half the latency budget, or within a
    tenth of the deadline when there is no budget; 0 for tasks with neither or with no data.
    """
    data_mbit = (spec.data_in_mb + spec.data_out_mb) * MB_BITS / 1e6
    if data_mbit <= 0:
        return 0.0
    if spec.latency_budget_ms is not None:
        return data_mbit / (spec.latency_budget_ms / 1000.0 * TRANSFER_SHARE_OF_BUDGET)
    if spec.deadline_s is not None:
        return data_mbit / (spec.deadline_s * TRANSFER_SHARE_OF_DEADLINE)
    return 0.0


def device_of(spec: TaskSpec) -> str:
    """Name of the device the task runs on (``cpu`` or an accelerator kind)."""
    return DEVICES[0] if spec.accelerator is None else str(spec.accelerator.kind)


@dataclass(slots=True, eq=False)
class Cycle:
    """The state of one task's placement attempt.

    Attributes:
        request: The task.
        state: The cluster as this cycle sees it.
        alive: Nodes still in the running (narrowed by every Filter).
        rejections: (plugin name, mask of the nodes it rejected), in order of rejection.
        route: Per-node route figures, once the Route point has run.
        scratch: Room for plugins to share per-cycle values (keyed by plugin name).
        chosen_node: Node index selected after scoring (set before Reserve).
        chosen_path: Its materialised path (set before Reserve).
    """

    request: Request
    state: ClusterState
    alive: BoolArray
    rejections: list[tuple[str, BoolArray]] = field(default_factory=list)
    route: RouteResult | None = None
    scratch: dict[str, Any] = field(default_factory=dict)
    chosen_node: int | None = None
    chosen_path: ChosenPath | None = None
    _memo: dict[str, FloatArray] = field(default_factory=dict)

    @property
    def spec(self) -> TaskSpec:
        """The request's demand."""
        return self.request.spec

    def _cached(self, key: str, build: Any) -> FloatArray:
        value = self._memo.get(key)
        if value is None:
            value = self._memo[key] = build()
        return value

    def share(self) -> FloatArray:
        """Part of each node the task holds (cores or devices of its kind), 0..1."""
        return self._cached("share", self._share)

    def _share(self) -> FloatArray:
        arrays, spec = self.state.arrays, self.spec
        if spec.accelerator is None:
            have: FloatArray = arrays.node_cpu_cores
            need = spec.cpu_cores
        else:
            kind = ACCELERATOR_KINDS.index(spec.accelerator.kind)
            have = arrays.node_accel_count[:, kind].astype(np.float64)
            need = spec.accelerator.count
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(have > 0, np.minimum(1.0, need / np.maximum(have, 1e-12)), 0.0)
        return np.asarray(share, dtype=np.float64)

    def compute_ms(self) -> FloatArray:
        """Estimated compute time per node (``inf`` where the device or precision is missing)."""
        return self._cached("compute_ms", self._compute_ms)

    def _compute_ms(self) -> FloatArray:
        spec = self.spec
        rates = effective_rate_gflops(
            self.state.arrays,
            spec.precision,
            _CLASS_WORKLOAD[spec.task_class],
            self.state.efficiency,
        )[:, DEVICES.index(device_of(spec))]
        rate = rates * self.share()
        with np.errstate(divide="ignore", invalid="ignore"):
            times = np.where(rate > 0, spec.work_gflop / np.where(rate > 0, rate, 1.0), np.inf)
        return np.asarray(times * 1000.0, dtype=np.float64)

    def utilisation(self) -> FloatArray:
        """Utilisation of the task's device on each node, 0..1."""
        return self._cached("utilisation", self._utilisation)

    def _utilisation(self) -> FloatArray:
        state, task = self.state, self.spec
        if task.accelerator is None:
            return state.cpu_utilisation()
        k = ACCELERATOR_KINDS.index(task.accelerator.kind)
        have = state.arrays.node_accel_count[:, k]
        with np.errstate(divide="ignore", invalid="ignore"):
            used = np.where(have > 0, state.reservations.accelerators[:, k] / have, 1.0)
        return np.asarray(used, dtype=np.float64)

    def queueing_ms(self) -> FloatArray:
        """Estimated waiting from contention (M/M/1 factor on the device's utilisation)."""
        return self._cached("queueing_ms", self._queueing_ms)

    def _queueing_ms(self) -> FloatArray:
        rho = np.minimum(self.utilisation(), MAX_UTILISATION)
        compute = self.compute_ms()
        with np.errstate(invalid="ignore"):
            waiting = np.where(np.isfinite(compute), compute * rho / (1.0 - rho), np.inf)
        return np.asarray(waiting, dtype=np.float64)

    def network_ms(self) -> FloatArray:
        """Round trip plus transfer time per node; needs the Route point to have run."""
        return self._cached("network_ms", self._network_ms)

    def _network_ms(self) -> FloatArray:
        route = self._route()
        data_mbit = (self.spec.data_in_mb + self.spec.data_out_mb) * MB_BITS / 1e6
        with np.errstate(divide="ignore", invalid="ignore"):
            transfer = np.where(data_mbit > 0, data_mbit / route.bottleneck_mbps * 1000.0, 0.0)
        return np.asarray(2.0 * route.latency_ms + transfer, dtype=np.float64)

    def total_ms(self) -> FloatArray:
        """End-to-end estimate: network + queueing + compute."""
        return self._cached(
            "total_ms", lambda: self.network_ms() + self.queueing_ms() + self.compute_ms()
        )

    def cost(self) -> FloatArray:
        """Estimated price of running the task on each node, transfer included."""
        return self._cached("cost", self._cost)

    def _cost(self) -> FloatArray:
        arrays = self.state.arrays
        hours = self.compute_ms() / 3.6e6
        finite = np.isfinite(hours)
        compute = np.full(len(hours), np.inf)
        compute[finite] = (arrays.node_price_per_hour * self.share() * hours)[finite]
        data_gb = (self.spec.data_in_mb + self.spec.data_out_mb) / 1000.0
        transfer = 0.0 if self.route is None or data_gb == 0 else self.route.cost_per_gb * data_gb
        return np.asarray(compute + transfer, dtype=np.float64)

    def energy_kwh(self) -> FloatArray:
        """Facility energy of the task on each node (its share of peak power, times PUE)."""
        return self._cached("energy_kwh", self._energy_kwh)

    def _energy_kwh(self) -> FloatArray:
        arrays = self.state.arrays
        seconds = self.compute_ms() / 1000.0
        finite = np.isfinite(seconds)
        joules = np.full(len(seconds), np.inf)
        joules[finite] = (arrays.node_peak_power_w * self.share() * self.state.sites.pue)[
            finite
        ] * seconds[finite]
        return joules / 3.6e6

    def carbon_g(self) -> FloatArray:
        """Grams CO2e of that energy at each site's intensity at the state's hour."""
        intensity = self.state.sites.carbon_g_per_kwh_by_hour[self.state.hour_of_day]
        return self._cached("carbon_g", lambda: self.energy_kwh() * intensity)

    def _route(self) -> RouteResult:
        if self.route is None:
            raise RuntimeError("network estimates need the Route point to have run")
        return self.route

    def reject(self, plugin: str, passes: BoolArray) -> None:
        """Narrow ``alive`` to ``passes``, recording whom ``plugin`` turned away."""
        turned_away = self.alive & ~passes
        if turned_away.any():
            self.rejections.append((plugin, turned_away))
            self.alive = self.alive & passes
