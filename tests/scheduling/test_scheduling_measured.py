"""Measured state in a cycle: free cores an agent measured, measured link latency, local hours.

The network is the local network's three sites: users reach the cloud over edge-north (1 + 6
ms) or edge-south (2 + 6 ms); each site has one 2-core node.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from suanwang.cli.localnet import THREE_SITES
from suanwang.model import TaskSpec, Topology
from suanwang.scenario import load_builtin, loads_scenario
from suanwang.scheduling import ClusterState, Request, Scheduler
from suanwang.scheduling.plugins.fit import ResourceFit
from suanwang.scheduling.plugins.route import LatencyShortest
from suanwang.scheduling.plugins.sla import LatencyBound

NORTH_CLOUD = "edge-north--cloud"
CLOUD = 2  # index of cloud-1


@pytest.fixture
def topology() -> Topology:
    return loads_scenario(THREE_SITES, "yaml").topology


def _spec(**kw: Any) -> TaskSpec:
    return TaskSpec(**{"work_gflop": 0.001, "cpu_cores": 1.0, "ingress_site": "users", **kw})


def test_measured_free_cores_below_the_need_turn_a_node_away(sw: Any, topology: Topology) -> None:
    snapshot = dataclasses.replace(
        sw.snapshot_excluding(topology, {}),
        cpu_free_cores=np.array([0.05, 2.0, 1.5]),
        age_s=np.array([1.0, 1.0, np.inf]),  # cloud-1 never reported: its figure is not used
    )
    state = ClusterState(topology, snapshot=snapshot)
    sw.hold(state, "background", "cloud-1", 1.5)
    fit = ResourceFit()
    cycle = sw.cycle_for(state, _spec(), route=False)
    # edge-north: ledger 2 free, measured 0.05; edge-south: both 2; cloud: ledger 0.5
    assert fit.filter(cycle).tolist() == [False, True, False]
    assert "measured by its agent" in fit.explain(cycle, 0)
    assert "measured" not in fit.explain(cycle, CLOUD)
    state.set_snapshot(None)
    assert fit.filter(sw.cycle_for(state, _spec(), route=False)).tolist() == [True, True, False]


def test_measured_free_cores_get_a_little_slack(sw: Any, topology: Topology) -> None:
    snapshot = dataclasses.replace(
        sw.snapshot_excluding(topology, {}), cpu_free_cores=np.array([0.95, 0.85, 2.0])
    )
    state = ClusterState(topology, snapshot=snapshot)
    mask = ResourceFit().filter(sw.cycle_for(state, _spec(), route=False))
    assert mask.tolist() == [True, False, True]  # 0.95 + 0.1 slack covers one core


def _path_to_cloud(route: LatencyShortest, sw: Any, state: ClusterState) -> tuple[str, ...]:
    cycle = sw.cycle_for(state, _spec(), route=False)
    cycle.route = route.route(cycle)
    return route.path(cycle, CLOUD).segments


def test_route_follows_measured_latency_and_back(sw: Any, topology: Topology) -> None:
    state = ClusterState(topology)
    route = LatencyShortest(topology)
    assert _path_to_cloud(route, sw, state) == ("users--edge-north", NORTH_CLOUD)
    slow = topology.arrays.link_latency_ms.copy()
    slow[topology.arrays.link_ids.index(NORTH_CLOUD)] = 20.0
    assert state.set_link_latency(slow)
    assert state.latency_version == 1
    assert not state.set_link_latency(slow)  # the same figures: no new version
    assert state.latency_version == 1
    assert _path_to_cloud(route, sw, state) == ("users--edge-south", "edge-south--cloud")
    cycle = sw.cycle_for(state, _spec(), route=False)
    assert route.route(cycle).latency_ms[CLOUD] == pytest.approx(8.0)
    assert state.set_link_latency(None)
    assert state.routing_graph() is LatencyShortest(topology)._graph  # the topology's own
    assert _path_to_cloud(route, sw, state) == ("users--edge-north", NORTH_CLOUD)


def test_configured_latency_given_again_shares_the_topology_graph(topology: Topology) -> None:
    state = ClusterState(topology)
    before = state.routing_graph()
    assert not state.set_link_latency(topology.arrays.link_latency_ms)
    assert state.routing_graph() is before


def test_latency_bound_is_a_lower_bound_of_the_measured_latency(
    sw: Any, topology: Topology
) -> None:
    state = ClusterState(topology)
    bound = LatencyBound(topology)
    spec = _spec(latency_budget_ms=5.0)
    # configured: the cloud's round trip is 14 ms, over the budget
    assert bound.filter(sw.cycle_for(state, spec, route=False)).tolist() == [True, True, False]
    state.set_link_latency(np.full(len(topology.arrays.link_ids), 0.1))
    assert bound.filter(sw.cycle_for(state, spec, route=False)).tolist() == [True, True, True]
    scheduler = Scheduler(sw.profile(filters=("latency-bound", "latency-budget")), state)
    assert scheduler.schedule(Request("t1", spec)).placement is not None


def test_each_node_reads_carbon_at_its_own_hour(sw: Any) -> None:
    topology = load_builtin("east-west").topology
    state = ClusterState(topology)
    by_hour = state.sites.carbon_g_per_kwh_by_hour
    n = len(topology.arrays.node_ids)
    hours = np.arange(n) % 24
    state.set_hours(3, hours)
    np.testing.assert_array_equal(state.carbon_g_per_kwh(), by_hour[hours, np.arange(n)])
    cycle = sw.cycle_for(state, TaskSpec(work_gflop=10.0, cpu_cores=1.0), route=False)
    np.testing.assert_allclose(cycle.carbon_g(), cycle.energy_kwh() * by_hour[hours, np.arange(n)])
    state.set_hours(3)
    np.testing.assert_array_equal(state.carbon_g_per_kwh(), by_hour[3])
    with pytest.raises(ValueError, match=r"0\.\.23"):
        state.set_hours(24)
    with pytest.raises(ValueError, match="one hour per node"):
        state.set_hours(3, [1, 2])


def test_frozen_copies_keep_measured_latency_and_hours(topology: Topology) -> None:
    state = ClusterState(topology)
    state.set_link_latency(np.full(len(topology.arrays.link_ids), 0.5))
    state.set_hours(5, [1, 2, 3])
    frozen = state.with_frozen_ledger()
    assert frozen.routing_graph() is state.routing_graph()
    assert frozen.node_hour is not None
    assert frozen.node_hour.tolist() == [1, 2, 3]
