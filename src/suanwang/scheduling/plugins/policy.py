"""Filters on policy: data residency, trust, and the tier a task class may use."""

from __future__ import annotations

from typing import ClassVar

from suanwang.model import TaskClass, Tier
from suanwang.scheduling.cycle import Cycle
from suanwang.scheduling.framework import BoolArray, Stage

_TIER_BY_RANK = {tier.rank: tier for tier in Tier}


class Residency:
    """Data may be processed only in regions whose code starts with one of the task's prefixes."""

    name = "residency"
    stage: ClassVar[Stage] = Stage.PRE_ROUTE

    def filter(self, cycle: Cycle) -> BoolArray:
        """Nodes in an allowed region (all nodes when the task names none)."""
        prefixes = cycle.spec.residency
        if not prefixes:
            return cycle.state.everyone()
        return cycle.state.region_mask(prefixes)

    def explain(self, cycle: Cycle, node: int) -> str:
        """The node's region and the allowed prefixes."""
        sites = cycle.state.sites
        region = sites.region_codes[int(sites.region_id[node])] or "(none)"
        return f"region {region} is outside the data's residency {list(cycle.spec.residency)}"


class Trust:
    """Nodes must be trusted at least as far as the task asks."""

    name = "trust"
    stage: ClassVar[Stage] = Stage.PRE_ROUTE

    def filter(self, cycle: Cycle) -> BoolArray:
        """Nodes at or above the task's minimum trust level."""
        return cycle.state.arrays.node_trust_level >= int(cycle.spec.min_trust_level)

    def explain(self, cycle: Cycle, node: int) -> str:
        """The node's level against the task's minimum."""
        level = int(cycle.state.arrays.node_trust_level[node])
        return f"trust level {level} is below the required {int(cycle.spec.min_trust_level)}"


class TierClass:
    """Hot work stays off the national hubs (too far from users); warm and cold may go anywhere.

    Where warm and cold work should prefer to go (home region, the green west) is a matter of
    score, not of filter: see the ``east-west`` score.
    """

    name = "tier-class"
    stage: ClassVar[Stage] = Stage.PRE_ROUTE

    def filter(self, cycle: Cycle) -> BoolArray:
        """Nodes whose tier the task's class may use."""
        ranks = cycle.state.sites.tier_rank
        if cycle.spec.task_class is TaskClass.HOT:
            return ranks < Tier.HUB.rank
        return cycle.state.everyone()

    def explain(self, cycle: Cycle, node: int) -> str:
        """The node's tier against the class."""
        tier = _TIER_BY_RANK[int(cycle.state.sites.tier_rank[node])]
        return f"{cycle.spec.task_class} work may not run at a {tier} site"
