"""The lease filter and score: a tenant's work runs on the nodes it leases, nobody else's does.

A lease (``market``) binds whole nodes to one tenant (``ClusterState.leases``). The filter runs
after the route under every profile (``scheduler.MANDATORY_FILTERS``): a node leased to another
tenant is never a candidate, and when some of the tenant's own leased nodes can take the task,
only those remain, so its work lands on what it paid for and spills over to unleased capacity
only when its leases are full or cannot meet the task. The score, for profiles that name it,
ranks the tenant's leased nodes first (scaled to 100) and every other node at 0.

Leases come and go at run time, so the filter has no ``never`` mask: a refusal for a lease is
for now, and the task waits in the queue.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from suanwang.scheduling.cycle import Cycle
from suanwang.scheduling.framework import BoolArray, FloatArray, Stage


class LeaseBound:
    """Nodes leased to others out; the tenant's own leased nodes only, where one fits."""

    name = "leases"
    stage: ClassVar[Stage] = Stage.POST_ROUTE

    def filter(self, cycle: Cycle) -> BoolArray:
        """The nodes the task may use given the leases (see the module docstring)."""
        others, own = cycle.state.leases.masks(cycle.state.arrays.node_ids, cycle.request.tenant)
        if (own & cycle.alive).any():
            return np.asarray(own, dtype=bool)
        return np.asarray(~others, dtype=bool)

    def explain(self, cycle: Cycle, node: int) -> str:
        """Whose lease keeps the node from the task."""
        node_id = cycle.state.arrays.node_ids[node]
        holder = cycle.state.leases.tenant_of(node_id)
        if holder is not None and holder != cycle.request.tenant:
            return f"node is leased to tenant {holder!r}"
        return f"tenant {cycle.request.tenant!r} leases nodes that can take the task"


class LeaseAffinity:
    """Score: 1 on the tenant's leased nodes, 0 elsewhere (scaled: 100 and 0)."""

    name = "lease-affinity"
    higher_is_better: ClassVar[bool] = True

    def score(self, cycle: Cycle) -> FloatArray:
        """Per node, 1.0 where the tenant leases it."""
        _, own = cycle.state.leases.masks(cycle.state.arrays.node_ids, cycle.request.tenant)
        return own.astype(np.float64)
