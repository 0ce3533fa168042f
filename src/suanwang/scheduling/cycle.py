"""One scheduling cycle: the request, the surviving nodes, and the estimates plugins share.

Estimates are arrays over all nodes, computed on first use and kept for the cycle, so that a
Filter and a Score that both need ``total_ms`` pay for it once. The formulas:

Estimates that depend on live state are computed for the nodes alive when first asked for (``inf``
elsewhere); ``alive`` only ever narrows, so a cached estimate stays valid for the whole cycle.

* compute_ms = work_gflop / (peak rate of the task's device at its precision x efficiency x
  share) x 1000, where share is the task's cores over the node's cores (CPU work) or its devices
  over the node's devices of that kind (accelerated work): a task gets the part it reserves.
* queueing_ms: a task holds its own cores (or devices) for its whole run, so it waits only where
  they are not free now. Where there is room for it (free by the ledger, and measured idle
  where agents report: ``ClusterState.free_cpu_cores``), it waits no more than it already has
  (``Request.waited_ms``, its time in the controller's queue); where there is none it cannot
  start now: ``inf`` (the controller queues the task and predicts its wait from the runs it
  holds, see ``control.waiting``).
* network_ms = 2 x one-way path latency + (data_in_mb + data_out_mb) x 8 / rate_mbps x 1000, the
  rate being the least along the path of what the task gets on each link: its reservation plus
  an equal share of the spare bandwidth with the flows moving input there
  (``Reservations.shared_rate_mbps``; the residual bandwidth on a link no flow shares); plus,
  for each input dataset (``TaskSpec.datasets``) not held at the node's site, its transfer
  from the nearest replica: size x 8 / bottleneck_mbps of that path x 1000
  (``scheduling.datasets``).
* total_ms = network_ms + queueing_ms + compute_ms + the task's fixed_latency_ms (sensor,
  display, terminal time outside the network and the node, which the budget covers too).
* cost = node price_per_hour x share x compute hours + path cost_per_gb x data GB + each input
  dataset's GB x cost_per_gb along the path from its nearest replica (0 where held).
* energy_kwh = node peak power x share x compute time x site PUE; carbon_g = energy_kwh x the
  site's grid intensity at the state's hour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from suanwang.measure.compute import DEVICES, WorkloadClass
from suanwang.model import ACCELERATOR_KINDS, Estimate, Precision, TaskClass, TaskSpec
from suanwang.scheduling.datasets import datasets_at
from suanwang.scheduling.framework import (
    BoolArray,
    ChosenPath,
    FloatArray,
    Request,
    RouteResult,
)
from suanwang.scheduling.state import ClusterState, StaticDemand

_Index: TypeAlias = npt.NDArray[np.intp] | slice | int
"""Where an estimate is built: every node (``_EVERY``), the alive ones, or one node."""
_Build: TypeAlias = Callable[[_Index], Any]
_EVERY = slice(None)

MB_BITS = 8.0e6
"""Bits in one megabyte (MB = 10^6 bytes, as in data_in_mb)."""
TRANSFER_SHARE_OF_BUDGET = 0.5
"""A task with a latency budget needs the bandwidth that moves its data in half the budget."""
TRANSFER_SHARE_OF_DEADLINE = 0.1
"""A task with only a deadline needs the bandwidth that moves its data in a tenth of it."""

_CLASS_WORKLOAD = {
    TaskClass.HOT: WorkloadClass.INFERENCE,
    TaskClass.WARM: WorkloadClass.INFERENCE,
    TaskClass.COLD: WorkloadClass.DENSE,
}
"""How a task's work uses a device, judged from its class: latency-bound requests are small
inferences; batch work is dense. FP64 work is HPC simulation, dense whatever its class."""


def workload_class_of(spec: TaskSpec) -> WorkloadClass:
    """The efficiency row a task's compute time is estimated with (see ``_CLASS_WORKLOAD``)."""
    if spec.precision is Precision.FP64:
        return WorkloadClass.DENSE
    return _CLASS_WORKLOAD[spec.task_class]


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
        spec: The request's demand (``request.spec``; an attribute, as plugins read it often).
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
    _static_demand: StaticDemand | None = None
    _alive_index: npt.NDArray[np.intp] | None = None
    _alive_at: npt.NDArray[np.intp] | slice | None = None
    spec: TaskSpec = field(init=False)

    def __post_init__(self) -> None:
        self.spec = self.request.spec

    def _cached(self, key: str, build: _Build, over_alive: bool = False) -> FloatArray:
        """The memoised estimate ``key``: ``build`` over every node, or over the alive ones.

        ``build(at)`` gives the estimate at ``at`` (a whole slice, an index array, or one node:
        ``estimate`` asks for the chosen node alone, in scalars, where nothing has asked for
        the whole array). With ``over_alive`` it is built for the alive nodes, ``inf`` elsewhere.
        """
        value = self._memo.get(key)
        if value is None:
            if not over_alive:
                value = build(_EVERY)
            else:
                at = self._at()
                value = build(at)
                if not isinstance(at, slice):  # some nodes turned away: inf there
                    alive_value = value
                    value = np.full(len(self.alive), np.inf)
                    value[at] = alive_value
            self._memo[key] = value
        return value

    def static_demand(self) -> StaticDemand:
        """The topology-only figures of this task's kind of demand (shared between cycles)."""
        return self._static()

    def _static(self) -> StaticDemand:
        static = self._static_demand
        if static is None:
            static = self._static_demand = self.state.static_demand(
                device_of(self.spec),
                self.spec.cpu_cores
                if self.spec.accelerator is None
                else self.spec.accelerator.count,
                self.spec.precision,
                workload_class_of(self.spec),
            )
        return static

    def share(self) -> FloatArray:
        """Part of each node the task holds (cores or devices of its kind), 0..1."""
        return self._static().share

    def compute_ms(self) -> FloatArray:
        """Estimated compute time per node (``inf`` where the device or precision is missing)."""
        return self._cached("compute_ms", self._compute_ms)

    def _compute_ms(self, at: _Index) -> Any:
        per_gflop = self._static().ms_per_gflop[at]
        if self.spec.work_gflop == 0:  # no work: zero where the device exists (inf x 0 is NaN)
            return np.where(np.isfinite(per_gflop), 0.0, np.inf)
        return per_gflop * self.spec.work_gflop

    def utilisation(self) -> FloatArray:
        """Utilisation of the task's device on each node, 0..1."""
        value = self._memo.get("utilisation")
        if value is None:
            value = self._memo["utilisation"] = self._utilisation()
        return value

    def _utilisation(self) -> FloatArray:
        state, task = self.state, self.spec
        if task.accelerator is None:
            return state.cpu_utilisation()
        k = ACCELERATOR_KINDS.index(task.accelerator.kind)
        have = state.arrays.node_accel_count[:, k]
        used = np.ones(len(have))
        np.divide(state.reservations.accelerators[:, k], have, out=used, where=have > 0)
        return used

    def queueing_ms(self) -> FloatArray:
        """Estimated waiting and contention before and while the task runs (module docstring)."""
        return self._cached("queueing_ms", self._queueing_ms, over_alive=True)

    def _queueing_ms(self, at: _Index) -> Any:
        state, spec = self.state, self.spec
        need = spec.accelerator
        if need is None:
            # Free by the ledger, and no more than the agents measured idle where they report.
            room = state.free_cpu_cores()[at] >= spec.cpu_cores - 1e-9
        else:
            k = ACCELERATOR_KINDS.index(need.kind)
            room = state.reservations.free_accelerators_of(k)[at] >= need.count
        room = room & (state.reservations.free_mem_gib()[at] >= spec.mem_gib - 1e-9)
        return np.where(room, self.request.waited_ms, np.inf)

    def network_ms(self) -> FloatArray:
        """Round trip plus transfer time per node; needs the Route point to have run."""
        return self._cached("network_ms", self._network_ms, over_alive=True)

    def _network_ms(self, at: _Index) -> Any:
        route = self._route()
        network = 2.0 * route.latency_ms[at]
        data_mbit = (self.spec.data_in_mb + self.spec.data_out_mb) * MB_BITS / 1e6
        if data_mbit > 0:
            network = network + data_mbit / route.transfer_rate_mbps()[at] * 1000.0
        if self.spec.datasets:
            network = network + self._value_at("datasets_ms", self._datasets_ms, at)
        return network

    def datasets_ms(self) -> FloatArray:
        """Time to move the input datasets not held at each node's site (0 where all are)."""
        return self._cached("datasets_ms", self._datasets_ms)

    def _datasets_ms(self, at: _Index) -> Any:
        return datasets_at(self.state, self.spec.datasets, at, "transfer_ms")

    def total_ms(self) -> FloatArray:
        """End-to-end estimate: network + queueing + compute + the task's fixed latency."""
        return self._cached("total_ms", self._total_ms, over_alive=True)

    def _total_ms(self, at: _Index) -> Any:
        inside = self.network_ms()[at] + self.queueing_ms()[at] + self.compute_ms()[at]
        return inside + self.spec.fixed_latency_ms

    def cost(self) -> FloatArray:
        """Estimated price of running the task on each node, transfer included."""
        return self._cached("cost", self._cost)

    def _cost(self, at: _Index) -> Any:
        per_gflop = self._static().cost_per_gflop[at]
        if self.spec.work_gflop == 0:
            compute = np.where(np.isfinite(per_gflop), 0.0, np.inf)
        else:
            compute = per_gflop * self.spec.work_gflop
        if self.spec.datasets:
            compute = compute + self._datasets_cost(at)
        data_gb = (self.spec.data_in_mb + self.spec.data_out_mb) / 1000.0
        if data_gb == 0:
            return compute
        return compute + self._route().cost_per_gb[at] * data_gb

    def _datasets_cost(self, at: _Index) -> Any:
        return datasets_at(self.state, self.spec.datasets, at, "cost")

    def energy_kwh(self) -> FloatArray:
        """Facility energy of the task on each node (its share of peak power, times PUE)."""
        return self._cached("energy_kwh", self._energy_kwh)

    def _energy_kwh(self, at: _Index) -> Any:
        per_gflop = self._static().kwh_per_gflop[at]
        if self.spec.work_gflop == 0:
            return np.where(np.isfinite(per_gflop), 0.0, np.inf)
        return per_gflop * self.spec.work_gflop

    def carbon_g(self) -> FloatArray:
        """Grams CO2e of that energy at each site's intensity at the state's hour."""
        return self._cached("carbon_g", self._carbon_g)

    def _carbon_g(self, at: _Index) -> Any:
        intensity = self.state.carbon_g_per_kwh()
        return self._value_at("energy_kwh", self._energy_kwh, at) * intensity[at]

    def _value_at(self, key: str, build: _Build, at: _Index) -> Any:
        """Estimate ``key`` at ``at``: from the memoised array if built, else from ``build``."""
        value = self._memo.get(key)
        return build(at) if value is None else value[at]

    def estimate(self, node: int) -> Estimate:
        """The estimate of placing the task on ``node`` (the route must have run).

        Figures no plugin asked for are worked out for ``node`` alone (the same arithmetic
        in scalars): a cycle whose scores read one estimate does not build the others.
        """
        return Estimate(
            network_ms=float(self._value_at("network_ms", self._network_ms, node)),
            queueing_ms=float(self._value_at("queueing_ms", self._queueing_ms, node)),
            compute_ms=float(self._value_at("compute_ms", self._compute_ms, node)),
            fixed_ms=self.spec.fixed_latency_ms,
            cost=float(self._value_at("cost", self._cost, node)),
            energy_kwh=float(self._value_at("energy_kwh", self._energy_kwh, node)),
            carbon_g=float(self._value_at("carbon_g", self._carbon_g, node)),
        )

    def alive_index(self) -> npt.NDArray[np.intp]:
        """Indexes of the surviving nodes, computed once per narrowing of ``alive``."""
        index = self._alive_index
        if index is None:
            index = self._alive_index = self.alive.nonzero()[0]
        return index

    def _at(self) -> npt.NDArray[np.intp] | slice:
        """The surviving nodes as an index: a whole-array slice while every node survives.

        Estimates index with it: a slice takes views, not copies, and leaves no ``inf`` to fill
        in, which is most of the cost of a cycle on a small topology.
        """
        at = self._alive_at
        if at is None:
            index = self.alive_index()
            at = self._alive_at = slice(None) if index.size == len(self.alive) else index
        return at

    def _route(self) -> RouteResult:
        if self.route is None:
            raise RuntimeError("network estimates need the Route point to have run")
        return self.route

    def reject(self, plugin: str, passes: BoolArray) -> None:
        """Narrow ``alive`` to ``passes``, recording whom ``plugin`` turned away."""
        if passes is self.state.everyone():  # what filters return when they turn none away
            return
        turned_away = self.alive & ~passes
        if np.count_nonzero(turned_away):  # np.any costs three times as much on small masks
            self.rejections.append((plugin, turned_away))
            self.alive = self.alive & passes
            self._alive_index = self._alive_at = None
