"""The Route point (``latency-shortest``): per-node figures, unreachable nodes, bandwidth pruning.

Hand topology (conftest.py): from U, E is 1 ms over u-e (1,000 Mbps, 0.1/GB), R 11 ms over
e-r (100 Mbps, 0.2/GB), H 31 ms over r-h (0.05/GB), N 2 ms over u-n; X has no link at all.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from suanwang.model import Link, Node, Precision, Site, TaskSpec, Tier, Topology
from suanwang.scheduling import ClusterState, Profile, Request, RoutePlugin, Scheduler
from suanwang.scheduling.plugins.route import LatencyShortest

INF = math.inf

# node -> (one-way ms, bottleneck Mbps, hops, cost per GB, vertices, segments)
FIGURES: dict[str, tuple[float, float, float, float, tuple[str, ...], tuple[str, ...]]] = {
    "edge-cpu": (1.0, 1_000.0, 1, 0.1, ("U", "E"), ("u-e",)),
    "edge-small": (1.0, 1_000.0, 1, 0.1, ("U", "E"), ("u-e",)),
    "region-gpu": (11.0, 100.0, 2, 0.3, ("U", "E", "R"), ("u-e", "e-r")),
    "hub-big": (31.0, 100.0, 3, 0.35, ("U", "E", "R", "H"), ("u-e", "e-r", "r-h")),
    "noregion": (2.0, 1_000.0, 1, 0.0, ("U", "N"), ("u-n",)),
}


@pytest.mark.parametrize("node", FIGURES)
def test_route_figures_per_node(sw: Any, node: str) -> None:
    state = ClusterState(sw.hand_topology())
    # data but no budget: nothing is reserved, so nothing is pruned; the price of the path counts
    cycle = sw.cycle_for(state, TaskSpec(1.0, ingress_site="U", data_in_mb=1.0), route=False)
    plugin = LatencyShortest(state.topology)
    assert isinstance(plugin, RoutePlugin)
    route = plugin.route(cycle)
    i = sw.index_of(state, node)
    latency, bottleneck, hops, cost, vertices, segments = FIGURES[node]
    assert route.latency_ms[i] == pytest.approx(latency)
    assert route.bottleneck_mbps[i] == pytest.approx(bottleneck)
    assert route.hops[i] == hops
    assert route.cost_per_gb[i] == pytest.approx(cost)
    path = plugin.path(cycle, i)
    assert path.vertices == vertices
    assert path.segments == segments
    assert tuple(state.arrays.link_ids[k] for k in path.link_indexes) == segments


def test_disconnected_site_is_unreachable(sw: Any) -> None:
    state = ClusterState(sw.hand_topology())
    cycle = sw.cycle_for(state, TaskSpec(1.0, ingress_site="U"), route=False)
    plugin = LatencyShortest(state.topology)
    route = plugin.route(cycle)
    island = sw.index_of(state, "island")
    assert route.latency_ms[island] == INF
    assert plugin.explain(cycle, island) == "no path from U to X"


def test_unreachable_node_is_rejected_by_the_route_in_the_pipeline(sw: Any) -> None:
    scheduler = sw.scheduler(sw.hand_topology())
    decision = scheduler.schedule(Request("t1", TaskSpec(1.0, ingress_site="U")))
    assert decision.placement is not None
    assert decision.diagnosis.rejected_by == {"latency-shortest": 1}
    verdict = decision.diagnosis.why_not("island")
    assert (verdict.plugin, verdict.reason) == ("latency-shortest", "no path from U to X")


def test_links_below_the_needed_bandwidth_are_pruned(sw: Any) -> None:
    # 1 MB in half of a 100 ms budget: 160 Mbps on every link; e-r has only 100
    spec = TaskSpec(1.0, ingress_site="U", data_in_mb=1.0, latency_budget_ms=100.0)
    scheduler = sw.scheduler(sw.hand_topology())
    decision = scheduler.schedule(Request("t1", spec))
    assert decision.placement is not None
    assert decision.placement.node_id in {"edge-cpu", "edge-small"}
    assert decision.placement.reserved_bandwidth_mbps == pytest.approx(160.0)
    diagnosis = decision.diagnosis
    assert diagnosis.rejected_by == {"latency-shortest": 3}  # region-gpu, hub-big, island
    for node, site in (("region-gpu", "R"), ("hub-big", "H")):
        verdict = diagnosis.why_not(node)
        assert verdict.plugin == "latency-shortest"
        assert verdict.reason == f"no path from U to {site} whose every link has 160.0 Mbps free"
    ledger = scheduler.state.reservations
    assert ledger.link_mbps[0] == pytest.approx(160.0)  # u-e
    assert ledger.link_mbps[1:].sum() == 0.0


def test_reserved_bandwidth_prunes_later_requests(sw: Any) -> None:
    state = ClusterState(sw.hand_topology())
    sw.hold(state, "background", "edge-cpu", 0.0, links=(0,), bandwidth_mbps=900.0)
    scheduler = Scheduler(sw.profile(), state)
    spec = TaskSpec(1.0, ingress_site="U", data_in_mb=1.0, latency_budget_ms=100.0)
    decision = scheduler.schedule(Request("t1", spec))
    assert decision.placement is not None
    assert decision.placement.node_id == "noregion"  # the only site behind a wide-enough link
    assert decision.placement.segments == ("u-n",)
    verdict = decision.diagnosis.why_not("edge-cpu")
    assert verdict.plugin == "latency-shortest"
    assert "160.0 Mbps free" in verdict.reason


def _diamond() -> Topology:
    """U reaches B through A (2 ms, 100 Mbps) or through C (10 ms, 1,000 Mbps)."""
    return Topology(
        sites=[
            Site("U", Tier.TERMINAL),
            Site("A", Tier.EDGE),
            Site("C", Tier.EDGE),
            Site("B", Tier.REGION),
        ],
        nodes=[Node("b", "B", cpu_cores=64, mem_gib=256.0, cpu_peak_gflops={Precision.FP32: 4e3})],
        links=[
            Link("ua", "U", "A", bandwidth_mbps=100.0, latency_ms=1.0),
            Link("ab", "A", "B", bandwidth_mbps=100.0, latency_ms=1.0),
            Link("uc", "U", "C", bandwidth_mbps=1_000.0, latency_ms=5.0),
            Link("cb", "C", "B", bandwidth_mbps=1_000.0, latency_ms=5.0),
        ],
    )


def _task(data_mb: float) -> TaskSpec:
    # data_mb x 8 Mbit in half of 100 ms: 160 x data_mb Mbps
    return TaskSpec(1.0, ingress_site="U", data_in_mb=data_mb, latency_budget_ms=100.0)


def test_route_goes_around_links_without_the_bandwidth(sw: Any) -> None:
    scheduler = sw.scheduler(_diamond())
    ledger = scheduler.state.reservations

    first = scheduler.schedule(Request("t1", _task(0.5))).placement  # 80 Mbps: the short way
    assert first is not None
    assert (first.path, first.segments) == (("U", "A", "B"), ("ua", "ab"))
    assert first.reserved_bandwidth_mbps == pytest.approx(80.0)
    assert first.estimate.network_ms == pytest.approx(2 * 2.0 + 4.0 / 100.0 * 1000.0)
    np.testing.assert_allclose(ledger.link_mbps, [80.0, 80.0, 0.0, 0.0])

    second = scheduler.schedule(Request("t2", _task(0.5))).placement  # only 20 Mbps left via A
    assert second is not None
    assert (second.path, second.segments) == (("U", "C", "B"), ("uc", "cb"))
    assert second.estimate.network_ms == pytest.approx(2 * 10.0 + 4.0 / 1_000.0 * 1000.0)
    np.testing.assert_allclose(ledger.link_mbps, [80.0, 80.0, 80.0, 80.0])

    scheduler.release("t1")
    third = scheduler.schedule(Request("t3", _task(0.5))).placement  # the short way is free again
    assert third is not None
    assert third.segments == ("ua", "ab")

    wide = scheduler.schedule(Request("t4", _task(1.5))).placement  # 240 Mbps: never via A
    assert wide is not None
    assert wide.segments == ("uc", "cb")
    np.testing.assert_allclose(ledger.link_mbps, [80.0, 80.0, 320.0, 320.0])


def test_nothing_reachable_refuses_with_the_route_reason(sw: Any) -> None:
    scheduler = sw.scheduler(_diamond())
    decision = scheduler.schedule(Request("t1", _task(10.0)))  # 1,600 Mbps: no link has it
    assert decision.placement is None
    assert decision.diagnosis.rejected_by == {"latency-shortest": 1}
    assert decision.diagnosis.why_not("b").reason == (
        "no path from U to B whose every link has 1600.0 Mbps free"
    )
    assert scheduler.state.reservations.link_mbps.sum() == 0.0


def test_node_at_the_ingress_site_needs_no_path() -> None:
    topology = Topology(
        sites=[Site("U", Tier.ONSITE)],
        nodes=[Node("box", "U", cpu_cores=4, mem_gib=8.0, cpu_peak_gflops={Precision.FP32: 1e3})],
    )
    scheduler = Scheduler(Profile("p", scores={"nearest": 1.0}), ClusterState(topology))
    placement = scheduler.schedule(Request("t1", _task(1.0))).placement
    assert placement is not None
    assert (placement.path, placement.segments) == (("U",), ())
    assert placement.reserved_bandwidth_mbps == 0.0
    assert placement.estimate.network_ms == 0.0  # no latency, no bottleneck at the ingress


def test_the_transfer_estimate_shares_links_with_flows_moving_input(sw: Any) -> None:
    state = ClusterState(sw.hand_topology())
    # best effort (no budget): 10 MB in at the path's rate; u-e 1,000 Mbps
    spec = TaskSpec(1.0, ingress_site="U", data_in_mb=10.0)
    alone = sw.cycle_for(state, spec)
    edge = sw.index_of(state, "edge-cpu")
    assert alone.route.rate_mbps is None
    assert alone.network_ms()[edge] == pytest.approx(2 * 1.0 + 80.0 / 1_000.0 * 1000.0)
    sw.hold(state, "moving", "edge-cpu", 0.0, links=(0,))
    assert sw.cycle_for(state, spec).route.rate_mbps is None  # held, not yet moving input
    state.reservations.input_moving("moving")  # started: its input crosses u-e
    shared = sw.cycle_for(state, spec)
    assert shared.route.transfer_rate_mbps()[edge] == pytest.approx(500.0)
    assert shared.route.bottleneck_mbps[edge] == pytest.approx(1_000.0)  # residual unchanged
    assert shared.network_ms()[edge] == pytest.approx(2 * 1.0 + 80.0 / 500.0 * 1000.0)
    state.reservations.input_arrived("moving")
    assert sw.cycle_for(state, spec).network_ms()[edge] == pytest.approx(alone.network_ms()[edge])
