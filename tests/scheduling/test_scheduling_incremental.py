"""What the ledger and the state keep up to date between decisions changes no decision.

The ledger keeps its free figures (cores, memory, devices per kind, residual bandwidth) and
updates them entry by entry at every reserve and release, and shares one frozen copy until it
next changes; the state keeps its region masks per topology version. Each must give exactly
what the whole-array computation gives, and a seeded stream of generated requests must get the
same decisions, one by one, under every built-in profile, as with everything derived afresh.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from suanwang.model import ACCELERATOR_KINDS, Scenario
from suanwang.scenario.generate import generate_scenario
from suanwang.scheduling import (
    ClusterState,
    Decision,
    OverCommitError,
    Request,
    Reservation,
    Reservations,
    Scheduler,
    builtin_profiles,
)

NODES, SEED, DECISIONS, HOLD = 300, 1, 500, 60


class FreshLedger(Reservations):
    """The ledger with every derived figure computed afresh, as before it kept them."""

    def free_cpu_cores(self) -> Any:
        return self._arrays.node_cpu_cores - self.cpu_cores

    def free_mem_gib(self) -> Any:
        return self._arrays.node_mem_gib - self.mem_gib

    def free_accelerators_of(self, kind: int) -> Any:
        return self._arrays.node_accel_count[:, kind] - self.accelerators[:, kind]

    def residual_mbps(self) -> Any:
        return self._arrays.link_bandwidth_mbps - self.link_mbps

    def frozen_copy(self) -> Reservations:
        copy = Reservations(self._arrays)
        for name in ("cpu_cores", "mem_gib", "accelerators", "link_mbps", "link_flows"):
            setattr(copy, name, getattr(self, name).copy())
        copy.link_version, copy.flow_version = self.link_version, self.flow_version
        return copy


class FreshState(ClusterState):
    """A state that works out its region masks afresh at every call."""

    def region_mask(self, patterns: tuple[str, ...]) -> Any:
        self._regions.clear()
        mask = ClusterState.region_mask(self, patterns)
        self._regions.clear()
        return mask


def _scenario() -> Scenario:
    return generate_scenario(NODES, seed=SEED)


def _requests(scenario: Scenario, count: int, seed: int) -> list[Request]:
    """Requests from the scenario's arrival streams by rate, ingress by the streams' weights."""
    rng = np.random.default_rng(seed)
    workload = scenario.workload
    streams = [a for a in workload.arrivals if a.rate_per_s > 0 and a.ingress]
    rates = np.array([a.rate_per_s for a in streams])
    requests = []
    for i, k in enumerate(rng.choice(len(streams), size=count, p=rates / rates.sum())):
        stream = streams[int(k)]
        weights = np.array([weight for _, weight in stream.ingress])
        site = stream.ingress[int(rng.choice(len(weights), p=weights / weights.sum()))][0]
        requests.append(Request(f"r{i}", workload.task_type(stream.task_type).spec.at(site)))
    return requests


def _outcome(decision: Decision) -> tuple[Any, ...]:
    placement = decision.placement
    if placement is None:
        return (decision.status.code, decision.status.reason)
    return (placement, decision.score)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return _scenario()


def _fresh_figures(ledger: Reservations) -> list[Any]:
    arrays = ledger._arrays
    kinds = arrays.node_accel_count.shape[1]
    return [
        arrays.node_cpu_cores - ledger.cpu_cores,
        arrays.node_mem_gib - ledger.mem_gib,
        *(arrays.node_accel_count[:, k] - ledger.accelerators[:, k] for k in range(kinds)),
        arrays.link_bandwidth_mbps - ledger.link_mbps,
    ]


def _kept_figures(ledger: Reservations) -> list[Any]:
    kinds = ledger._arrays.node_accel_count.shape[1]
    return [
        ledger.free_cpu_cores(),
        ledger.free_mem_gib(),
        *(ledger.free_accelerators_of(k) for k in range(kinds)),
        ledger.residual_mbps(),
    ]


def test_kept_free_figures_are_a_fresh_subtraction_bit_for_bit(scenario: Scenario) -> None:
    arrays = scenario.topology.arrays
    ledger = Reservations(arrays)
    rng = np.random.default_rng(3)
    held: list[str] = []
    n_nodes, n_links = len(arrays.node_ids), len(arrays.link_ids)
    for step in range(600):
        _kept_figures(ledger)  # asked for at every step, so each is updated in place
        if held and rng.random() < 0.4:
            ledger.release(held.pop(int(rng.integers(len(held)))))
        else:
            node = int(rng.integers(n_nodes))
            links = tuple(int(x) for x in rng.choice(n_links, size=3, replace=False))
            kind = arrays.node_accel_count[node].argmax()
            devices = 1 if arrays.node_accel_count[node, kind] > 0 else 0
            reservation = Reservation(
                f"t{step}",
                node,
                float(rng.uniform(0.0, 0.3)),
                float(rng.uniform(0.0, 0.7)),
                ACCELERATOR_KINDS[int(kind)] if devices else None,
                devices,
                links,
                float(rng.uniform(0.1, 3.3)),
            )
            try:
                ledger.reserve(reservation)
                held.append(reservation.task_id)
            except OverCommitError:
                pass  # a full node or link: the ledger refuses and changes nothing
        for kept, fresh in zip(_kept_figures(ledger), _fresh_figures(ledger), strict=True):
            assert kept.tobytes() == fresh.tobytes(), f"step {step}"
            assert not kept.flags.writeable
    for task_id in held:
        ledger.release(task_id)
    assert not any(
        np.any(kept != fresh)
        for kept, fresh in zip(_kept_figures(ledger), _fresh_figures(ledger), strict=True)
    )


def test_one_frozen_copy_serves_until_the_ledger_changes(scenario: Scenario) -> None:
    ledger = Reservations(scenario.topology.arrays)
    first = ledger.frozen_copy()
    assert ledger.frozen_copy() is first
    ledger.reserve(Reservation("a", 0, 0.5, 0.5, links=(0,), bandwidth_mbps=1.0))
    second = ledger.frozen_copy()
    assert second is not first
    assert first.cpu_cores[0] == 0.0
    assert second.cpu_cores[0] == 0.5
    assert second.residual_mbps()[0] == ledger.residual_mbps()[0]
    ledger.input_moving("a")  # a flow count is a change too
    third = ledger.frozen_copy()
    assert third is not second
    assert third.link_flows[0] == 1.0
    assert second.link_flows[0] == 0.0
    assert third.cpu_cores is second.cpu_cores  # unchanged sums are shared, not copied
    ledger.reserve(Reservation("b", 1, 0.25, 0.5))  # no bandwidth: the links are untouched
    fourth = ledger.frozen_copy()
    assert fourth.link_mbps is third.link_mbps
    assert fourth.cpu_cores is not third.cpu_cores
    assert (fourth.cpu_cores[0], fourth.cpu_cores[1], third.cpu_cores[1]) == (0.5, 0.25, 0.0)
    ledger.release("b")
    ledger.release("a")
    assert ledger.frozen_copy() is not fourth
    for name in ("cpu_cores", "mem_gib", "accelerators", "link_mbps", "link_flows"):
        assert not getattr(ledger.frozen_copy(), name).any(), name
    assert fourth.link_mbps[0] == 1.0  # an earlier copy keeps what it saw


def test_region_masks_are_kept_per_topology_version(scenario: Scenario) -> None:
    state = ClusterState(scenario.topology)
    fresh = FreshState(scenario.topology)
    for region in state.sites.region_codes:
        mask = state.region_mask((region,))
        assert state.region_mask((region,)) is mask
        assert not mask.flags.writeable
        assert np.array_equal(mask, fresh.region_mask((region,)))
        assert state.with_frozen_ledger().region_mask((region,)) is mask


@pytest.mark.parametrize("name", sorted(builtin_profiles()))
def test_kept_figures_change_no_decision(scenario: Scenario, name: str) -> None:
    topology = scenario.topology
    kept_state = ClusterState(topology)
    fresh_state = FreshState(topology, FreshLedger(topology.arrays))
    kept = Scheduler(builtin_profiles()[name], kept_state)
    fresh = Scheduler(builtin_profiles()[name], fresh_state)
    due: list[tuple[int, str]] = []
    placed = 0
    for i, request in enumerate(_requests(scenario, DECISIONS, seed=SEED)):
        expected = _outcome(fresh.schedule(request))
        assert _outcome(kept.schedule(request)) == expected, f"decision {i}"
        if len(expected) == 2:
            placed += 1
            due.append((i + HOLD, request.task_id))
        while due and due[0][0] <= i:
            task_id = due.pop(0)[1]
            kept.release(task_id)
            fresh.release(task_id)
    assert placed > 0
    np.testing.assert_array_equal(
        kept_state.reservations.cpu_cores, fresh_state.reservations.cpu_cores
    )
