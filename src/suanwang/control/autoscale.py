"""Autoscaling: the desired replica count of a deployment from its replicas' measured load.

The rule is the one of the Kubernetes horizontal pod autoscaler, over the load the control plane
measures (a replica's load is its node's CPU utilisation as the scheduler sees it: the share
reserved, or the share the node's agent measured where higher):

* ``ratio = mean load / target``; inside the tolerance (``|ratio - 1| <= tolerance``) the
  recommendation keeps the replicas measured, else it is ``ceil(sum of loads / target)``, the
  fewest replicas that would each carry the target;
* with nothing measured (no replica running yet) the recommendation holds the current count;
* scaling up takes effect at once; scaling down takes the highest recommendation of the last
  ``scale_down_window_s`` (the stabilisation window), so a dip shorter than the window never
  removes a replica and a constant load never flaps;
* the answer is clamped to ``[min_replicas, max_replicas]``.

Everything here is pure: ``decide`` takes the recommendations kept so far and returns the new
ones with the decision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MAX_REPLICAS = 1000
"""Most replicas one deployment may ask for."""


@dataclass(frozen=True, slots=True)
class ScalePolicy:
    """How a deployment scales.

    Attributes:
        min_replicas: Fewest replicas (at least 1).
        max_replicas: Most replicas (at least ``min_replicas``, at most ``MAX_REPLICAS``).
        target_utilisation: Load per replica aimed at (a CPU share, above 0 and at most 1).
        tolerance: Relative distance from the target within which nothing changes.
        scale_down_window_s: Stabilisation window of scaling down, in seconds.
    """

    min_replicas: int = 1
    max_replicas: int = 1
    target_utilisation: float = 0.6
    tolerance: float = 0.1
    scale_down_window_s: float = 60.0

    def __post_init__(self) -> None:
        if not 1 <= self.min_replicas <= MAX_REPLICAS:
            raise ValueError(
                f"min_replicas must be in [1, {MAX_REPLICAS}], got {self.min_replicas}"
            )
        if not self.min_replicas <= self.max_replicas <= MAX_REPLICAS:
            raise ValueError(
                f"max_replicas must be in [min_replicas={self.min_replicas}, {MAX_REPLICAS}], "
                f"got {self.max_replicas}"
            )
        if not (math.isfinite(self.target_utilisation) and 0 < self.target_utilisation <= 1):
            raise ValueError(f"target_utilisation must be in (0, 1], got {self.target_utilisation}")
        if not (math.isfinite(self.tolerance) and 0 <= self.tolerance < 1):
            raise ValueError(f"tolerance must be in [0, 1), got {self.tolerance}")
        if not (math.isfinite(self.scale_down_window_s) and self.scale_down_window_s >= 0):
            raise ValueError(
                f"scale_down_window_s must be finite and >= 0, got {self.scale_down_window_s}"
            )

    def clamp(self, replicas: int) -> int:
        """``replicas`` within ``[min_replicas, max_replicas]``."""
        return max(self.min_replicas, min(self.max_replicas, replicas))


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One raw recommendation, kept for the stabilisation window."""

    at_s: float
    replicas: int


@dataclass(frozen=True, slots=True)
class ScaleDecision:
    """What one evaluation decided.

    Attributes:
        at_s: When.
        current: Replicas asked for before it.
        desired: Replicas asked for after it.
        measured: Mean load of the replicas measured, or None when none was.
        reason: Why, in words.
    """

    at_s: float
    current: int
    desired: int
    measured: float | None
    reason: str


def recommend(policy: ScalePolicy, current: int, loads: Sequence[float]) -> tuple[int, str]:
    """The raw recommendation for ``loads`` (one per replica measured) and its reason.

    Raises:
        ValueError: a load is negative or not finite.
    """
    for load in loads:
        if not (math.isfinite(load) and load >= 0):
            raise ValueError(f"a replica's load must be finite and >= 0, got {load}")
    if not loads:
        return current, "no replica measured yet: holding"
    mean = sum(loads) / len(loads)
    ratio = mean / policy.target_utilisation
    figures = f"mean load {mean:.2f} of {len(loads)} vs target {policy.target_utilisation:.2f}"
    if abs(ratio - 1.0) <= policy.tolerance:
        return len(loads), f"{figures}: within tolerance"
    # A tiny epsilon keeps float noise (0.6 / 0.2 = 3.0000000000000004) from adding a replica.
    return max(1, math.ceil(sum(loads) / policy.target_utilisation - 1e-9)), figures


def decide(
    policy: ScalePolicy,
    history: tuple[Recommendation, ...],
    now_s: float,
    current: int,
    loads: Sequence[float],
) -> tuple[ScaleDecision, tuple[Recommendation, ...]]:
    """The decision at ``now_s`` and the recommendations to keep for the next one.

    Args:
        policy: The deployment's scaling policy.
        history: What the previous call returned (empty at first).
        now_s: Time of this evaluation (never before the history's last).
        current: Replicas the deployment asks for now.
        loads: Measured load of each running replica.
    """
    raw, why = recommend(policy, current, loads)
    horizon_s = now_s - policy.scale_down_window_s
    kept = (*tuple(r for r in history if r.at_s > horizon_s), Recommendation(now_s, raw))
    stable = max(r.replicas for r in kept)
    measured = sum(loads) / len(loads) if loads else None
    if policy.clamp(raw) != raw:
        why += f"; clamped to [{policy.min_replicas}, {policy.max_replicas}]"
    if raw >= current:
        desired = policy.clamp(raw)
    else:
        # Scale down only to the highest recommendation of the window.
        desired = policy.clamp(min(current, stable))
        if desired > policy.clamp(raw):
            why += f"; scale-down held by the {policy.scale_down_window_s:g} s window"
    verb = "up" if desired > current else "down" if desired < current else "steady"
    reason = f"{verb} {current} -> {desired}: {why}"
    return ScaleDecision(now_s, current, desired, measured, reason), kept
