"""Scores aware of what a placement uses up: scarcity learns which nodes others depend on.

(``best-fit`` has its row in the score table of test_scheduling_scores.py.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from suanwang.model import Link, Node, Precision, Site, TaskSpec, Tier, Topology
from suanwang.scheduling import ClusterState, Request, Scheduler
from suanwang.scheduling.plugins.fitness import LinkFit, Scarcity

SPEC = TaskSpec(10.0, cpu_cores=4.0, mem_gib=1.0, ingress_site="U")
NODES = ("near", "mid", "far")


def _only(sw: Any, state: ClusterState, node: str) -> Any:
    cycle = sw.cycle_for(state, SPEC)
    cycle.reject("test", np.array([n == node for n in NODES]))
    return cycle


def test_no_pressure_before_any_request(sw: Any) -> None:
    state = ClusterState(sw.score_topology())
    raw = Scarcity().score(sw.cycle_for(state, SPEC))
    np.testing.assert_array_equal(raw, np.zeros(3))


def test_a_node_others_can_only_use_becomes_the_worst_choice(sw: Any) -> None:
    state = ClusterState(sw.score_topology())
    scarcity = Scarcity({"memory": 4})
    for _ in range(8):  # requests that can only use far
        scarcity.score(_only(sw, state, "far"))
    raw = np.asarray(scarcity.score(sw.cycle_for(state, SPEC)))
    assert raw[0] == raw[1] == 0.0
    # 8 requests of half a node each, averaged over 4: close to 1/2 over a free share of 1
    assert raw[2] == pytest.approx(0.5 * (1 - (1 - 1 / 4) ** 8))


def test_pressure_is_spread_over_every_choice_a_request_has(sw: Any) -> None:
    state = ClusterState(sw.score_topology())
    scarcity = Scarcity({"memory": 1})  # remembers only the last request
    scarcity.score(sw.cycle_for(state, SPEC))  # could use any of the three
    raw = np.asarray(scarcity.score(sw.cycle_for(state, SPEC)))
    np.testing.assert_allclose(raw, [0.5 / 3] * 3)


def test_pressure_grows_as_the_node_fills(sw: Any) -> None:
    state = ClusterState(sw.score_topology())
    scarcity = Scarcity({"memory": 1})
    scarcity.score(_only(sw, state, "far"))
    empty = float(np.asarray(scarcity.score(_only(sw, state, "far")))[2])
    sw.hold(state, "background", "far", 4.0)  # half of far's cores taken
    half = float(np.asarray(scarcity.score(_only(sw, state, "far")))[2])
    assert half == pytest.approx(2 * empty)


def test_the_scheduler_leaves_the_contended_node_to_those_who_need_it(sw: Any) -> None:
    state = ClusterState(sw.score_topology())
    profile = sw.profile(filters=("resource-fit",), scores={"scarcity": 1.0})
    scheduler = Scheduler(profile, state)
    plugin = next(p for p, _ in scheduler._scores if isinstance(p, Scarcity))
    for _ in range(6):
        plugin.score(_only(sw, state, "far"))
    decision = scheduler.schedule(Request("flexible", SPEC))
    assert decision.placement is not None
    assert decision.placement.node_id != "far"


def test_memory_below_one_request_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 request"):
        Scarcity({"memory": 0.5})


def _one_hop_or_two() -> Topology:
    """Ingress U; node ``a`` one link away (10 ms), node ``b`` two links away (2 + 2 ms)."""
    sites = [
        Site("U", Tier.TERMINAL, region="CN-BJ"),
        Site("A", Tier.EDGE, region="CN-BJ"),
        Site("R", Tier.EDGE, region="CN-BJ"),
        Site("B", Tier.REGION, region="CN-BJ"),
    ]
    nodes = [
        Node(n, site, cpu_cores=8, mem_gib=64.0, cpu_peak_gflops={Precision.FP32: 1_000.0})
        for n, site in (("a", "A"), ("b", "B"))
    ]
    links = [
        Link("u-a", "U", "A", bandwidth_mbps=10_000.0, latency_ms=10.0),
        Link("u-r", "U", "R", bandwidth_mbps=10_000.0, latency_ms=2.0),
        Link("r-b", "R", "B", bandwidth_mbps=10_000.0, latency_ms=2.0),
    ]
    return Topology(sites, nodes, links=links)


DATA = TaskSpec(10.0, cpu_cores=4.0, mem_gib=1.0, ingress_site="U", data_in_mb=1.0,
                latency_budget_ms=500.0)  # fmt: skip


def test_link_fit_counts_the_links_a_bandwidth_reservation_holds(sw: Any) -> None:
    state = ClusterState(_one_hop_or_two())
    raw = np.asarray(LinkFit().score(sw.cycle_for(state, DATA)))
    np.testing.assert_array_equal(raw, [1.0, 2.0])
    none = np.asarray(LinkFit().score(sw.cycle_for(state, SPEC)))  # no data: nothing held
    np.testing.assert_array_equal(none, [0.0, 0.0])


def test_the_scheduler_takes_fewer_links_for_bandwidth_and_the_fastest_without(sw: Any) -> None:
    topology = _one_hop_or_two()
    weights = {"end-to-end": 1.0, "link-fit": 2.0}
    with_data = sw.scheduler(topology, scores=weights).schedule(Request("d", DATA))
    without = sw.scheduler(topology, scores=weights).schedule(Request("n", SPEC))
    assert with_data.placement is not None
    assert without.placement is not None
    assert with_data.placement.node_id == "a"
    assert with_data.placement.segments == ("u-a",)
    assert without.placement.node_id == "b"
