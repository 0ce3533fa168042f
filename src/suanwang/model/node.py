"""Compute nodes and the accelerators they carry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from suanwang.model.enums import AcceleratorKind, Architecture, Precision, TrustLevel


def _checked_rates(rates: Mapping[Precision, float]) -> Mapping[Precision, float]:
    """A private copy of a rate table with enum keys, checked for negative entries.

    Kept as a plain dict (typed read-only) so that records stay picklable for worker processes.
    """
    for precision, rate in rates.items():
        if rate < 0:
            raise ValueError(f"peak rate at {precision} must not be negative, got {rate}")
    return {p if type(p) is Precision else Precision(p): float(r) for p, r in rates.items()}


@dataclass(frozen=True, slots=True)
class Accelerator:
    """A group of identical accelerator devices in one node.

    Attributes:
        kind: GPU, NPU, FPGA or DPU.
        model: Device model, e.g. ``A100-80G`` or ``Ascend-910B``.
        count: Number of devices.
        peak_gflops: Peak rate of ONE device per precision (10^9 operations per second).
        mem_gib: Memory of one device in GiB.
        power_w: Board power of one device at full load in watts.
    """

    kind: AcceleratorKind
    model: str
    count: int = 1
    peak_gflops: Mapping[Precision, float] = field(default_factory=dict)
    mem_gib: float = 0.0
    power_w: float = 0.0

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"accelerator count must be at least 1, got {self.count}")
        if self.mem_gib < 0 or self.power_w < 0:
            raise ValueError("accelerator mem_gib and power_w must not be negative")
        object.__setattr__(self, "peak_gflops", _checked_rates(self.peak_gflops))

    def __hash__(self) -> int:
        return hash((self.kind, self.model, self.count, self.mem_gib, self.power_w))

    def total_gflops(self, precision: Precision) -> float:
        """Peak rate of all devices together at ``precision`` (0 when unsupported)."""
        return self.peak_gflops.get(precision, 0.0) * self.count


@dataclass(frozen=True, slots=True)
class Node:
    """A compute node (server, edge box, in-network compute element) at a site.

    Attributes:
        id: Unique id within a topology.
        site_id: Id of the site the node stands in.
        arch: CPU instruction-set architecture.
        cpu_cores: Number of CPU cores available to tasks.
        mem_gib: Main memory in GiB.
        storage_gib: Local storage in GiB.
        cpu_peak_gflops: Peak rate of all CPU cores together per precision.
        accelerators: Accelerator groups carried by the node.
        idle_power_w: Power drawn by the whole node when idle, in watts.
        peak_power_w: Power drawn by the whole node at full load, in watts.
        trust_level: How far the node's operator is trusted.
        owner: Provider that owns the node (tenant or operator name).
        price_per_hour: Price of the whole node per hour, in currency units.
        labels: Free-form key/value labels.
    """

    id: str
    site_id: str
    arch: Architecture = Architecture.X86
    cpu_cores: int = 1
    mem_gib: float = 1.0
    storage_gib: float = 0.0
    cpu_peak_gflops: Mapping[Precision, float] = field(default_factory=dict)
    accelerators: tuple[Accelerator, ...] = ()
    idle_power_w: float = 0.0
    peak_power_w: float = 0.0
    trust_level: TrustLevel = TrustLevel.BASIC
    owner: str = "operator"
    price_per_hour: float = 0.0
    labels: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.cpu_cores < 0:
            raise ValueError(f"cpu_cores must not be negative, got {self.cpu_cores}")
        if self.mem_gib < 0 or self.storage_gib < 0:
            raise ValueError("mem_gib and storage_gib must not be negative")
        if self.idle_power_w < 0 or self.peak_power_w < self.idle_power_w:
            raise ValueError(
                f"power must satisfy 0 <= idle_power_w <= peak_power_w, "
                f"got idle {self.idle_power_w} W, peak {self.peak_power_w} W"
            )
        if self.price_per_hour < 0:
            raise ValueError(f"price_per_hour must not be negative, got {self.price_per_hour}")
        object.__setattr__(self, "cpu_peak_gflops", _checked_rates(self.cpu_peak_gflops))

    def __hash__(self) -> int:
        return hash((self.id, self.site_id))

    def accelerator_count(self, kind: AcceleratorKind) -> int:
        """Number of devices of ``kind`` on this node."""
        return sum(a.count for a in self.accelerators if a.kind is kind)

    def peak_gflops(self, precision: Precision, kind: AcceleratorKind | None = None) -> float:
        """Peak rate at ``precision``: of the CPUs when ``kind`` is None, else of that kind."""
        if kind is None:
            return self.cpu_peak_gflops.get(precision, 0.0)
        return sum(a.total_gflops(precision) for a in self.accelerators if a.kind is kind)
