"""Joint selection (IETF CATS): network-only and compute-only choices both break a latency
budget that choosing instance and path together meets.

Ingress U; every link 1,000 Mbps. A warm task of 20 GFLOP at fp32 on 4 of a node's 8 cores, with
0.25 MB of input (2 Mbit: 2 ms at 1,000 Mbps) and a 50 ms budget:

====  ==============  ==============  ====================  ==========================
node  one-way         fp32 peak       compute               total
====  ==============  ==============  ====================  ==========================
A     1 ms (edge)     400 GFLOPS      20 / 80 = 250 ms      2 + 2 + 250 = 254 ms
B     35 ms (hub)     40,000 GFLOPS   20 / 8,000 = 2.5 ms   70 + 2 + 2.5 = 74.5 ms
C     10 ms (region)  4,000 GFLOPS    20 / 800 = 25 ms      20 + 2 + 25 = 47 ms
====  ==============  ==============  ====================  ==========================

(rate = peak x 0.4 inference efficiency x 4/8 share). Only C meets the budget.
"""

from __future__ import annotations

import pytest

from suanwang.model import Link, Node, Precision, Site, TaskSpec, Tier, Topology
from suanwang.scheduling import (
    ClusterState,
    Decision,
    Request,
    Scheduler,
    builtin_profiles,
)

BUDGET_MS = 50.0
SPEC = TaskSpec(
    work_gflop=20.0,
    cpu_cores=4.0,
    mem_gib=2.0,
    data_in_mb=0.25,
    ingress_site="U",
    latency_budget_ms=BUDGET_MS,
)
EXPECTED_TOTAL_MS = {"A": 254.0, "B": 74.5, "C": 47.0}


def _topology() -> Topology:
    def node(node_id: str, site: str, fp32: float) -> Node:
        return Node(
            node_id, site, cpu_cores=8, mem_gib=32.0, cpu_peak_gflops={Precision.FP32: fp32}
        )

    return Topology(
        sites=[
            Site("U", Tier.TERMINAL),
            Site("SA", Tier.EDGE),
            Site("SB", Tier.HUB),
            Site("SC", Tier.REGION),
        ],
        nodes=[node("A", "SA", 400.0), node("B", "SB", 40_000.0), node("C", "SC", 4_000.0)],
        links=[
            Link("u-a", "U", "SA", bandwidth_mbps=1_000.0, latency_ms=1.0),
            Link("u-b", "U", "SB", bandwidth_mbps=1_000.0, latency_ms=35.0),
            Link("u-c", "U", "SC", bandwidth_mbps=1_000.0, latency_ms=10.0),
        ],
    )


def _decide(profile_name: str) -> Decision:
    scheduler = Scheduler(builtin_profiles()[profile_name], ClusterState(_topology()))
    return scheduler.schedule(Request("frame-1", SPEC))


@pytest.mark.parametrize(
    ("profile", "node"),
    [("nearest", "A"), ("compute-only", "B")],
)
def test_one_sided_baselines_break_the_budget(profile: str, node: str) -> None:
    decision = _decide(profile)
    assert decision.placement is not None
    assert decision.placement.node_id == node
    total = decision.placement.estimate.total_ms
    assert total == pytest.approx(EXPECTED_TOTAL_MS[node])
    assert total > BUDGET_MS


@pytest.mark.parametrize("profile", ["cats-joint", "cost", "green", "east-west"])
def test_joint_selection_meets_the_budget(profile: str) -> None:
    decision = _decide(profile)
    assert decision.placement is not None
    assert decision.placement.node_id == "C"
    estimate = decision.placement.estimate
    assert estimate.total_ms == pytest.approx(EXPECTED_TOTAL_MS["C"])
    assert estimate.total_ms <= BUDGET_MS
    assert estimate.network_ms == pytest.approx(22.0)
    assert estimate.compute_ms == pytest.approx(25.0)
    assert estimate.queueing_ms == 0.0
    assert decision.placement.path == ("U", "SC")
    assert decision.placement.reserved_bandwidth_mbps == pytest.approx(80.0)  # 2 Mbit in 25 ms


def test_cats_joint_says_why_not_the_near_and_the_fast_node() -> None:
    # both are hopeless even on an idle network, so latency-bound turns them away before routing
    diagnosis = _decide("cats-joint").diagnosis
    assert diagnosis.rejected_by == {"latency-bound": 2}
    near, fast = diagnosis.why_not("A"), diagnosis.why_not("B")
    assert near.plugin == fast.plugin == "latency-bound"
    assert near.reason == (
        "even on an idle network the best case is 252.0 ms (round trip 2.0 + compute 250.0), "
        "over the 50 ms limit"
    )
    assert fast.reason == (
        "even on an idle network the best case is 72.5 ms (round trip 70.0 + compute 2.5), "
        "over the 50 ms limit"
    )
    assert diagnosis.why_not("C").passed


def test_joint_choice_uses_every_core_of_the_node_that_meets_the_budget() -> None:
    # a frame holds 4 of C's 8 cores and gets them at once: two frames meet the budget on C,
    # with no predicted waiting; a third finds C full and is refused (it would have to wait)
    scheduler = Scheduler(builtin_profiles()["cats-joint"], ClusterState(_topology()))
    for k in (1, 2):
        placed = scheduler.schedule(Request(f"frame-{k}", SPEC)).placement
        assert placed is not None
        assert placed.node_id == "C"
        assert placed.estimate.queueing_ms == 0.0
        assert placed.estimate.total_ms <= BUDGET_MS  # the second's input shares the link
    third = scheduler.schedule(Request("frame-3", SPEC))
    assert third.placement is None
    assert "latency-bound: 2" in third.status.reason
    assert "needs 4 free CPU cores, has 0" in third.diagnosis.why_not("C").reason
    scheduler.release("frame-1")
    fourth = scheduler.schedule(Request("frame-4", SPEC))
    assert fourth.placement is not None
    assert fourth.placement.node_id == "C"


def test_latency_bound_never_turns_away_a_node_latency_budget_would_keep() -> None:
    # the same decisions with and without the early bound, through a stream with load
    import dataclasses

    joint = builtin_profiles()["cats-joint"]
    unbound = dataclasses.replace(
        joint, filters=tuple(f for f in joint.filters if f != "latency-bound")
    )
    with_bound = Scheduler(joint, ClusterState(_topology()))
    without = Scheduler(unbound, ClusterState(_topology()))
    for k in range(6):
        a = with_bound.schedule(Request(f"t{k}", SPEC))
        b = without.schedule(Request(f"t{k}", SPEC))
        assert (a.placement is None) == (b.placement is None)
        if a.placement is not None and b.placement is not None:
            assert a.placement.node_id == b.placement.node_id
            assert a.placement.estimate == b.placement.estimate
