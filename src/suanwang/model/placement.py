"""Placements: the instance and path chosen for a task, with the estimate behind the choice."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Estimate:
    """What a placement is expected to cost the user and the planet.

    Attributes:
        network_ms: Propagation round trip plus transfer of the task's data in and out.
        queueing_ms: Waiting for a free core or device at the node.
        compute_ms: Running the task's work on the node.
        cost: Price in currency units (compute time plus transfer).
        energy_kwh: Facility energy (IT energy x PUE).
        carbon_g: Grams CO2e of that energy at the site's carbon intensity.
        fixed_ms: Time outside the network and the node (the task's ``fixed_latency_ms``:
            sensor, display, processing at the terminal), part of the end-to-end time.
    """

    network_ms: float = 0.0
    queueing_ms: float = 0.0
    compute_ms: float = 0.0
    cost: float = 0.0
    energy_kwh: float = 0.0
    carbon_g: float = 0.0
    # Last, so that positional construction of the older fields keeps its meaning.
    fixed_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        """End-to-end time: network + queueing + compute + fixed."""
        return self.network_ms + self.queueing_ms + self.compute_ms + self.fixed_ms


@dataclass(frozen=True, slots=True)
class Placement:
    """The node and network path chosen for one task.

    Attributes:
        task_id: Task placed.
        node_id: Node that runs it.
        path: Vertex ids from the ingress site to the node's site (one entry when they coincide).
        segments: Link ids along ``path`` (one fewer than its vertices).
        reserved_bandwidth_mbps: Bandwidth reserved on every link of ``segments``.
        estimate: Expected times, cost, energy and carbon.
        instance_id: The service instance (CSCI-ID) on the node that serves a task naming a
            service (CS-ID), when the service lists one there.
    """

    task_id: str
    node_id: str
    path: tuple[str, ...]
    segments: tuple[str, ...] = ()
    reserved_bandwidth_mbps: float = 0.0
    estimate: Estimate = Estimate()
    instance_id: str | None = None

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("a placement path names at least the node's site")
        if len(self.segments) != len(self.path) - 1:
            raise ValueError(
                f"a path of {len(self.path)} vertices has {len(self.path) - 1} segments, "
                f"got {len(self.segments)}"
            )
        if self.reserved_bandwidth_mbps < 0:
            raise ValueError("reserved_bandwidth_mbps must not be negative")
