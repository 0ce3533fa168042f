"""Diagnoses: a refused task says, for every node, which plugin turned it away and why.

The topology is ``hand_topology`` (conftest.py) plus four nodes, so that under ``cats-joint``
each filter of the profile rejects at least one node. The task is hot, 4 cores and 8 GiB,
10 GFLOP, verified trust, data resident in CN, 40 ms budget, 0.5 MB of input (4 Mbit in half
the budget: 200 Mbps on every link) and a price budget of 0.5.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from suanwang.model import (
    AcceleratorKind,
    AcceleratorNeed,
    Link,
    Node,
    Precision,
    Site,
    TaskClass,
    TaskSpec,
    Tier,
    TrustLevel,
)
from suanwang.scheduling import (
    ClusterState,
    Code,
    Decision,
    NearMiss,
    NodeVerdict,
    Request,
    Scheduler,
    builtin_profiles,
)

GPU = AcceleratorKind.GPU
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
    "edge-small": ("trust", "trust level 1 is below the required 2"),
    "edge-tiny": ("resource-fit", "needs 4 free CPU cores, has 2"),
    "region-gpu": ("latency-shortest", "no path from U to R whose every link has 200.0 Mbps free"),
    "hub-big": ("residency", "region DE-BE is outside the data's residency ['CN']"),
    "island": ("trust", "trust level 1 is below the required 2"),
    "noregion": ("residency", "region (none) is outside the data's residency ['CN']"),
    "edge-stale": ("node-health", "excluded by awareness: no report for 300 s"),
    "hub-cn": ("tier-class", "hot work may not run at a hub site"),
    # 1,000,000/h x 4/8 x 6.25 ms + 0.1/GB x 0.0005 GB
    "edge-pricey": ("price-budget", "estimated price 0.8681 exceeds the budget 0.5"),
}
# The policy stage (residency, trust) runs first under every profile.
ORDER = {
    "residency": 2,
    "trust": 2,
    "node-health": 1,
    "resource-fit": 1,
    "tier-class": 1,
    "latency-shortest": 1,
    "latency-budget": 1,
    "price-budget": 1,
}


_JOINT = builtin_profiles()["cats-joint"]


def _diagnosed_filters() -> tuple[str, ...]:
    # cats-joint's filters without latency-bound, with tier-class after resource-fit as in
    # east-west, so that every kind of filter gets to reject a node
    filters: list[str] = []
    for name in _JOINT.filters:
        if name != "latency-bound":
            filters.append(name)
        if name == "resource-fit":
            filters.append("tier-class")
    return tuple(filters)


_JOINT_WITHOUT_BOUND = dataclasses.replace(_JOINT, filters=_diagnosed_filters())


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
    assert why("edge-tiny") == NodeVerdict("edge-tiny", *EXPECTED["edge-tiny"])
    # hub-cn is no longer turned away by tier class under cats-joint: its best case is too slow
    assert "best case is 60.0 ms" in why("hub-cn").reason
    assert decision.diagnosis.rejected_by["latency-bound"] == 3


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
        Node("edge-tiny", "E", cpu_cores=2, mem_gib=4.0, cpu_peak_gflops=fast,
             trust_level=TrustLevel.VERIFIED),
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
    assert decision.diagnosis.survivors + sum(decision.diagnosis.rejected_by.values()) == 10
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


def test_verdicts_come_grouped_by_plugin_last_filter_first(refused: Decision) -> None:
    # A node turned away late in the pipeline passed every filter before: it came closest.
    plugins = [v.plugin for v in refused.diagnosis.verdicts()]
    closest_first = list(reversed(ORDER))
    assert list(dict.fromkeys(plugins)) == closest_first  # each plugin's block once
    assert plugins == sorted(plugins, key=closest_first.index)


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


# ---- why here: the chosen node's points per plugin, and the runners-up --------------------------
#
# ``score_topology`` (conftest.py) with a warm 4-core, 10 GFLOP task: end-to-end near 252 ms,
# mid 70 ms, far 72.5 ms; price near > mid > far. Under end-to-end x4 + cost x1, far wins on
# price by a hair over mid, which is 2.5 ms faster.

WARM = TaskSpec(10.0, cpu_cores=4.0, mem_gib=8.0, ingress_site="U")
WEIGHTS = {"end-to-end": 4.0, "cost": 1.0}


def test_why_here_points_per_plugin_add_up_to_the_decision_s_total(sw: Any) -> None:
    decision = sw.scheduler(sw.score_topology(), scores=WEIGHTS).schedule(Request("t1", WARM))
    assert decision.placement is not None
    here = decision.diagnosis.why_here()
    assert here is not None
    assert here.chosen.node_id == decision.placement.node_id == "far"
    assert here.candidates == 3
    assert here.score_max == pytest.approx(500.0)
    assert not here.kept
    parts = {p.plugin: p for p in here.chosen.scores}
    assert list(parts) == list(WEIGHTS)  # the profile's order
    assert sum(p.weighted for p in here.chosen.scores) == pytest.approx(decision.score)
    assert here.chosen.score == pytest.approx(decision.score)
    for part in here.chosen.scores:
        assert part.weight == WEIGHTS[part.plugin]
        assert part.weighted == pytest.approx(part.weight * part.scaled)
        assert 0.0 <= part.scaled <= 100.0
    # far is 2.5 ms behind mid, the best, on a scale of 252 ms; it is the cheapest
    assert parts["end-to-end"].raw == pytest.approx(72.5)
    assert parts["end-to-end"].scaled == pytest.approx((1 - 2.5 / 252.0) * 100.0)
    assert parts["cost"].scaled == pytest.approx(100.0)
    assert here.chosen.estimate == decision.placement.estimate


def test_why_here_alternatives_come_best_first_with_their_estimates(sw: Any) -> None:
    decision = sw.scheduler(sw.score_topology(), scores=WEIGHTS).schedule(Request("t1", WARM))
    here = decision.diagnosis.why_here()
    assert here is not None
    assert [a.node_id for a in here.alternatives] == ["mid", "near"]
    totals = [here.chosen.score] + [a.score for a in here.alternatives]
    assert totals == sorted(totals, reverse=True)
    mid = here.alternatives[0]
    assert (mid.estimate.network_ms, mid.estimate.compute_ms) == pytest.approx((20.0, 50.0))
    assert mid.estimate.queueing_ms == 0.0
    assert {p.plugin: p.scaled for p in mid.scores}["end-to-end"] == pytest.approx(100.0)
    assert sum(p.weighted for p in mid.scores) == pytest.approx(mid.score)
    assert len(decision.diagnosis.why_here(alternatives=1).alternatives) == 1


def test_why_here_says_when_affinity_kept_a_lower_scoring_node(sw: Any) -> None:
    state = ClusterState(sw.score_topology())
    sw.hold(state, "far-busy", "far", 8.0)
    scheduler = Scheduler(sw.profile(scores=WEIGHTS), state)
    session = dataclasses.replace(WARM, affinity_key="s1")
    first = scheduler.schedule(Request("t1", session))
    assert first.placement is not None
    assert first.placement.node_id == "mid"
    state.reservations.release("far-busy")
    again = scheduler.schedule(Request("t2", session))
    here = again.diagnosis.why_here()
    assert here is not None
    assert here.chosen.node_id == "mid"
    assert here.kept
    assert here.alternatives[0].node_id == "far"
    assert here.alternatives[0].score > here.chosen.score


def test_a_refusal_has_no_why_here(refused: Decision) -> None:
    assert refused.diagnosis.why_here() is None


# ---- closest misses: refusals ordered by how near each node came --------------------------------


def test_latency_misses_come_closest_first_not_in_node_order(sw: Any) -> None:
    # Best cases on an idle network: near 2 + 250 = 252 ms, mid 20 + 50 = 70, far 60 + 12.5.
    tight = dataclasses.replace(WARM, latency_budget_ms=1.0)
    scheduler = sw.scheduler(sw.score_topology(), filters=("latency-bound",))
    diagnosis = scheduler.schedule(Request("t1", tight)).diagnosis
    assert [v.node_id for v in diagnosis.verdicts()] == ["mid", "far", "near"]
    [group] = diagnosis.refusals()
    assert (group.plugin, group.kind, group.count) == (
        "latency-bound",
        "best case over the limit",
        3,
    )
    assert [m.node_id for m in group.closest] == ["mid", "far", "near"]
    assert [m.short_by for m in group.closest] == pytest.approx([69.0, 71.5, 251.0])
    assert {m.unit for m in group.closest} == {"ms"}
    assert "best case is 70.0 ms" in group.closest[0].reason
    assert "over the 1 ms limit" in group.closest[0].reason
    assert len(diagnosis.refusals(closest=1)[0].closest) == 1
    assert [v.node_id for v in diagnosis.verdicts(limit=2)] == ["mid", "far"]


def test_resource_misses_put_the_nodes_with_most_free_first(sw: Any) -> None:
    # Two GPUs wanted: region-gpu has one of its two free; edge-cpu lacks half a core; the
    # others have no GPU at all, so no release of other work would ever make room there.
    state = ClusterState(sw.hand_topology())
    sw.hold(state, "one-gpu", "region-gpu", 0.0, accelerator_kind=GPU, accelerator_count=1)
    sw.hold(state, "cores", "edge-cpu", 7.5)
    spec = TaskSpec(10.0, cpu_cores=1.0, accelerator=AcceleratorNeed(GPU, 2), ingress_site="U")
    decision = Scheduler(sw.profile(filters=("resource-fit",)), state).schedule(Request("g", spec))
    assert decision.placement is None
    verdicts = decision.diagnosis.verdicts()
    assert [v.node_id for v in verdicts] == [
        "edge-cpu",
        "region-gpu",
        "edge-small",
        "hub-big",
        "island",
        "noregion",
    ]
    cores, gpus = decision.diagnosis.refusals(closest=2)
    assert (cores.kind, cores.count) == ("free CPU cores", 1)
    assert cores.closest[0] == NearMiss("edge-cpu", "needs 1 free CPU cores, has 0.5", 0.5, "cores")
    assert (gpus.plugin, gpus.kind, gpus.count) == ("resource-fit", "free gpu", 5)
    assert [(m.node_id, m.short_by) for m in gpus.closest] == [
        ("region-gpu", 1.0),
        ("edge-small", math.inf),
    ]
    assert gpus.closest[0].reason == "needs 2 free gpu, has 1"


def test_refusals_read_from_the_last_filter_to_the_first(refused: Decision) -> None:
    groups = refused.diagnosis.refusals()
    assert [g.plugin for g in groups] == list(reversed(refused.diagnosis.rejected_by))
    assert sum(g.count for g in groups) == len(EXPECTED)
    by_plugin = {g.plugin: g for g in groups}
    # Plugins without a miss measure keep one group without a kind, their nodes in index order.
    residency = by_plugin["residency"]
    assert (residency.kind, residency.count) == ("", 2)
    assert [(m.node_id, m.short_by) for m in residency.closest] == [
        ("hub-big", None),
        ("noregion", None),
    ]
    assert by_plugin["price-budget"].closest[0].short_by == pytest.approx(0.8681 - 0.5, abs=1e-3)
