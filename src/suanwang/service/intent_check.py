"""Verification before an intent is applied: conflicts between its constraints, explained.

The check runs on a copy of the live state (the live ledger, marks and measured figures are
untouched). Each replica, in turn, is looked at on the nodes its coverage allows and that have
room for it now (the profile's filters without the quality and budget ones): the lowest
end-to-end estimate there is the best reachable latency, and the cheapest of the nodes meeting
the latency target the least it can cost. The replica then takes room in the copy where the
profile would put it within the target (the budget aside), so that the next replica sees what
is left.
Three conflicts are named, each with the constraints that cannot hold together:

* ``region-capacity``: the coverage area's free capacity within the target holds fewer replicas
  than the need. Not for batch work with a deadline (every replica ends, none long-running):
  it may wait in the queue for room, and whether it is placed in time is the fork's run ahead
  to say (``intents``: a fork that does not place every replica refuses the intent);
* ``latency-reach``: the latency target (or deadline) is below the best reachable latency;
* ``budget-quality``: the cheapest placements that meet the target cost more than the budget.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

import numpy as np

from suanwang.model import TaskSpec
from suanwang.scenario.intent import Translation
from suanwang.scheduling import Profile
from suanwang.scheduling.cycle import Cycle
from suanwang.scheduling.framework import Request, Stage
from suanwang.scheduling.scheduler import Scheduler
from suanwang.scheduling.state import ClusterState

QUALITY_FILTERS = frozenset({"latency-budget", "price-budget", "latency-bound"})
"""Filters of the intent's own quality and budget: left out to see what else is possible."""


@dataclass(frozen=True, slots=True)
class Conflict:
    """Constraints of an intent that cannot all hold now.

    Attributes:
        kind: ``region-capacity``, ``latency-reach`` or ``budget-quality``.
        constraints: The intent's fields in conflict, e.g. ``("budget", "quality.latency_ms")``.
        message: What each asks and what the network offers, in figures.
    """

    kind: str
    constraints: tuple[str, ...]
    message: str


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What the live network offers an intent now.

    Attributes:
        conflicts: Every conflict found (empty: the intent is feasible as far as this goes).
        room_for: Replicas the coverage area's free capacity holds within the target.
        best_latency_ms: Lowest end-to-end estimate a replica can reach (None: no node).
        cheapest_cost: Sum over the replicas of the cheapest price meeting the target (None
            where some replica meets it nowhere).
    """

    conflicts: tuple[Conflict, ...]
    room_for: int
    best_latency_ms: float | None
    cheapest_cost: float | None

    @property
    def feasible(self) -> bool:
        """No conflict was found."""
        return not self.conflicts


def _relaxed(spec: TaskSpec) -> TaskSpec:
    return dataclasses.replace(spec, latency_budget_ms=None, deadline_s=None, budget=None)


def _room(scheduler: Scheduler, spec: TaskSpec) -> tuple[float, float, bool]:
    """(best total ms, cheapest cost meeting the target, any node) of one replica's cycle."""
    state, plugins = scheduler.state, scheduler.plugins
    # Without its target and budget: the route point too would turn away what misses them.
    probe = Request(f"intent-check-{uuid.uuid4().hex}", _relaxed(spec))
    cycle = Cycle(probe, state, state.everyone())
    for stage in Stage:
        if stage is Stage.POST_ROUTE and cycle.alive.any():
            cycle.route = plugins.route.route(cycle)
            cycle.reject(plugins.route.name, np.isfinite(cycle.route.latency_ms))
        for plugin in plugins.filters[stage]:
            if plugin.name not in QUALITY_FILTERS and cycle.alive.any():
                cycle.reject(plugin.name, np.asarray(plugin.filter(cycle), dtype=bool))
    alive = cycle.alive
    if not alive.any() or cycle.route is None:
        return np.inf, np.inf, False
    total, cost = cycle.total_ms()[alive], cycle.cost()[alive]
    target_ms = _target_ms(spec)
    meets = total <= target_ms if target_ms is not None else np.ones_like(total, dtype=bool)
    cheapest = float(cost[meets].min()) if meets.any() else np.inf
    return float(total.min()), cheapest, True


