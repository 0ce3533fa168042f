"""Spread: a run asked to avoid some sites (``TaskSpec.avoid_sites``) is placed elsewhere.

A deployment's replicas name the sites that already hold one of them, so that losing one site
takes down as few replicas as possible. It is a hard constraint of the policy stage
(``scheduler.MANDATORY_FILTERS``); the one who asks relaxes it when no other site can take the
run (the deployments' reconciler asks again without it).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from suanwang.scheduling.cycle import Cycle
from suanwang.scheduling.framework import BoolArray, Stage


class AvoidSites:
    """Nodes outside the sites the task avoids (all nodes when it avoids none)."""

    name = "avoid-sites"
    stage: ClassVar[Stage] = Stage.PRE_ROUTE

    def filter(self, cycle: Cycle) -> BoolArray:
        """Nodes whose site is not in the task's ``avoid_sites``."""
        avoided = cycle.spec.avoid_sites
        if not avoided:
            return cycle.state.everyone()
        arrays = cycle.state.arrays
        site_of_node = np.asarray(arrays.vertex_ids, dtype=object)[arrays.node_vertex]
        return ~np.isin(site_of_node, np.asarray(avoided, dtype=object))

    def explain(self, cycle: Cycle, node: int) -> str:
        """The node's site, which the task avoids."""
        arrays = cycle.state.arrays
        site = arrays.vertex_ids[int(arrays.node_vertex[node])]
        return f"site {site} already holds a replica of this deployment (avoid_sites)"

    def never(self, cycle: Cycle) -> BoolArray:
        """The nodes it rejects: the sites avoided do not change with the load."""
        return ~np.asarray(self.filter(cycle), dtype=bool)
