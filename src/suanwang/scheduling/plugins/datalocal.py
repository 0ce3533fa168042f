"""The ``data-local`` score: run next to the input datasets where that still meets the SLA."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from suanwang.scheduling.cycle import Cycle
from suanwang.scheduling.datasets import local_share
from suanwang.scheduling.framework import FloatArray


class DataLocal:
    """Prefer nodes at sites holding the task's input datasets, among those meeting its SLA.

    Per node: the share of the input datasets' megabytes stored at its site (0..1) where the
    node's estimate (network, datasets' transfer included, + queueing + compute + fixed) meets
    the latency budget and the deadline, and 0 where it misses them: a data-local node that
    would miss the SLA gets no preference, so the other scores choose a faster remote node.
    A task without input datasets scores 1 everywhere (the plugin leaves the choice to others).
    """

    name = "data-local"
    higher_is_better: ClassVar[bool] = True

    def score(self, cycle: Cycle) -> FloatArray:
        """Local share of the input data where the SLA is met, else 0."""
        spec = cycle.spec
        n = len(cycle.state.arrays.node_ids)
        if not spec.datasets:
            return np.ones(n)
        share = local_share(cycle.state, spec.datasets)
        limit_ms = min(
            np.inf if spec.latency_budget_ms is None else spec.latency_budget_ms,
            np.inf if spec.deadline_s is None else spec.deadline_s * 1000.0,
        )
        if np.isfinite(limit_ms):
            share = np.where(cycle.total_ms() <= limit_ms, share, 0.0)
        return share
