"""Diagnoses: a refused task says, for every node, which plugin turned it away and why.

The topology is ``hand_topology`` (conftest.py) plus three nodes, so that under ``cats-joint``
each filter of the profile rejects at least one node. The task is hot, 4 cores and 8 GiB,
10 GFLOP, verified trust, data resident in CN, 40 ms budget, 0.5 MB of input (4 Mbit in half
the budget: 200 Mbps on every link) and a price budget of 0.5.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from suanwang.model import Link, Node, Precision, Site, TaskClass, TaskSpec, Tier, TrustLevel
from suanwang.scheduling import (
    ClusterState,
    Code,
    Decision,
    NodeVerdict,
    Request,
    Scheduler,
    builtin_profiles,
)

SPEC = TaskSpec(
    work_gflop=10.0,
    cpu_cores=4.0,
    mem_gib=8.0,
    data_in_mb=0.5,
    ingress_site="U",
    latency_budget_ms=40.0,
    task_class=TaskClass.HOT,
    budget=0.5,
    residency=("CN",),
    min_trust_level=TrustLevel.VERIFIED,
)

# node -> (plugin, the reason, figures included)
EXPECTED = {
    "edge-cpu": (
        "latency-budget",
        "estimated 56.0 ms (network 6.0 + queueing 0.0 + compute 50.0) exceeds 40 ms",
    ),
    "edge-small": ("resource-fit", "needs 4 free CPU cores, has 2"),
    "region-gpu": ("latency-shortest", "no path from U to R whose every link has 200.0 Mbps free"),
    "hub-big": ("residency", "region DE-BE is outside the data's residency ['CN']"),
    "island": ("trust", "trust level 1 is below the required 2"),
    "noregion": ("residency", "region (none) is outside the data's residency ['CN']"),
    "edge-stale": ("node-health", "excluded by awareness: no report for 300 s"),
    "hub-cn": ("tier-class", "hot work may not run at a hub site"),
    # 1,000,000/h x 4/8 x 6.25 ms + 0.1/GB x 0.0005 GB
    "edge-pricey": ("price-budget", "estimated price 0.8681 exceeds the budget 0.5"),
}
ORDER = {
    "node-health": 1,
    "resource-fit": 1,
    "residency": 2,
    "trust": 1,
    "tier-class": 1,
    "latency-shortest": 1,
    "latency-budget": 1,
    "price-budget": 1,
}


_JOINT = builtin_profiles()["cats-joint"]
_JOINT_WITHOUT_BOUND = dataclasses.replace(
    _JOINT, filters=tuple(f for f in _JOINT.filters if f != "latency-bound")
)


def test_builtin_cats_joint_turns_hopeless_nodes_away_before_routing(sw: Any) -> None:
    decision = Scheduler(_JOINT, _state(sw)).schedule(Request("refused-2", SPEC))
    why = decision.diagnosis.why_not
    assert why("edge-cpu") == NodeVerdict(
        "edge-cpu",
        "latency-bound",
        "even on an idle network the best case is 52.0 ms (round trip 2.0 + compute 50.0), "
        "over the 40 ms limit",
    )
    assert why("region-gpu").plugin == "latency-bound"
    assert "best case is 122.0 ms" in why("region-gpu").reason
    # the more specific filters before it keep their reasons
    assert why("edge-small") == NodeVerdict("edge-small", *EXPECTED["edge-small"])
    assert decision.diagnosis.rejected_by["latency-bound"] == 2


def _state(sw: Any) -> ClusterState:
    fast = {Precision.FP32: 8_000.0}
    topology = sw.hand_topology().updated(
        Site("HC", Tier.HUB, region="CN-NM"),
        Link("u-hc", "U", "HC", bandwidth_mbps=10_000.0, latency_ms=5.0),
        Node("edge-stale", "E", cpu_cores=8, mem_gib=16.0, cpu_peak_gflops=fast,
             trust_level=TrustLevel.VERIFIED),
        Node("hub-cn", "HC", cpu_cores=64, mem_gib=256.0, cpu_peak_gflops=fast,
             trust_level=TrustLevel.SOVEREIGN),
        Node("edge-pricey", "E", cpu_cores=8, mem_gib=16.0, cpu_peak_gflops=fast,
             trust_level=TrustLevel.VERIFIED, price_per_hour=1_000_000.0),
    )  # fmt: skip
    return ClusterState(topology, snapshot=sw.snapshot_excluding(topology, {"edge-stale": 300.0}))


@pytest.fixture
def refused(sw: Any) -> Decision:
    # cats-joint without latency-bound, so that every later filter gets to reject a node too
    scheduler = Scheduler(_JOINT_WITHOUT_BOUND, _state(sw))
    return scheduler.schedule(Request("refused-1", SPEC))


SUMMARY = "no node can take the task (0 nodes passed; rejected by {})".format(
    ", ".join(f"{plugin}: {count}" for plugin, count in ORDER.items())
)


def test_refused_task_is_unschedulable_with_a_one_line_reason(refused: Decision) -> None:
    assert refused.placement is None
    assert refused.status.code is Code.UNSCHEDULABLE
    assert refused.status.plugin == ""
    assert refused.status.reason == SUMMARY
    assert "\n" not in refused.diagnosis.summary()
    assert refused.diagnosis.status == refused.status


def test_summary_of_a_refusal_is_the_status_reason(refused: Decision) -> None:
    assert refused.diagnosis.summary() == SUMMARY


def test_rejected_by_counts_every_node_once_in_pipeline_order(refused: Decision) -> None:
    diagnosis = refused.diagnosis
    assert diagnosis.rejected_by == ORDER
    assert list(diagnosis.rejected_by) == list(ORDER)  # the order the plugins ran in
    assert sum(diagnosis.rejected_by.values()) == len(EXPECTED)
    assert diagnosis.survivors == 0


def test_verdicts_cover_every_node_with_plugin_and_reason(refused: Decision) -> None:
    verdicts = refused.diagnosis.verdicts()
    assert len(verdicts) == len(EXPECTED)
    assert {v.node_id for v in verdicts} == set(EXPECTED)
    for verdict in verdicts:
        assert not verdict.passed
        assert (verdict.plugin, verdict.reason) == EXPECTED[verdict.node_id]
    assert len(refused.diagnosis.verdicts(limit=3)) == 3


@pytest.mark.parametrize("node", EXPECTED)
def test_why_not_each_node(refused: Decision, node: str) -> None:
    verdict = refused.diagnosis.why_not(node)
    assert verdict == NodeVerdict(node, *EXPECTED[node])


def test_why_not_an_unknown_node_is_a_key_error(refused: Decision) -> None:
    with pytest.raises(KeyError, match="no node 'nowhere'"):
        refused.diagnosis.why_not("nowhere")


def test_placed_task_diagnosis(sw: Any) -> None:
    # cats-joint without latency-bound, so that every later filter gets to reject a node too
    scheduler = Scheduler(_JOINT_WITHOUT_BOUND, _state(sw))
    relaxed = TaskSpec(10.0, cpu_cores=4.0, mem_gib=8.0, ingress_site="U")
    decision = scheduler.schedule(Request("ok-1", relaxed))
    assert decision.placement is not None
    assert decision.status.ok
    chosen = decision.diagnosis.why_not(decision.placement.node_id)
    assert chosen.passed
    assert chosen.reason == "passed every filter"
    assert decision.diagnosis.survivors + sum(decision.diagnosis.rejected_by.values()) == 9
    assert "nodes passed" in decision.diagnosis.summary()


@pytest.mark.parametrize(
    ("ingress", "reason"),
    [(None, "the task names no ingress site"), ("ZZ", "unknown ingress site 'ZZ'")],
)
def test_bad_ingress_is_an_error_of_the_request(sw: Any, ingress: str | None, reason: str) -> None:
    # cats-joint without latency-bound, so that every later filter gets to reject a node too
    scheduler = Scheduler(_JOINT_WITHOUT_BOUND, _state(sw))
    decision = scheduler.schedule(Request("bad-1", TaskSpec(1.0, ingress_site=ingress)))
    assert decision.placement is None
    assert decision.status.code is Code.ERROR
    assert decision.status.plugin == "request-check"
    assert decision.status.reason == reason
    assert decision.diagnosis.rejected_by == {}
    assert decision.diagnosis.verdicts() == []
    assert len(scheduler.state.reservations) == 0


def test_verdicts_come_grouped_by_plugin_in_pipeline_order(refused: Decision) -> None:
    plugins = [v.plugin for v in refused.diagnosis.verdicts()]
    assert list(dict.fromkeys(plugins)) == list(ORDER)  # each plugin's block once, in order
    assert plugins == sorted(plugins, key=list(ORDER).index)


def test_a_refusal_keeps_the_reasons_of_its_cycle(sw: Any) -> None:
    state = ClusterState(sw.hand_topology())
    sw.hold(state, "background", "edge-cpu", 6.0)
    sw.hold(state, "busy-gpu", "region-gpu", 30.0)
    sw.hold(state, "busy-hub", "hub-big", 60.0)
    sw.hold(state, "busy-n", "noregion", 8.0)
    scheduler = Scheduler(sw.profile(filters=("resource-fit",)), state)
    decision = scheduler.schedule(Request("t1", TaskSpec(10.0, cpu_cores=8.0, ingress_site="U")))
    assert decision.placement is None
    assert decision.diagnosis.why_not("edge-cpu").reason == "needs 8 free CPU cores, has 2"
    state.reservations.release("background")  # the task that held the cores completes
    assert decision.diagnosis.why_not("edge-cpu").reason == "needs 8 free CPU cores, has 2"
