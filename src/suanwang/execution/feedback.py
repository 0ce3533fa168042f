"""Measured against estimated compute time, fed back into the efficiency table.

The measurement model estimates ``compute_ms = work / (peak x efficiency x share)``. When a run
measures ``m`` where ``e`` was estimated, and the node's peak and the task's share are right,
the efficiency the device really reached on that workload class is::

    implied = efficiency_used x e / m

Update rule, per (device, workload class):

1. a sample is skipped when either time is not positive and finite (failed runs, zero work);
2. its ratio ``m / e`` is clamped to ``ratio_bounds`` (default 0.1 .. 10), so one outlier — a
   worker that waited on a swapped page, a cold cache — moves the table by a bounded step;
3. the implied efficiency enters an exponential moving average with weight ``alpha``
   (the first sample starts it);
4. ``table()`` replaces an entry only once it has ``min_samples`` samples, clamped to
   ``[efficiency_floor, 1]`` (the table's own range is (0, 1]).

The average is kept over implied efficiencies rather than over ratios, so it stays right when
the table the estimates were made with changes: pass that table (``ClusterState.efficiency``)
as ``used`` whenever it is no longer the ``base`` this feedback started from.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from suanwang.execution.runbook import RunRecord
from suanwang.measure.compute import DEFAULT_EFFICIENCY, DEVICES, EfficiencyTable, WorkloadClass

Key = tuple[str, WorkloadClass]
"""(device, workload class): one cell of an efficiency table."""


@dataclass(frozen=True, slots=True)
class Gap:
    """What the runs of one (device, workload class) measured against their estimates.

    Attributes:
        samples: Samples taken.
        ratio: Moving average of measured / estimated compute time (clamped per sample).
        efficiency: Moving average of the implied efficiency (not yet clamped to the table).
    """

    samples: int
    ratio: float
    efficiency: float


class EfficiencyFeedback:
    """Learns an ``EfficiencyTable`` from run records (update rule in the module docstring).

    Thread-safe: engines call ``observe_record`` from their reporter threads.

    Args:
        base: The table estimates are made with, and the one the result starts from.
        alpha: Weight of a new sample in the moving average, in (0, 1].
        min_samples: Samples a cell needs before ``table()`` changes it.
        ratio_bounds: Least and most measured/estimated ratio one sample may carry.
        efficiency_floor: Least efficiency ``table()`` writes.
    """

    def __init__(
        self,
        base: EfficiencyTable = DEFAULT_EFFICIENCY,
        *,
        alpha: float = 0.2,
        min_samples: int = 5,
        ratio_bounds: tuple[float, float] = (0.1, 10.0),
        efficiency_floor: float = 1e-3,
    ) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must lie in (0, 1], got {alpha}")
        if min_samples < 1:
            raise ValueError(f"min_samples must be at least 1, got {min_samples}")
        low, high = ratio_bounds
        if not 0.0 < low <= 1.0 <= high:
            raise ValueError(f"ratio_bounds must satisfy 0 < low <= 1 <= high, got {ratio_bounds}")
        if not 0.0 < efficiency_floor <= 1.0:
            raise ValueError(f"efficiency_floor must lie in (0, 1], got {efficiency_floor}")
        self.base = base
        self.alpha = alpha
        self.min_samples = min_samples
        self.ratio_bounds = (low, high)
        self.efficiency_floor = efficiency_floor
        self._lock = threading.Lock()
        self._gaps: dict[Key, Gap] = {}

    def observe(
        self,
        device: str,
        workload_class: WorkloadClass,
        estimated_ms: float,
        measured_ms: float,
        used: EfficiencyTable | None = None,
    ) -> bool:
        """Take one sample; False when it was skipped (see rule 1).

        Args:
            device: Device the estimate was for.
            workload_class: Workload class of the estimate.
            estimated_ms: The placement's compute estimate.
            measured_ms: The compute time measured.
            used: Table the estimate was made with (default: ``base``).

        Raises:
            ValueError: Unknown device.
        """
        if device not in DEVICES:
            raise ValueError(f"unknown device {device!r}; known: {list(DEVICES)}")
        if not (_positive(estimated_ms) and _positive(measured_ms)):
            return False
        low, high = self.ratio_bounds
        ratio = min(max(measured_ms / estimated_ms, low), high)
        implied = (used or self.base).efficiency(device, workload_class) / ratio
        key = (device, WorkloadClass(workload_class))
        with self._lock:
            gap = self._gaps.get(key)
            if gap is None:
                self._gaps[key] = Gap(1, ratio, implied)
            else:
                a = self.alpha
                self._gaps[key] = Gap(
                    gap.samples + 1,
                    (1 - a) * gap.ratio + a * ratio,
                    (1 - a) * gap.efficiency + a * implied,
                )
        return True

    def observe_record(self, record: RunRecord) -> bool:
        """Take the sample of a run record (usable as an engine's ``on_record`` hook)."""
        if not record.ok or record.measured_compute_ms is None:
            return False
        return self.observe(
            record.device,
            record.workload_class,
            record.estimated_compute_ms,
            record.measured_compute_ms,
        )

    def gaps(self) -> Mapping[Key, Gap]:
        """The moving averages of every cell sampled so far."""
        with self._lock:
            return dict(self._gaps)

    def table(self) -> EfficiencyTable:
        """``base`` with every cell that has ``min_samples`` samples replaced by its average."""
        rows = {device: dict(self.base.table[device]) for device in DEVICES}
        for (device, workload_class), gap in self.gaps().items():
            if gap.samples >= self.min_samples:
                rows[device][workload_class] = min(max(gap.efficiency, self.efficiency_floor), 1.0)
        return EfficiencyTable(rows)


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0.0