def _target_ms(spec: TaskSpec) -> float | None:
    if spec.latency_budget_ms is not None:
        return spec.latency_budget_ms
    return None if spec.deadline_s is None else spec.deadline_s * 1000.0


def check_intent(live: ClusterState, profile: Profile, translation: Translation) -> CheckResult:
    """Look for conflicts between ``translation``'s constraints on ``live`` (writer thread).

    See the module docstring; nothing of ``live`` changes.
    """
    state = live.with_frozen_ledger()
    state.reservations = live.reservations.copy_without(())
    scheduler = Scheduler(profile, state)
    best, cheapest_sum, dearest, room_for = np.inf, 0.0, 0.0, 0
    for spec in translation.specs:
        total_ms, cheapest, any_node = _room(scheduler, spec)
        if not any_node:
            continue
        best = min(best, total_ms)
        cheapest_sum += cheapest
        dearest = max(dearest, cheapest)
        within = dataclasses.replace(spec, budget=None)  # room that meets the target
        decision = scheduler.schedule(Request(f"intent-room-{uuid.uuid4().hex}", within))
        room_for += decision.placement is not None
    return CheckResult(
        _conflicts(translation, room_for, best, dearest),
        room_for,
        None if not np.isfinite(best) else float(best),
        None if not np.isfinite(cheapest_sum) or room_for == 0 else float(cheapest_sum),
    )


def _coverage(translation: Translation) -> str:
    coverage = translation.intent.coverage
    parts = [f"regions {', '.join(coverage.regions)}"] if coverage.regions else []
    parts += [f"sites {', '.join(coverage.sites)}"] if coverage.sites else []
    return " and ".join(parts)


def _conflicts(
    translation: Translation, room_for: int, best_ms: float, dearest: float
) -> tuple[Conflict, ...]:
    """The conflicts; ``dearest``: the highest of the replicas' cheapest prices."""
    found: list[Conflict] = []
    specs, intent = translation.specs, translation.intent
    spec = specs[0]
    quantity = f"need.{_quantity_name(translation)}"
    target_ms = _target_ms(spec)
    target_field = "quality.latency_ms" if spec.latency_budget_ms else "quality.deadline_s"
    if target_ms is not None and np.isfinite(best_ms) and best_ms > target_ms:
        found.append(
            Conflict(
                "latency-reach",
                (target_field, "coverage"),
                f"the latency target of {target_ms:g} ms is below the best reachable "
                f"{best_ms:.1f} ms from {_coverage(translation)}",
            )
        )
    reach = bool(found)  # out of reach is no shortage of room, nor of money
    queues = spec.deadline_s is not None and not any(s.long_running for s in specs)
    if room_for < len(specs) and not reach and not queues:
        found.append(
            Conflict(
                "region-capacity",
                ("coverage", quantity),
                f"the coverage area ({_coverage(translation)}) has free room within the quality "
                f"targets for {room_for} of "
                f"the {len(specs)} replicas the need asks for (each {spec.cpu_cores:g} cores, "
                f"{spec.mem_gib:g} GiB{', GPUs' if spec.accelerator else ''})",
            )
        )
    if spec.budget is not None and room_for and not reach and dearest > spec.budget:
        # The budget is shared equally (``translate``): each replica must fit its share.
        what = f"meets the {target_ms:g} ms target" if target_ms is not None else "fits"
        found.append(
            Conflict(
                "budget-quality",
                ("budget", target_field if target_ms is not None else quantity),
                f"the cheapest placement of a replica that {what} costs {dearest:.4g}, above "
                f"its share {spec.budget:.4g} of the budget {intent.budget:g}",
            )
        )
    return tuple(found)


def _quantity_name(translation: Translation) -> str:
    extra = translation.intent.need.model_extra or {}
    return next(iter(extra), "quantity")
