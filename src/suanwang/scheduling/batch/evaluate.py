"""What a set of placements achieves: SLA satisfaction, latency, cost and carbon of a batch.

A placed task *meets its SLA* when its estimate fits its latency budget and its deadline, its
estimated price fits its budget, and its node honours its data residency and trust level; a
task that states none of these meets it by being placed. The estimate is the one the placement
carries: what the scheduler expected when it chose. The online scheduler sees the load of the
tasks placed before each one; the batch flow estimates against the ledger at the start of each
round and the optimum against the state before the batch (reservations dedicate the cores,
devices and bandwidth each task holds, so the batch's own load is not counted twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suanwang.model import Placement, TaskSpec, Topology
from suanwang.scheduling.framework import BoolArray, FloatArray, Request

_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class BatchMetrics:
    """Figures of one batch placement.

    Attributes:
        tasks: Requests in the batch.
        placed: Tasks placed.
        sla_met: Tasks placed within their SLA (see the module docstring).
        mean_ms: Mean end-to-end estimate of the placed tasks (nan when none).
        p95_ms: 95th percentile of it (nan when none).
        total_cost: Summed estimated price of the placed tasks.
        total_energy_kwh: Summed facility energy.
        total_carbon_g: Summed grams CO2e.
    """

    tasks: int
    placed: int
    sla_met: int
    mean_ms: float
    p95_ms: float
    total_cost: float
    total_energy_kwh: float
    total_carbon_g: float

    @property
    def sla_satisfaction(self) -> float:
        """Share of the batch placed within its SLA, 0..1."""
        return self.sla_met / self.tasks if self.tasks else 0.0

    @property
    def placed_share(self) -> float:
        """Share of the batch placed, 0..1."""
        return self.placed / self.tasks if self.tasks else 0.0


class SlaCheck:
    """Decides whether a placement meets its task's SLA on one topology.

    Args:
        topology: Where the placements were made (node trust, site regions).
    """

    def __init__(self, topology: Topology) -> None:
        self._trust = {node.id: int(node.trust_level) for node in topology.nodes.values()}
        self._region = {
            node.id: topology.sites[node.site_id].region for node in topology.nodes.values()
        }

    def __call__(self, spec: TaskSpec, placement: Placement | None) -> bool:
        """True when ``placement`` exists and keeps every term ``spec`` states."""
        if placement is None:
            return False
        estimate = placement.estimate
        return self.node_allows(spec, placement.node_id) and bool(
            self.within(spec, np.array([estimate.total_ms]), np.array([estimate.cost]))[0]
        )

    def node_allows(self, spec: TaskSpec, node_id: str) -> bool:
        """Whether the node honours the task's data residency and trust level."""
        region = self._region.get(node_id, "")
        return (not spec.residency or region.startswith(spec.residency)) and self._trust.get(
            node_id, -1
        ) >= int(spec.min_trust_level)

    @staticmethod
    def within(spec: TaskSpec, total_ms: FloatArray, cost: FloatArray) -> BoolArray:
        """Where an estimate (end-to-end ms, price) keeps the budget, deadline and price."""
        ok = np.isfinite(total_ms)
        if spec.latency_budget_ms is not None:
            ok &= total_ms <= spec.latency_budget_ms + _EPSILON
        if spec.deadline_s is not None:
            ok &= total_ms <= spec.deadline_s * 1000.0 + _EPSILON
        if spec.budget is not None:
            ok &= cost <= spec.budget + _EPSILON
        return ok


def evaluate(
    topology: Topology,
    requests: Sequence[Request],
    placements: Sequence[Placement | None],
) -> BatchMetrics:
    """The figures of ``placements`` (one per request, None where unplaced).

    Raises:
        ValueError: the two sequences differ in length.
    """
    if len(requests) != len(placements):
        raise ValueError(f"{len(requests)} requests but {len(placements)} placements")
    check = SlaCheck(topology)
    met = sum(check(r.spec, p) for r, p in zip(requests, placements, strict=True))
    placed = [p.estimate for p in placements if p is not None]
    totals = np.array([e.total_ms for e in placed])
    finite = totals[np.isfinite(totals)]
    return BatchMetrics(
        tasks=len(requests),
        placed=len(placed),
        sla_met=int(met),
        mean_ms=float(finite.mean()) if finite.size else float("nan"),
        p95_ms=float(np.percentile(finite, 95)) if finite.size else float("nan"),
        total_cost=float(sum(e.cost for e in placed)),
        total_energy_kwh=float(sum(e.energy_kwh for e in placed)),
        total_carbon_g=float(sum(e.carbon_g for e in placed)),
    )
