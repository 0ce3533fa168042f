"""Bounded aggregates of a twin run: counters, log-binned latency histograms, a time series.

Memory does not grow with the length of a run (DESIGN.md §5): latencies go into fixed log-spaced
histograms (2.3 % wide bins from 1 µs to 10^9 ms, so a percentile is exact to about 1 %), counts
into per-class and per-type counters, rejection reasons into a counter keyed by the plugin that
refused (at most ``MAX_CAUSES`` keys), and the time series into a fixed number of buckets.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from suanwang.model import TaskClass, Tier

_EDGES_MS: list[float] = np.geomspace(1e-3, 1e9, 1201).tolist()
"""Upper edges of the latency bins; bin 0 holds values below 1 µs, the last one values above."""
_EDGES_ARRAY_MS = np.asarray(_EDGES_MS)

MAX_CAUSES = 64
"""Distinct rejection causes counted by name; further ones are counted under ``other``."""

QUANTILES = (0.5, 0.95, 0.99)


class Histogram:
    """Counts of latencies in log-spaced bins, with exact count, sum and maximum."""

    __slots__ = ("count", "counts", "max_ms", "sum_ms")

    def __init__(self) -> None:
        self.counts: list[int] = [0] * (len(_EDGES_MS) + 1)
        self.count = 0
        self.sum_ms = 0.0
        self.max_ms = 0.0

    def add(self, value_ms: float) -> None:
        """Count one value (negative values count as 0)."""
        value_ms = max(value_ms, 0.0)
        self.counts[bisect.bisect_left(_EDGES_MS, value_ms)] += 1
        self.count += 1
        self.sum_ms += value_ms
        self.max_ms = max(self.max_ms, value_ms)

    def add_many(self, values_ms: npt.NDArray[np.float64]) -> None:
        """Count every value of an array, as ``add`` would one by one (negatives count as 0)."""
        if values_ms.size == 0:
            return
        values_ms = np.maximum(values_ms, 0.0)
        bins = np.searchsorted(_EDGES_ARRAY_MS, values_ms, side="left")
        found, counts = np.unique(bins, return_counts=True)
        for index, count in zip(found.tolist(), counts.tolist(), strict=True):
            self.counts[index] += count
        self.count += int(values_ms.size)
        self.sum_ms += float(values_ms.sum())
        self.max_ms = max(self.max_ms, float(values_ms.max()))

    def merge(self, other: Histogram) -> None:
        """Add ``other``'s counts to these."""
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.count += other.count
        self.sum_ms += other.sum_ms
        self.max_ms = max(self.max_ms, other.max_ms)

    @property
    def mean_ms(self) -> float:
        """Mean value (0 when empty)."""
        return self.sum_ms / self.count if self.count else 0.0

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (0..1): geometric middle of the bin it falls in, capped at max."""
        if not self.count:
            return 0.0
        rank = q * self.count
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank and count:
                if index == 0:
                    return min(_EDGES_MS[0], self.max_ms)
                if index >= len(_EDGES_MS):
                    return self.max_ms
                middle = float(np.sqrt(_EDGES_MS[index - 1] * _EDGES_MS[index]))
                return min(middle, self.max_ms)
        return self.max_ms

    def summary(self) -> dict[str, float]:
        """Mean, p50, p95, p99 and max, in ms."""
        out = {"mean": self.mean_ms}
        for q in QUANTILES:
            out[f"p{round(q * 100)}"] = self.quantile(q)
        out["max"] = self.max_ms
        return out


@dataclass(slots=True)
class ClassStats:
    """Outcomes and latencies of one task class (or one task type)."""

    generated: int = 0
    completed: int = 0
    sla_met: int = 0
    rejected: int = 0
    failed: int = 0
    cancelled: int = 0
    total: Histogram = field(default_factory=Histogram)
    network: Histogram = field(default_factory=Histogram)
    queueing: Histogram = field(default_factory=Histogram)
    compute: Histogram = field(default_factory=Histogram)
    estimate_error_pct: Histogram = field(default_factory=Histogram)
    underestimated: int = 0
    queued: int = 0
    wait_error_ms: Histogram = field(default_factory=Histogram)
    budget_min_ms: float | None = None
    budget_max_ms: float | None = None

    def add_budget(self, budget_ms: float) -> None:
        """Note the SLA budget (latency budget or deadline, in ms) of one request."""
        if self.budget_min_ms is None or budget_ms < self.budget_min_ms:
            self.budget_min_ms = budget_ms
        if self.budget_max_ms is None or budget_ms > self.budget_max_ms:
            self.budget_max_ms = budget_ms

    def add_fidelity(self, estimated_ms: float, measured_ms: float) -> None:
        """Compare the scheduler's end-to-end estimate of a completed run with what happened.

        Counted as |estimated - measured| / measured in percent (``estimate_error_pct``), and
        as an under-estimate when the run took longer than estimated.
        """
        if measured_ms <= 0:
            return
        self.estimate_error_pct.add(abs(estimated_ms - measured_ms) / measured_ms * 100.0)
        self.underestimated += measured_ms > estimated_ms * (1 + 1e-9)

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures: counts, SLA ratio over generated tasks, latency splits."""
        return {
            "generated": self.generated,
            "completed": self.completed,
            "sla_met": self.sla_met,
            "sla_ratio": self.sla_met / self.generated if self.generated else 0.0,
            "rejected": self.rejected,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "latency_ms": self.total.summary(),
            "network_ms": self.network.summary(),
            "queueing_ms": self.queueing.summary(),
            "compute_ms": self.compute.summary(),
            "estimate_error_pct": self.estimate_error_pct.summary(),
            "underestimated": self.underestimated,
            "queued": self.queued,
            "wait_error_ms": self.wait_error_ms.summary(),
            "budget_ms": {"min": self.budget_min_ms, "max": self.budget_max_ms},
        }


