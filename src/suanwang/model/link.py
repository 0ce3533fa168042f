"""Links and network-only elements: the network half of the computing force network."""

from __future__ import annotations

from dataclasses import dataclass

from suanwang.model.enums import ElementKind
from suanwang.model.site import GeoPosition

FIBRE_US_PER_KM = 5.0
"""One-way propagation delay in optical fibre, microseconds per kilometre (light at ~2/3 c)."""

DEFAULT_ROUTING_FACTOR = 1.5
"""Fibre route length over great-circle distance; real routes follow roads and rails."""


def fibre_latency_ms(distance_km: float, routing_factor: float = DEFAULT_ROUTING_FACTOR) -> float:
    """One-way fibre propagation latency in ms over ``distance_km`` of great-circle distance."""
    if distance_km < 0 or routing_factor < 1.0:
        raise ValueError("distance_km must be >= 0 and routing_factor >= 1")
    return distance_km * routing_factor * FIBRE_US_PER_KM / 1000.0


@dataclass(frozen=True, slots=True)
class InNetworkCompute:
    """Compute offered by a network element itself (a programmable switch, a router with a DPU).

    Attributes:
        cpu_cores: Cores usable by tasks.
        mem_gib: Memory usable by tasks in GiB.
        peak_gflops: Peak rate at fp32 (10^9 operations per second).
    """

    cpu_cores: int
    mem_gib: float
    peak_gflops: float

    def __post_init__(self) -> None:
        if self.cpu_cores < 0 or self.mem_gib < 0 or self.peak_gflops < 0:
            raise ValueError("in-network compute figures must not be negative")


@dataclass(frozen=True, slots=True)
class NetworkElement:
    """A router, switch or gateway: a vertex of the routing graph that is not a site.

    Attributes:
        id: Unique id within a topology (shared namespace with sites).
        kind: Router, switch or gateway.
        site_id: Site the element stands in, if any (for drawing and residency).
        geo: Position, when known and different from its site.
        compute: In-network compute it offers, or None for a pure forwarder.
    """

    id: str
    kind: ElementKind
    site_id: str | None = None
    geo: GeoPosition | None = None
    compute: InNetworkCompute | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """A bidirectional link between two vertices (sites or network elements).

    Figures hold for each direction separately (a 10 Gbps link carries 10 Gbps each way).

    Attributes:
        id: Unique id within a topology.
        a: Id of one end (a site or a network element).
        b: Id of the other end.
        bandwidth_mbps: Capacity in megabits per second.
        latency_ms: One-way propagation latency in milliseconds.
        loss_ratio: Packet loss as a fraction in [0, 1).
        jitter_ms: Latency variation in milliseconds.
        cost_per_gb: Transfer price in currency units per gigabyte.
        slice_mbps: Capacity reserved for deterministic slices (0 for none); it is part of
            ``bandwidth_mbps``, never in addition to it.
    """

    id: str
    a: str
    b: str
    bandwidth_mbps: float
    latency_ms: float
    loss_ratio: float = 0.0
    jitter_ms: float = 0.0
    cost_per_gb: float = 0.0
    slice_mbps: float = 0.0

    def __post_init__(self) -> None:
        if self.a == self.b:
            raise ValueError(f"link {self.id!r} joins {self.a!r} to itself")
        if self.bandwidth_mbps <= 0:
            raise ValueError(f"bandwidth_mbps must be positive, got {self.bandwidth_mbps}")
        if self.latency_ms < 0 or self.jitter_ms < 0 or self.cost_per_gb < 0:
            raise ValueError("latency_ms, jitter_ms and cost_per_gb must not be negative")
        if not 0.0 <= self.loss_ratio < 1.0:
            raise ValueError(f"loss_ratio must lie in [0, 1), got {self.loss_ratio}")
        if not 0.0 <= self.slice_mbps <= self.bandwidth_mbps:
            raise ValueError(
                f"slice_mbps must lie in [0, bandwidth_mbps={self.bandwidth_mbps}], "
                f"got {self.slice_mbps}"
            )
