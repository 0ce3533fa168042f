"""Metric records in the IETF CATS shape, the metric catalogue and what a score means.

CATS (draft-ietf-cats-metric-definition) describes every metric by its type, unit, source,
statistics and level, and stacks three levels:

* **L0** raw metrics with units (``cpu_fp32_gflops = 812.4 GFLOPS``, ``rtt_ms = 3.2``);
* **L1** one unitless score per category (compute, communication, service, composed), each the
  configured aggregation of the normalised L0 metrics of that category;
* **L2** one score for the whole node, the configured aggregation of its L1 scores.

suanwang puts L1 and L2 on the same 0–10 scale so that an operator reads them alike:

* **0–3 poor**: the node barely serves the purpose (little free capacity, far, overloaded);
* **4–7 medium**: it serves, with visible trade-offs;
* **8–10 good**: among the best the network offers for this category.

A continuous score is read by its nearest integer (``score_band(3.4) == "poor"``,
``score_band(7.6) == "good"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

SCORE_MIN = 0.0
SCORE_MAX = 10.0


class MetricLevel(StrEnum):
    """CATS metric levels."""

    L0 = "L0"
    """Raw metric with a unit."""
    L1 = "L1"
    """Normalised, unitless score of one category (0–10)."""
    L2 = "L2"
    """One fully normalised score of a node (0–10)."""


class MetricSource(StrEnum):
    """Where a metric value comes from (CATS ``source``)."""

    NOMINAL = "nominal"
    """Declared by the provider (data-sheet peak rates, configured link figures)."""
    ESTIMATED = "estimated"
    """Derived by a model (compute time from work and rate)."""
    MEASURED = "directly-measured"
    """Measured by a probe or an agent."""
    NORMALISED = "normalised"
    """Mapped onto a unitless scale by a normalisation function."""
    AGGREGATED = "aggregated"
    """Combined from several metrics by an aggregation function."""


class Statistic(StrEnum):
    """Which statistic of a series a value is (CATS ``statistics``)."""

    CUR = "cur"
    MEAN = "mean"
    MIN = "min"
    MAX = "max"


class MetricCategory(StrEnum):
    """The four L1 categories."""

    COMPUTE = "compute"
    COMMUNICATION = "communication"
    SERVICE = "service"
    COMPOSED = "composed"


CATEGORIES: tuple[MetricCategory, ...] = tuple(MetricCategory)
"""Categories in array order (columns of every L1 array)."""


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric value in the CATS shape.

    Attributes:
        metric_type: Name from the catalogue (``cpu_fp32_gflops``), a category for L1
            (``compute``) or ``score`` for L2.
        unit: Unit of ``value`` (``GFLOPS``, ``ms``); ``score`` for L1 and L2.
        source: Where the value comes from.
        statistic: Which statistic of a series ``value`` is.
        level: L0, L1 or L2.
        value: The value.
        timestamp_s: When it was taken, seconds since the Unix epoch.
        subject_id: Node (or link) the value describes, when known.
    """

    metric_type: str
    unit: str
    source: MetricSource
    statistic: Statistic
    level: MetricLevel
    value: float
    timestamp_s: float
    subject_id: str | None = None

    def __post_init__(self) -> None:
        if self.level is not MetricLevel.L0 and not SCORE_MIN <= self.value <= SCORE_MAX:
            raise ValueError(f"{self.level} score must lie in [0, 10], got {self.value}")

    def to_dict(self) -> dict[str, str | float | None]:
        """Plain JSON-ready form."""
        return {
            "metric_type": self.metric_type,
            "unit": self.unit,
            "source": str(self.source),
            "statistic": str(self.statistic),
            "level": str(self.level),
            "value": self.value,
            "timestamp_s": self.timestamp_s,
            "subject_id": self.subject_id,
        }


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """Catalogue entry of an L0 metric type.

    Attributes:
        name: Metric type name; the unit is part of it (``_gflops``, ``_ms``, ``_ratio``).
        unit: Unit as printed.
        category: L1 category the metric feeds.
        higher_is_better: Direction: True when a larger value is better (rates, free
            capacity), False for costs (latency, load, loss).
        description: What it measures.
    """

    name: str
    unit: str
    category: MetricCategory
    higher_is_better: bool
    description: str = ""


def _catalogue(*specs: MetricSpec) -> Mapping[str, MetricSpec]:
    return MappingProxyType({spec.name: spec for spec in specs})


_C, _N, _S, _X = (
    MetricCategory.COMPUTE,
    MetricCategory.COMMUNICATION,
    MetricCategory.SERVICE,
    MetricCategory.COMPOSED,
)

METRIC_TYPES: Mapping[str, MetricSpec] = _catalogue(
    MetricSpec("cpu_fp64_gflops", "GFLOPS", _C, True, "CPU rate at fp64 (dense matmul)"),
    MetricSpec("cpu_fp32_gflops", "GFLOPS", _C, True, "CPU rate at fp32 (dense matmul)"),
    MetricSpec("gpu_fp32_gflops", "GFLOPS", _C, True, "GPU rate at fp32 (dense matmul)"),
    MetricSpec("gpu_fp16_gflops", "GFLOPS", _C, True, "GPU rate at fp16 (dense matmul)"),
    MetricSpec("mem_bandwidth_gbps", "GB/s", _C, True, "main memory copy bandwidth"),
    MetricSpec("cpu_cores", "cores", _C, True, "logical CPU cores"),
    MetricSpec("mem_gib", "GiB", _C, True, "main memory"),
    MetricSpec("disk_free_gib", "GiB", _C, True, "free local storage"),
    MetricSpec("cpu_free_cores", "cores", _C, True, "CPU cores not in use"),
    MetricSpec("mem_free_gib", "GiB", _C, True, "memory not in use"),
    MetricSpec("load_ratio", "ratio", _C, False, "CPU utilisation, 0 idle to 1 saturated"),
    MetricSpec("rtt_ms", "ms", _N, False, "round-trip time to the controller or a peer"),
    MetricSpec("bandwidth_mbps", "Mbps", _N, True, "available bandwidth"),
    MetricSpec("loss_ratio", "ratio", _N, False, "packet loss, 0 to 1"),
    MetricSpec("service_latency_ms", "ms", _S, False, "time a service takes per request"),
    MetricSpec("queue_length", "requests", _S, False, "requests waiting"),
    MetricSpec("success_ratio", "ratio", _S, True, "share of requests served, 0 to 1"),
    MetricSpec("e2e_latency_ms", "ms", _X, False, "network plus service time, end to end"),
)
"""Every L0 metric type suanwang knows, by name."""

REPORT_METRICS: tuple[str, ...] = (
    "cpu_free_cores",
    "mem_free_gib",
    "load_ratio",
    "rtt_ms",
    "bandwidth_mbps",
    "loss_ratio",
    "service_latency_ms",
    "queue_length",
    "success_ratio",
    "e2e_latency_ms",
)
"""L0 metrics an agent may put in a periodic report (columns of the aggregator's arrays)."""


def metric_spec(name: str) -> MetricSpec:
    """The catalogue entry of metric type ``name``.

    Raises:
        KeyError: unknown metric type.
    """
    try:
        return METRIC_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown metric type {name!r}") from None


def score_band(score: float) -> str:
    """``poor`` (0–3), ``medium`` (4–7) or ``good`` (8–10) for a 0–10 score."""
    rounded = round(score)
    if rounded <= 3:
        return "poor"
    if rounded <= 7:
        return "medium"
    return "good"