SERIES_COLUMNS = (
    "arrivals",
    "completed",
    "sla_met",
    "rejected",
    "failed",
    "replaced",
    "latency_sum_ms",
    "energy_kwh",
    "carbon_kg",
    "work_energy_kwh",
    "work_carbon_kg",
    "cost",
    "queued",
    "running",
    "nodes_down",
)
"""Per-bucket columns: counts and sums within the bucket; ``queued``, ``running`` and
``nodes_down`` are sampled at the bucket's end. ``energy_kwh`` and ``carbon_kg`` hold the whole
fleet's draw (idle included); ``work_energy_kwh`` and ``work_carbon_kg`` only what task runs add
on top of the idle draw."""


class TimeSeries:
    """Fixed buckets over ``[0, horizon_s)``; events past the horizon go to the last bucket.

    Args:
        horizon_s: Time the buckets cover.
        buckets: Number of buckets.
        extra_columns: Further sampled columns (utilisation per tier).
    """

    def __init__(self, horizon_s: float, buckets: int, extra_columns: tuple[str, ...]) -> None:
        if horizon_s <= 0 or buckets < 1:
            raise ValueError("a time series needs a positive horizon and at least one bucket")
        self.width_s = horizon_s / buckets
        self.columns = (*SERIES_COLUMNS, *extra_columns)
        self._index = {name: i for i, name in enumerate(self.columns)}
        self.values: npt.NDArray[np.float64] = np.zeros((buckets, len(self.columns)))

    def bucket(self, at_s: float) -> int:
        """Bucket of time ``at_s``."""
        return min(int(at_s / self.width_s), len(self.values) - 1)

    def add(self, at_s: float, column: str, value: float = 1.0) -> None:
        """Add ``value`` to ``column`` in the bucket of ``at_s``."""
        self.values[self.bucket(at_s), self._index[column]] += value

    def add_many(
        self, at_s: npt.NDArray[np.float64], column: str, values: npt.NDArray[np.float64]
    ) -> None:
        """Add each of ``values`` to ``column`` in the bucket of the matching ``at_s``."""
        buckets = np.minimum((at_s / self.width_s).astype(np.intp), len(self.values) - 1)
        np.add.at(self.values[:, self._index[column]], buckets, values)

    def set(self, bucket: int, column: str, value: float) -> None:
        """Set a sampled column of one bucket."""
        self.values[bucket, self._index[column]] = value

    def rows(self) -> list[dict[str, float]]:
        """One dict per bucket, with its start time and mean latency added."""
        rows = []
        completed, latency = self._index["completed"], self._index["latency_sum_ms"]
        for i, row in enumerate(self.values):
            record = {"t_s": i * self.width_s}
            record.update({name: float(row[j]) for j, name in enumerate(self.columns)})
            record["latency_mean_ms"] = (
                float(row[latency] / row[completed]) if row[completed] else 0.0
            )
            rows.append(record)
        return rows


@dataclass(slots=True)
class RunMetrics:
    """Everything a run measures, bounded in size.

    Attributes:
        by_class: Outcomes and latencies per task class.
        by_type: Outcomes and latencies per catalogue task type.
        causes: Rejections and failures counted by cause key.
        examples: One full reason text per cause key.
        busy_core_s: Core-seconds held, per tier.
        busy_device_s: Accelerator-seconds held, per tier.
        energy_kwh: Facility energy (idle + dynamic, times PUE).
        carbon_kg: Carbon of that energy at each site's intensity of the hour.
        work_energy_kwh: The part of ``energy_kwh`` that task runs cause: (peak - idle) x the
            share held, times PUE; without the idle draw, which is alike for every profile.
        work_carbon_kg: Carbon of ``work_energy_kwh``.
        cost: What users pay: node price for the share held, plus transfer prices.
        energy_cost: What the operator pays for the energy.
        traffic_gb_hops: Data moved times links crossed.
        replacements: Tasks moved off a failed node or link.
        migrations: Sessions moved to another node as their user moved.
        node_failures: Node failure events.
        link_failures: Link failure events.
    """

    by_class: dict[TaskClass, ClassStats] = field(
        default_factory=lambda: {c: ClassStats() for c in TaskClass}
    )
    by_type: dict[str, ClassStats] = field(default_factory=dict)
    causes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    busy_core_s: dict[Tier, float] = field(default_factory=lambda: dict.fromkeys(Tier, 0.0))
    busy_device_s: dict[Tier, float] = field(default_factory=lambda: dict.fromkeys(Tier, 0.0))
    energy_kwh: float = 0.0
    carbon_kg: float = 0.0
    work_energy_kwh: float = 0.0
    work_carbon_kg: float = 0.0
    cost: float = 0.0
    energy_cost: float = 0.0
    traffic_gb_hops: float = 0.0
    replacements: int = 0
    migrations: int = 0
    node_failures: int = 0
    link_failures: int = 0

    def type_stats(self, task_type: str) -> ClassStats:
        """Stats of one task type (created on first use; the catalogue bounds their number)."""
        stats = self.by_type.get(task_type)
        if stats is None:
            stats = self.by_type[task_type] = ClassStats()
        return stats

    def count_cause(self, cause: str, reason: str, count: int = 1) -> None:
        """Count ``count`` rejections or failures under ``cause``, keeping a first example."""
        if cause not in self.causes and len(self.causes) >= MAX_CAUSES:
            cause = "other"
        self.causes[cause] += count
        self.examples.setdefault(cause, reason)
