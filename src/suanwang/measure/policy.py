"""CATS metric update policies and the staleness rule, shared by agents and the aggregator.

An agent asks ``UpdatePolicy.decide`` whether a new sample is worth sending; the aggregator asks
the same question of every verified report before it applies it, so a misbehaving agent cannot
flood the brain. Three modes, after the CATS framework:

* ``interval``: at most one update per ``interval_s`` (periodic reporting);
* ``threshold``: an update as soon as some metric moved by more than ``threshold_ratio`` of its
  last applied value, and otherwise once per ``interval_s`` as a heartbeat;
* ``dampened``: as ``threshold``, but a triggered update less than ``hold_down_s`` after the last
  one is held back; the newest held values are applied when the hold-down ends, so a flapping
  metric yields at most one update per hold-down.

Staleness: a node not heard from for ``stale_after_s`` is *stale* and its scores are scaled down
linearly, to ``1 - max_penalty`` at ``exclude_after_s``; past that it is *excluded* from
scheduling until it reports again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from suanwang.measure.normalise import FloatArray


class UpdateMode(StrEnum):
    """How often metric updates flow (see the module docstring)."""

    INTERVAL = "interval"
    THRESHOLD = "threshold"
    DAMPENED = "dampened"


class UpdateDecision(StrEnum):
    """What to do with a new sample."""

    APPLY = "apply"
    """Send it (agent) or make it the node's current values (aggregator)."""
    SKIP = "skip"
    """Drop it; it only proves the node is alive."""
    HOLD = "hold"
    """Keep it as pending; apply it when the hold-down ends unless newer values come first."""


@dataclass(frozen=True, slots=True)
class UpdatePolicy:
    """When a new metric sample becomes an update.

    Attributes:
        mode: Interval, threshold-triggered or dampened.
        interval_s: Period (``interval``) or heartbeat (other modes) in seconds.
        threshold_ratio: Relative change of any metric that triggers an update.
        hold_down_s: Least time between two triggered updates (``dampened``).
    """

    mode: UpdateMode = UpdateMode.INTERVAL
    interval_s: float = 10.0
    threshold_ratio: float = 0.1
    hold_down_s: float = 5.0

    def __post_init__(self) -> None:
        if self.interval_s < 0 or self.threshold_ratio < 0 or self.hold_down_s < 0:
            raise ValueError("interval_s, threshold_ratio and hold_down_s must not be negative")

    def changed(self, last: FloatArray, new: FloatArray) -> bool:
        """True when some metric of ``new`` moved by more than ``threshold_ratio`` from ``last``.

        A value that appears or disappears (NaN on one side only) counts as a change.
        """
        last_nan, new_nan = np.isnan(last), np.isnan(new)
        if np.any(last_nan != new_nan):
            return True
        both = ~new_nan
        delta = np.abs(new[both] - last[both])
        return bool(np.any(delta > self.threshold_ratio * np.maximum(np.abs(last[both]), 1e-9)))

    def decide(
        self,
        last_values: FloatArray | None,
        last_applied_s: float | None,
        new_values: FloatArray,
        now_s: float,
    ) -> UpdateDecision:
        """Whether ``new_values`` sampled at ``now_s`` become an update.

        Args:
            last_values: Values of the last update, or None before the first.
            last_applied_s: Time of the last update, or None before the first.
            new_values: The new sample, in the same column order.
            now_s: Time of the new sample.
        """
        if last_values is None or last_applied_s is None:
            return UpdateDecision.APPLY
        elapsed_s = now_s - last_applied_s
        if elapsed_s >= self.interval_s:
            return UpdateDecision.APPLY
        if self.mode is UpdateMode.INTERVAL or not self.changed(last_values, new_values):
            return UpdateDecision.SKIP
        if self.mode is UpdateMode.DAMPENED and elapsed_s < self.hold_down_s:
            return UpdateDecision.HOLD
        return UpdateDecision.APPLY


@dataclass(frozen=True, slots=True)
class StalenessPolicy:
    """How silence lowers a node's scores and finally removes it from scheduling.

    Attributes:
        stale_after_s: Age from which a node is stale and penalised.
        exclude_after_s: Age from which it is excluded.
        max_penalty: Share of the score taken away at ``exclude_after_s`` (0 to 1).
    """

    stale_after_s: float = 30.0
    exclude_after_s: float = 120.0
    max_penalty: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.stale_after_s < self.exclude_after_s:
            raise ValueError("need 0 <= stale_after_s < exclude_after_s")
        if not 0.0 <= self.max_penalty <= 1.0:
            raise ValueError("max_penalty must lie in [0, 1]")

    def factor(self, age_s: npt.ArrayLike) -> FloatArray:
        """Score multiplier for each age: 1 while fresh, falling linearly, 0 once excluded."""
        age = np.asarray(age_s, dtype=np.float64)
        window = self.exclude_after_s - self.stale_after_s
        progress = np.clip((age - self.stale_after_s) / window, 0.0, 1.0)
        factor = 1.0 - self.max_penalty * progress
        return np.where(age >= self.exclude_after_s, 0.0, factor)

    def stale(self, age_s: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Mask of ages that are stale (including excluded ones)."""
        return np.asarray(age_s, dtype=np.float64) >= self.stale_after_s

    def excluded(self, age_s: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Mask of ages that are excluded (never heard from counts as infinitely old)."""
        return np.asarray(age_s, dtype=np.float64) >= self.exclude_after_s
