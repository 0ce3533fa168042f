"""What the hot path keeps between and within decisions changes no decision.

The Route point keeps its shortest-path answers while the link fill and the link marks stay the
same (``Reservations.link_version``, ``ClusterState.link_marks``); ``Cycle.estimate`` works out
the figures no plugin asked for at the chosen node alone. Both must give exactly what a fresh
computation gives.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from suanwang.model import AcceleratorKind, AcceleratorNeed, TaskClass, TaskSpec, Topology
from suanwang.scheduling import (
    ClusterState,
    Cycle,
    Decision,
    Request,
    Reservation,
    Reservations,
    Scheduler,
    builtin_profiles,
    plugin_factories,
)
from suanwang.scheduling.framework import ChosenPath, RouteResult
from suanwang.scheduling.plugins.route import LatencyShortest

# hand_topology links: u-e 0 (1,000 Mbps), e-r 1 (100 Mbps), r-h 2, u-n 3
U_E, E_R = 0, 1
BASE = TaskSpec(work_gflop=1.0, cpu_cores=1.0, mem_gib=1.0, ingress_site="U")
SPECS = [
    BASE,
    dataclasses.replace(BASE, data_in_mb=2.0, latency_budget_ms=400.0),
    dataclasses.replace(BASE, data_in_mb=5.0, data_out_mb=1.0, latency_budget_ms=900.0),
    dataclasses.replace(BASE, work_gflop=0.0, data_in_mb=1.0, deadline_s=2.0),
    dataclasses.replace(BASE, cpu_cores=4.0, affinity_key="session", task_class=TaskClass.HOT),
    dataclasses.replace(
        BASE, work_gflop=50.0, accelerator=AcceleratorNeed(AcceleratorKind.GPU), data_in_mb=3.0
    ),
    dataclasses.replace(BASE, task_class=TaskClass.COLD, budget=1e-3),
]


class FreshRoute:
    """The latency-shortest Route point with nothing kept between cycles (a new one each)."""

    name = "latency-shortest"

    def __init__(self, topology: Topology) -> None:
        self._topology = topology
        self._cycle: Cycle | None = None
        self._plugin = LatencyShortest(topology)

    def _for(self, cycle: Cycle) -> LatencyShortest:
        if cycle is not self._cycle:
            self._cycle, self._plugin = cycle, LatencyShortest(self._topology)
        return self._plugin

    def route(self, cycle: Cycle) -> RouteResult:
        return self._for(cycle).route(cycle)

    def path(self, cycle: Cycle, node: int) -> ChosenPath:
        return self._for(cycle).path(cycle, node)

    def explain(self, cycle: Cycle, node: int) -> str:
        return self._for(cycle).explain(cycle, node)


def _outcome(decision: Decision) -> tuple[Any, ...]:
    placement = decision.placement
    if placement is None:
        return (decision.status.code, decision.status.reason)
    return (placement, decision.score)


@pytest.mark.parametrize("name", sorted(builtin_profiles()))
def test_kept_route_answers_change_no_decision(sw: Any, name: str) -> None:
    topology = sw.hand_topology()
    factories = {**plugin_factories(), "latency-shortest": lambda _, s: FreshRoute(s.topology)}
    kept_state, fresh_state = ClusterState(topology), ClusterState(topology)
    kept = Scheduler(builtin_profiles()[name], kept_state)
    fresh = Scheduler(builtin_profiles()[name], fresh_state, factories=factories)
    rng = np.random.default_rng(5)
    held: list[tuple[int, str]] = []
    for i in range(300):
        if i in (100, 160):  # the busy, narrow link goes down, then comes back
            for state in (kept_state, fresh_state):
                state.mark_link(E_R, down=i == 100)
        request = Request(f"t{i}", SPECS[int(rng.integers(len(SPECS)))])
        expected = _outcome(fresh.schedule(request))
        assert _outcome(kept.schedule(request)) == expected, f"decision {i}"
        if len(expected) == 2:
            held.append((i + int(rng.integers(1, 25)), request.task_id))
        for due, task_id in [h for h in held if h[0] <= i]:
            held.remove((due, task_id))
            kept.release(task_id)
            fresh.release(task_id)
    np.testing.assert_array_equal(
        kept_state.reservations.link_mbps, fresh_state.reservations.link_mbps
    )


@pytest.mark.parametrize("spec", SPECS)
def test_the_estimate_at_one_node_is_the_arrays_at_that_node(sw: Any, spec: TaskSpec) -> None:
    state = ClusterState(sw.hand_topology())
    sw.hold(state, "busy", "edge-cpu", 3.0, links=(U_E, E_R), bandwidth_mbps=40.0)
    probe = sw.cycle_for(state, spec)
    for node in probe.alive_index().tolist():
        alone = sw.cycle_for(state, spec).estimate(node)  # nothing built yet: scalars
        cycle = sw.cycle_for(state, spec)
        arrays = (
            cycle.network_ms(),
            cycle.queueing_ms(),
            cycle.compute_ms(),
            cycle.cost(),
            cycle.energy_kwh(),
            cycle.carbon_g(),
        )
        expected = (*(float(a[node]) for a in arrays), spec.fixed_latency_ms)
        assert dataclasses.astuple(alone) == expected
        assert cycle.estimate(node) == alone  # and from the built arrays


def test_link_version_names_the_link_fill(sw: Any) -> None:
    ledger = Reservations(sw.hand_topology().arrays)
    assert ledger.link_version == 0
    ledger.reserve(Reservation("cpu", 0, 1.0, 1.0))  # no bandwidth: the links are untouched
    assert ledger.link_version == 0
    ledger.reserve(Reservation("a", 0, 1.0, 1.0, links=(U_E,), bandwidth_mbps=10.0))
    first = ledger.link_version
    assert first != 0
    ledger.reserve(Reservation("b", 0, 1.0, 1.0, links=(U_E, E_R), bandwidth_mbps=5.0))
    second = ledger.link_version
    assert second not in (0, first)
    assert ledger.frozen_copy().link_version == second
    ledger.release("b")
    assert ledger.link_version not in (0, first, second)  # the same fill, but a new name
    ledger.release("a")
    ledger.release("cpu")  # the ledger empties: every fill is exactly zero again
    assert ledger.link_version == 0
    assert not ledger.link_mbps.any()


def test_the_route_sees_a_link_filled_since_the_last_cycle(sw: Any) -> None:
    state = ClusterState(sw.hand_topology())
    route = LatencyShortest(state.topology)
    spec = dataclasses.replace(BASE, data_in_mb=1.0)
    region = state.arrays.node_ids.index("region-gpu")

    def bottleneck() -> float:
        cycle = Cycle(Request("probe", spec), state, alive=state.everyone())
        return float(route.route(cycle).bottleneck_mbps[region])

    assert bottleneck() == 100.0
    sw.hold(state, "fill", "edge-cpu", 0.0, links=(U_E, E_R), bandwidth_mbps=60.0)
    assert bottleneck() == 40.0
    state.reservations.release("fill")
    assert bottleneck() == 100.0
    state.mark_link(E_R, down=True)
    assert bottleneck() == 0.0  # unreachable
