"""Filters on policy: data residency, trust, data tags, and the tier a task class may use.

Residency, trust and data tags are hard constraints: ``ProfilePlugins`` runs them first, before
the route, under every profile (``scheduler.MANDATORY_FILTERS``), whatever the profile lists.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from suanwang.model import DataPolicy, TaskClass, Tier, Topology
from suanwang.scheduling.cycle import Cycle
from suanwang.scheduling.framework import SUCCESS, BoolArray, Code, Stage, Status

_TIER_BY_RANK = {tier.rank: tier for tier in Tier}


class Residency:
    """Data may be processed only in regions inside one of the task's patterns (by hierarchy)."""

    name = "residency"
    stage: ClassVar[Stage] = Stage.PRE_ROUTE

    def filter(self, cycle: Cycle) -> BoolArray:
        """Nodes in an allowed region (all nodes when the task names none)."""
        patterns = cycle.spec.residency
        if not patterns:
            return cycle.state.everyone()
        return cycle.state.region_mask(patterns)

    def explain(self, cycle: Cycle, node: int) -> str:
        """The node's region and the allowed patterns."""
        sites = cycle.state.sites
        region = sites.region_codes[int(sites.region_id[node])] or "(none)"
        return f"region {region} is outside the data's residency {list(cycle.spec.residency)}"

    def never(self, cycle: Cycle) -> BoolArray:
        """The nodes it rejects: a policy does not change with the load."""
        return ~np.asarray(self.filter(cycle), dtype=bool)


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

    def never(self, cycle: Cycle) -> BoolArray:
        """The nodes it rejects: a policy does not change with the load."""
        return ~np.asarray(self.filter(cycle), dtype=bool)


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

    def never(self, cycle: Cycle) -> BoolArray:
        """The nodes it rejects: a policy does not change with the load."""
        return ~np.asarray(self.filter(cycle), dtype=bool)


def unknown_tags(spec_tags: frozenset[str], topology: Topology) -> list[str]:
    """The tags among ``spec_tags`` no data policy of ``topology`` governs, sorted."""
    return sorted(tag for tag in spec_tags if tag not in topology.data_policies)


def _unknown_reason(unknown: list[str], topology: Topology) -> str:
    declared = ", ".join(sorted(topology.data_policies)) or "none"
    return f"data tag(s) {unknown} have no data policy in this network (declared: {declared})"


class DataTags:
    """Tagged data goes only where every policy of its tags allows (region, tier, owner).

    A tag without a policy is refused, never ignored: a typo in a tag must not let data loose.
    As a PreFilter that refusal is an ERROR with the unknown tags named (the request is wrong,
    retrying cannot help); as a Filter such a task passes no node, so a caller that skips the
    PreFilter point still cannot place it. Masks depend on the topology and the tags only, so
    they are kept per (topology version, tags).
    """

    name = "data-tags"
    stage: ClassVar[Stage] = Stage.PRE_ROUTE
    _MASKS_KEPT = 256

    def __init__(self) -> None:
        self._masks: dict[tuple[int, frozenset[str]], BoolArray] = {}

    def pre_filter(self, cycle: Cycle) -> Status:
        """ERROR naming the tags that have no data policy; else SUCCESS."""
        tags, topology = cycle.spec.data_tags, cycle.state.topology
        unknown = unknown_tags(tags, topology) if tags else []
        if unknown:
            return Status(Code.ERROR, _unknown_reason(unknown, topology), self.name)
        return SUCCESS

    def filter(self, cycle: Cycle) -> BoolArray:
        """Nodes every policy of the task's tags allows (all nodes for untagged data)."""
        tags, state = cycle.spec.data_tags, cycle.state
        if not tags:
            return state.everyone()
        key = (state.topology.version, tags)
        mask = self._masks.get(key)
        if mask is None:
            if len(self._masks) >= self._MASKS_KEPT:
                self._masks.clear()
            mask = self._masks[key] = self._mask(cycle)
            mask.flags.writeable = False
        return mask

    @staticmethod
    def _mask(cycle: Cycle) -> BoolArray:
        state = cycle.state
        policies = state.topology.data_policies
        mask = np.ones(len(state.arrays.node_ids), dtype=bool)
        owners: list[str] | None = None
        for tag in cycle.spec.data_tags:
            policy = policies.get(tag)
            if policy is None:
                return np.zeros_like(mask)
            if policy.regions:
                mask &= state.region_mask(policy.regions)
            if policy.tiers:
                mask &= np.isin(state.sites.tier_rank, [tier.rank for tier in policy.tiers])
            if policy.owners:
                if owners is None:
                    owners = [node.owner for node in state.topology.nodes.values()]
                mask &= np.fromiter((o in policy.owners for o in owners), bool, len(owners))
        return mask

    def explain(self, cycle: Cycle, node: int) -> str:
        """The first tag whose policy turns the node away, with the policy and the node's facts."""
        topology = cycle.state.topology
        unknown = unknown_tags(cycle.spec.data_tags, topology)
        if unknown:
            return _unknown_reason(unknown, topology)
        record = topology.nodes[cycle.state.arrays.node_ids[node]]
        site = topology.sites[record.site_id]
        for tag in sorted(cycle.spec.data_tags):
            policy: DataPolicy = topology.data_policies[tag]
            if not policy.allows(site.region, site.tier, record.owner):
                return (
                    f"data tag {tag!r}: {policy.describe()} does not allow region "
                    f"{site.region or '(none)'}, "
                    f"tier {site.tier}, owner {record.owner}"
                )
        return "every data policy of the task's tags allows this node"

    def never(self, cycle: Cycle) -> BoolArray:
        """The nodes it rejects: a policy does not change with the load."""
        return ~np.asarray(self.filter(cycle), dtype=bool)
