"""Failure descriptions: scripted outages and random failures with MTBF/MTTR."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from suanwang.model.enums import Tier


@dataclass(frozen=True, slots=True)
class ScriptedFailure:
    """A given element fails at a given time.

    Attributes:
        target: Id of the node, link, site or network element that fails.
        at_s: Time of failure, seconds from the start of the run.
        repair_after_s: Time until repair, or None when it never comes back.
    """

    target: str
    at_s: float
    repair_after_s: float | None = None

    def __post_init__(self) -> None:
        if self.at_s < 0:
            raise ValueError(f"at_s must not be negative, got {self.at_s}")
        if self.repair_after_s is not None and self.repair_after_s <= 0:
            raise ValueError(f"repair_after_s must be positive, got {self.repair_after_s}")


class FailureScope(StrEnum):
    """What a random failure process applies to."""

    NODES = "nodes"
    LINKS = "links"


@dataclass(frozen=True, slots=True)
class RandomFailures:
    """Every element in scope fails and recovers with exponential times.

    Attributes:
        scope: Nodes or links.
        mtbf_h: Mean time between failures of one element, in hours.
        mttr_h: Mean time to repair, in hours.
        tier: Limit to nodes at sites of this tier (nodes only), or None for all.
    """

    scope: FailureScope
    mtbf_h: float
    mttr_h: float
    tier: Tier | None = None

    def __post_init__(self) -> None:
        if self.mtbf_h <= 0 or self.mttr_h <= 0:
            raise ValueError("mtbf_h and mttr_h must be positive")
        if self.tier is not None and self.scope is not FailureScope.NODES:
            raise ValueError("a tier limit applies to node failures only")


Failure = ScriptedFailure | RandomFailures
