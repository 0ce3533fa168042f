"""The unified compute measure: demand as work, supply as rate, time as their quotient.

Demand is *work* — 10^9 operations at a precision (``work_gflop``) — plus the memory it holds.
Supply is a *peak rate* per precision and device kind (the CPUs, or all GPUs / NPUs / FPGAs /
DPUs of a node together). Real code reaches only a share of peak, which depends on the device and
on the kind of work, so the estimated compute time of a task on a node is::

    t_s = work_gflop / (peak_gflops[device, precision] * efficiency[device, workload_class])

with ``efficiency`` read from an ``EfficiencyTable`` that an operator can change (defaults below,
overrides from YAML). A device without a rate at that precision gives ``t_s = inf``. When no
device is named, the fastest device of each node is taken.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml

from suanwang.measure.normalise import FloatArray
from suanwang.model import AcceleratorKind, Node, Precision, TaskSpec, TopologyArrays
from suanwang.model.topology import ACCELERATOR_KINDS, PRECISIONS

CPU = "cpu"
"""Device name of a node's CPUs; accelerators are named by their ``AcceleratorKind`` value."""

DEVICES: tuple[str, ...] = (CPU, *(str(kind) for kind in ACCELERATOR_KINDS))
"""Device names in array order: CPU first, then ``ACCELERATOR_KINDS`` as in ``TopologyArrays``."""


class WorkloadClass(StrEnum):
    """How well a kind of work uses a device's peak rate."""

    DENSE = "dense"
    """Dense linear algebra (GEMM-bound training, batched inference)."""
    INFERENCE = "inference"
    """Small-batch inference: memory-bound, low arithmetic intensity."""
    SPARSE = "sparse"
    """Sparse, graph and irregular work."""
    GENERAL = "general"
    """Branchy scalar code (services, simulations, ETL)."""


_DEFAULT_EFFICIENCY: dict[str, dict[str, float]] = {
    # Shares of peak commonly sustained (GEMM benchmarks, MLPerf inference, SpMV studies).
    CPU: {"dense": 0.7, "inference": 0.4, "sparse": 0.1, "general": 0.05},
    "gpu": {"dense": 0.6, "inference": 0.3, "sparse": 0.05, "general": 0.01},
    "npu": {"dense": 0.5, "inference": 0.35, "sparse": 0.02, "general": 0.01},
    "fpga": {"dense": 0.4, "inference": 0.5, "sparse": 0.2, "general": 0.05},
    "dpu": {"dense": 0.1, "inference": 0.1, "sparse": 0.1, "general": 0.1},
}


def _default_table() -> Mapping[str, Mapping[WorkloadClass, float]]:
    return {
        device: {WorkloadClass(c): e for c, e in row.items()}
        for device, row in _DEFAULT_EFFICIENCY.items()
    }


@dataclass(frozen=True, slots=True)
class EfficiencyTable:
    """Share of peak rate (0, 1] reached by each device on each workload class.

    Attributes:
        table: ``table[device][workload_class]``; every device of ``DEVICES`` and every class.
    """

    table: Mapping[str, Mapping[WorkloadClass, float]] = field(default_factory=_default_table)

    def __post_init__(self) -> None:
        checked: dict[str, Mapping[WorkloadClass, float]] = {}
        for device in DEVICES:
            row = self.table.get(device)
            if row is None:
                raise ValueError(f"efficiency table lacks device {device!r}")
            values = {WorkloadClass(c): float(e) for c, e in row.items()}
            for workload_class in WorkloadClass:
                efficiency = values.get(workload_class)
                if efficiency is None or not 0.0 < efficiency <= 1.0:
                    raise ValueError(
                        f"efficiency of {device}/{workload_class} must lie in (0, 1], "
                        f"got {efficiency}"
                    )
            checked[device] = MappingProxyType(values)
        object.__setattr__(self, "table", MappingProxyType(checked))

    def __hash__(self) -> int:
        return hash(tuple((d, tuple(sorted(r.items()))) for d, r in self.table.items()))

    def efficiency(self, device: str, workload_class: WorkloadClass) -> float:
        """Share of peak that ``device`` reaches on ``workload_class``."""
        return self.table[device][workload_class]

    def column(self, workload_class: WorkloadClass) -> FloatArray:
        """Efficiency of every device on ``workload_class``, in ``DEVICES`` order."""
        return np.array([self.table[device][workload_class] for device in DEVICES])

    @classmethod
    def from_mapping(cls, data: Mapping[str, Mapping[str, float]]) -> EfficiencyTable:
        """The defaults with the entries of ``data`` (``{device: {class: share}}``) replaced."""
        merged = {device: dict(row) for device, row in _default_table().items()}
        for device, row in data.items():
            if device not in merged:
                raise ValueError(f"unknown device {device!r}; known: {list(DEVICES)}")
            for workload_class, efficiency in row.items():
                merged[device][WorkloadClass(workload_class)] = float(efficiency)
        return cls(merged)

    @classmethod
    def from_yaml(cls, path: str | Path) -> EfficiencyTable:
        """Load overrides from a YAML file shaped like ``from_mapping``'s argument."""
        data: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: expected a mapping of device to workload-class shares")
        return cls.from_mapping(data)


