"""Workload descriptions: a catalogue of task types and the arrival processes that draw from it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from suanwang.model.site import HOURS_PER_DAY
from suanwang.model.task import TaskSpec


@dataclass(frozen=True, slots=True)
class TaskType:
    """A kind of request in a workload catalogue (AR/VR frame, video analytics, training job...).

    Attributes:
        name: Unique name within the catalogue.
        spec: Template of every request of this type (its ``ingress_site`` is left None); its
            ``fixed_latency_ms`` is the type's time outside the network and the node (an AR/VR
            frame's sensor and display), which every request of the type carries.
        description: What the type stands for, with the figures it was drawn from.
    """

    name: str
    spec: TaskSpec
    description: str = ""


class ArrivalKind(StrEnum):
    """How requests of one stream arrive in time."""

    POISSON = "poisson"
    """Exponential inter-arrival times at ``rate_per_s``."""
    DIURNAL = "diurnal"
    """Poisson whose rate is ``rate_per_s`` times the multiplier of the hour of day."""
    BURST = "burst"
    """Poisson at ``rate_per_s``, times ``burst_factor`` inside each burst window."""
    TRACE = "trace"
    """Replay of a CSV trace (time_s, task_type, ingress) named by ``trace_file``."""


@dataclass(frozen=True, slots=True)
class Arrivals:
    """One stream of requests of one task type.

    Attributes:
        task_type: Name of the task type the requests carry (for ``trace``: the default type
            for rows that leave it empty).
        kind: Arrival process.
        rate_per_s: Mean rate in requests per second (ignored by ``trace``).
        ingress: (site id, weight) pairs; each request enters at a site drawn by weight.
        hourly_multipliers: 24 multipliers of ``rate_per_s`` (``diurnal`` only).
        burst_every_s: Time between burst starts (``burst`` only).
        burst_duration_s: Length of each burst (``burst`` only).
        burst_factor: Rate multiplier inside a burst (``burst`` only).
        trace_file: Path of the CSV trace, relative to the scenario file (``trace`` only).
    """

    task_type: str
    kind: ArrivalKind = ArrivalKind.POISSON
    rate_per_s: float = 1.0
    ingress: tuple[tuple[str, float], ...] = ()
    hourly_multipliers: tuple[float, ...] | None = None
    burst_every_s: float | None = None
    burst_duration_s: float | None = None
    burst_factor: float | None = None
    trace_file: str | None = None

    def __post_init__(self) -> None:
        if self.rate_per_s < 0:
            raise ValueError(f"rate_per_s must not be negative, got {self.rate_per_s}")
        if any(weight <= 0 for _, weight in self.ingress):
            raise ValueError("ingress weights must be positive")
        if self.kind is ArrivalKind.DIURNAL and (
            self.hourly_multipliers is None or len(self.hourly_multipliers) != HOURS_PER_DAY
        ):
            raise ValueError("diurnal arrivals need 24 hourly_multipliers")
        if self.kind is ArrivalKind.BURST and None in (
            self.burst_every_s,
            self.burst_duration_s,
            self.burst_factor,
        ):
            raise ValueError("burst arrivals need burst_every_s, burst_duration_s, burst_factor")
        if self.kind is ArrivalKind.TRACE and not self.trace_file:
            raise ValueError("trace arrivals need a trace_file")


@dataclass(frozen=True, slots=True)
class Workload:
    """What users ask of the network over a run.

    Attributes:
        task_types: The catalogue.
        arrivals: Request streams over the catalogue.
        duration_s: Default length of a run in seconds.
        seed: Default random seed.
    """

    task_types: tuple[TaskType, ...] = ()
    arrivals: tuple[Arrivals, ...] = ()
    duration_s: float = 3600.0
    seed: int = 0

    def task_type(self, name: str) -> TaskType:
        """The task type called ``name``.

        Raises:
            KeyError: no such type.
        """
        for task_type in self.task_types:
            if task_type.name == name:
                return task_type
        raise KeyError(name)
