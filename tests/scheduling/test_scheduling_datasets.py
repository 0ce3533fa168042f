"""Input datasets: their transfer from the nearest replica in the estimates, and data-local.

The topology: ingress U; site NEAR (1 ms from U, 10,000 Mbps, free links) and site FAR (30 ms
from U, 1,000 Mbps, 0.05 per GB); one 8-core node at each. A 500 MB dataset held at NEAR moves
to FAR over NEAR-U-FAR: 4,000 Mbit at the 1,000 Mbps bottleneck, 4,000 ms, 0.5 GB x 0.05.

For the data-local score, a 50 MB dataset at NEAR: the base task (4 cores, 40 GFLOP) takes
near 2 + 1,000 = 1,002 ms and far 60 + 400 (the dataset over 1,000 Mbps) + 50 = 510 ms: far is
faster, near holds the data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from suanwang.model import Dataset, Link, Node, Precision, Site, TaskSpec, Tier, Topology
from suanwang.scheduling import ClusterState, Request, ScorePlugin
from suanwang.scheduling.datasets import dataset_reach
from suanwang.scheduling.registry import build_plugin

FP32 = Precision.FP32


def data_topology(*datasets: Dataset) -> Topology:
    """NEAR and FAR around ingress U (module docstring), holding ``datasets``."""
    sites = [Site("U", Tier.TERMINAL), Site("NEAR", Tier.EDGE), Site("FAR", Tier.HUB)]
    nodes = [
        Node("near", "NEAR", cpu_cores=8, mem_gib=32, cpu_peak_gflops={FP32: 200.0}),
        Node("far", "FAR", cpu_cores=8, mem_gib=32, cpu_peak_gflops={FP32: 4_000.0}),
    ]
    links = [
        Link("u-near", "U", "NEAR", bandwidth_mbps=10_000.0, latency_ms=1.0),
        Link("u-far", "U", "FAR", bandwidth_mbps=1_000.0, latency_ms=30.0, cost_per_gb=0.05),
    ]
    return Topology(sites, nodes, links=links, datasets=datasets)


FRAMES = Dataset("frames", 500.0, ("NEAR",))
TASK: dict[str, Any] = {"work_gflop": 40.0, "cpu_cores": 4.0, "mem_gib": 1.0, "ingress_site": "U"}


def test_transfer_of_a_remote_dataset_enters_network_time_and_cost_exactly(sw: Any) -> None:
    state = ClusterState(data_topology(FRAMES))
    plain = sw.cycle_for(state, TaskSpec(**TASK))
    reading = sw.cycle_for(state, TaskSpec(**TASK, datasets=("frames",)))
    near, far = sw.index_of(state, "near"), sw.index_of(state, "far")
    np.testing.assert_allclose(reading.datasets_ms(), [0.0, 4_000.0])
    np.testing.assert_allclose(reading.network_ms() - plain.network_ms(), [0.0, 4_000.0])
    np.testing.assert_allclose(reading.total_ms() - plain.total_ms(), [0.0, 4_000.0])
    np.testing.assert_allclose(reading.cost() - plain.cost(), [0.0, 0.5 * 0.05])
    # The estimate of one node, worked out alone, says the same.
    assert reading.estimate(far).network_ms == pytest.approx(2 * 30.0 + 4_000.0)
    assert reading.estimate(near).network_ms == pytest.approx(2 * 1.0)


def test_the_nearest_replica_is_read(sw: Any) -> None:
    state = ClusterState(data_topology(Dataset("frames", 500.0, ("NEAR", "FAR"))))
    cycle = sw.cycle_for(state, TaskSpec(**TASK, datasets=("frames",)))
    np.testing.assert_allclose(cycle.datasets_ms(), [0.0, 0.0])
    reach = dataset_reach(state, "frames")
    u = state.arrays.vertex_ids.index("U")
    # From U the nearest replica is NEAR (1 ms), at its 10,000 Mbps: 4,000 Mbit in 400 ms.
    assert reach.transfer_ms[u] == pytest.approx(400.0)
    assert reach.cost[u] == pytest.approx(0.0)


def test_several_datasets_add_up_and_an_unknown_one_is_unreachable(sw: Any) -> None:
    logs = Dataset("logs", 125.0, ("FAR",))
    state = ClusterState(data_topology(FRAMES, logs))
    both = sw.cycle_for(state, TaskSpec(**TASK, datasets=("frames", "logs")))
    # logs to NEAR: 1,000 Mbit at 1,000 Mbps over FAR-U-NEAR = 1,000 ms, 0.125 GB x 0.05.
    np.testing.assert_allclose(both.datasets_ms(), [1_000.0, 4_000.0])
    unknown = sw.cycle_for(state, TaskSpec(**TASK, datasets=("nowhere",)))
    assert np.isinf(unknown.network_ms()).all()


def test_a_down_link_and_link_fill_change_the_transfer(sw: Any) -> None:
    state = ClusterState(data_topology(FRAMES))
    far_link = state.arrays.link_ids.index("u-far")
    spec = TaskSpec(**TASK, datasets=("frames",))
    sw.hold(state, "background", "far", 0.0, links=(far_link,), bandwidth_mbps=500.0)
    # Half of u-far is reserved: the bottleneck is the 500 Mbps left, 8,000 ms.
    np.testing.assert_allclose(sw.cycle_for(state, spec).datasets_ms(), [0.0, 8_000.0])
    state.mark_link(far_link, True)
    assert np.isinf(sw.cycle_for(state, spec).datasets_ms()[1])


def test_two_states_of_one_topology_keep_their_own_link_fill(sw: Any) -> None:
    topology = data_topology(FRAMES)
    spec = TaskSpec(**TASK, datasets=("frames",))
    far_link = topology.arrays.link_ids.index("u-far")
    half, most = ClusterState(topology), ClusterState(topology)
    sw.hold(half, "background", "far", 0.0, links=(far_link,), bandwidth_mbps=500.0)
    sw.hold(most, "background", "far", 0.0, links=(far_link,), bandwidth_mbps=750.0)
    # Both ledgers are at their first fill (one link version), with different fills.
    assert half.reservations.link_version == most.reservations.link_version
    assert sw.cycle_for(half, spec).datasets_ms()[1] == pytest.approx(8_000.0)
    assert sw.cycle_for(most, spec).datasets_ms()[1] == pytest.approx(16_000.0)


def test_the_scheduler_places_with_the_transfer_in_the_estimate(sw: Any) -> None:
    state = ClusterState(data_topology(FRAMES))
    scheduler = sw.scheduler(state.topology, scores={"end-to-end": 1.0})
    decision = scheduler.schedule(Request("t1", TaskSpec(**TASK, datasets=("frames",))))
    assert decision.placement is not None
    # far computes in 50 ms against near's 1,000 ms, but moving the data costs it 4,000 ms.
    assert decision.placement.node_id == "near"


# The data-local score.

CLIP = Dataset("clip", 50.0, ("NEAR",))
SCORES = {"data-local": 1.0, "end-to-end": 1.0}


def _choice(sw: Any, **task: Any) -> str:
    scheduler = sw.scheduler(data_topology(CLIP), scores=SCORES)
    decision = scheduler.schedule(Request("t1", TaskSpec(**{**TASK, **task})))
    assert decision.placement is not None
    return str(decision.placement.node_id)


def test_raw_values_are_the_local_share_where_the_sla_is_met(sw: Any) -> None:
    state = ClusterState(data_topology(CLIP, Dataset("big", 150.0, ("FAR",))))
    plugin = build_plugin("data-local", {}, state)
    assert isinstance(plugin, ScorePlugin)
    assert plugin.higher_is_better
    cycle = sw.cycle_for(state, TaskSpec(**TASK, datasets=("clip", "big")))
    np.testing.assert_allclose(plugin.score(cycle), [0.25, 0.75])
    no_data = sw.cycle_for(state, TaskSpec(**TASK))
    np.testing.assert_allclose(plugin.score(no_data), [1.0, 1.0])


def test_end_to_end_alone_takes_the_faster_remote_node(sw: Any) -> None:
    scheduler = sw.scheduler(data_topology(CLIP), scores={"end-to-end": 1.0})
    decision = scheduler.schedule(Request("t1", TaskSpec(**TASK, datasets=("clip",))))
    assert decision.placement is not None
    assert decision.placement.node_id == "far"


@pytest.mark.parametrize("limit", [{"latency_budget_ms": 1_500.0}, {"deadline_s": 1.5}])
def test_the_data_local_node_is_preferred_when_it_meets_the_sla(sw: Any, limit: Any) -> None:
    assert _choice(sw, datasets=("clip",), **limit) == "near"


@pytest.mark.parametrize("limit", [{"latency_budget_ms": 800.0}, {"deadline_s": 0.8}])
def test_the_faster_remote_node_is_chosen_when_the_local_one_would_miss(
    sw: Any, limit: Any
) -> None:
    # No latency filter in the profile: the score itself withholds the preference.
    state = ClusterState(data_topology(CLIP))
    cycle = sw.cycle_for(state, TaskSpec(**TASK, datasets=("clip",), **limit))
    np.testing.assert_allclose(build_plugin("data-local", {}, state).score(cycle), [0.0, 0.0])
    assert _choice(sw, datasets=("clip",), **limit) == "far"