DEFAULT_EFFICIENCY = EfficiencyTable()
"""The table used wherever none is given."""


@dataclass(frozen=True, slots=True)
class ComputeDemand:
    """What a task asks of a node's compute.

    Attributes:
        work_gflop: Work in 10^9 operations at ``precision``.
        precision: Precision of the work.
        mem_gib: Memory held while it runs.
        workload_class: How the work uses a device (selects the efficiency).
        device: Device that must run it (``cpu``, ``gpu``...), or None for the fastest.
    """

    work_gflop: float
    precision: Precision = Precision.FP32
    mem_gib: float = 0.0
    workload_class: WorkloadClass = WorkloadClass.DENSE
    device: str | None = None

    def __post_init__(self) -> None:
        if self.work_gflop < 0 or self.mem_gib < 0:
            raise ValueError("work_gflop and mem_gib must not be negative")
        if self.device is not None and self.device not in DEVICES:
            raise ValueError(f"unknown device {self.device!r}; known: {list(DEVICES)}")

    @classmethod
    def from_task(
        cls, spec: TaskSpec, workload_class: WorkloadClass = WorkloadClass.DENSE
    ) -> ComputeDemand:
        """The demand of a task: on its accelerator kind when it needs one, else on CPUs."""
        device = str(spec.accelerator.kind) if spec.accelerator is not None else CPU
        return cls(spec.work_gflop, spec.precision, spec.mem_gib, workload_class, device)


def device_rate_gflops(node: Node, device: str, precision: Precision) -> float:
    """Peak rate of ``device`` on ``node`` at ``precision`` (0 when absent or unsupported)."""
    if device == CPU:
        return node.peak_gflops(precision)
    return node.peak_gflops(precision, AcceleratorKind(device))


def compute_time_s(
    node: Node, demand: ComputeDemand, table: EfficiencyTable = DEFAULT_EFFICIENCY
) -> float:
    """Estimated compute time of ``demand`` on ``node`` in seconds (``inf`` when it cannot run).

    Scalar form of ``compute_time_s_array``; same formula (see the module docstring).
    """
    devices = DEVICES if demand.device is None else (demand.device,)
    best = float("inf")
    for device in devices:
        rate = device_rate_gflops(node, device, demand.precision)
        rate *= table.efficiency(device, demand.workload_class)
        if rate > 0:
            best = min(best, demand.work_gflop / rate)
    return best


def effective_rate_gflops(
    arrays: TopologyArrays,
    precision: Precision,
    workload_class: WorkloadClass,
    table: EfficiencyTable = DEFAULT_EFFICIENCY,
) -> FloatArray:
    """Sustained rate of every device of every node, shape ``(nodes, len(DEVICES))``."""
    p = PRECISIONS.index(precision)
    peak = np.concatenate(
        (arrays.node_cpu_peak_gflops[:, p : p + 1], arrays.node_accel_peak_gflops[:, :, p]), axis=1
    )
    return peak * table.column(workload_class)


def compute_time_s_array(
    arrays: TopologyArrays, demand: ComputeDemand, table: EfficiencyTable = DEFAULT_EFFICIENCY
) -> FloatArray:
    """Estimated compute time of ``demand`` on every node of ``arrays`` (``inf``: cannot run).

    One vectorised expression over all nodes; see the module docstring for the formula.
    """
    rates = effective_rate_gflops(arrays, demand.precision, demand.workload_class, table)
    if demand.device is not None:
        rates = rates[:, DEVICES.index(demand.device)][:, None]
    with np.errstate(divide="ignore"):
        times = np.where(rates > 0, demand.work_gflop / np.where(rates > 0, rates, 1.0), np.inf)
    return np.asarray(times.min(axis=1, initial=np.inf), dtype=np.float64)
