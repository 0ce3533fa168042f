"""Batch placement: drawing a batch, grouping classes, scoring placements, the min-cost flow.

The flow's contract: it places only what fits (the ledger invariant "reserved <= capacity"
holds for cores, memory, devices and link bandwidth after binding), every task it leaves
unplaced has a reason, every placement is held in the ledger, and a seed gives one answer.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest

from suanwang.model import (
    Accelerator,
    AcceleratorKind,
    AcceleratorNeed,
    ArrivalKind,
    Arrivals,
    Estimate,
    Link,
    Node,
    Placement,
    Precision,
    Site,
    TaskClass,
    TaskSpec,
    TaskType,
    Tier,
    Topology,
    TrustLevel,
    Workload,
)
from suanwang.scenario import load_builtin
from suanwang.scenario.generate import generate_scenario
from suanwang.scheduling import ClusterState, Profile, Request, Scheduler, builtin_profiles
from suanwang.scheduling.batch import (
    BatchError,
    FlowOptions,
    SlaCheck,
    draw_batch,
    evaluate,
    group_classes,
    mean_rate_per_s,
    place_batch,
    place_online,
)
from suanwang.scheduling.batch.classes import ClassEvaluator
from suanwang.scheduling.scheduler import ProfilePlugins

FP32, FP16 = Precision.FP32, Precision.FP16
GPU = AcceleratorKind.GPU
FIT_ONLY = Profile("fit-only", filters=("node-health", "resource-fit"), scores={"nearest": 1.0})


def assert_ledger_holds(state: ClusterState, placements: list[Placement | None] | tuple) -> None:
    """Reserved <= capacity everywhere, and exactly the placed tasks hold reservations."""
    ledger, arrays = state.reservations, state.arrays
    assert (ledger.cpu_cores <= arrays.node_cpu_cores + 1e-6).all()
    assert (ledger.mem_gib <= arrays.node_mem_gib + 1e-6).all()
    assert (ledger.accelerators <= arrays.node_accel_count + 1e-6).all()
    assert (ledger.link_mbps <= arrays.link_bandwidth_mbps + 1e-6).all()
    placed = [p for p in placements if p is not None]
    assert len(ledger) == len(placed)
    for placement in placed:
        held = ledger.held(placement.task_id)
        assert held is not None
        assert arrays.node_ids[held.node] == placement.node_id


def one_site_topology(cores: int = 4, nodes: int = 1) -> Topology:
    """One edge site with ``nodes`` CPU nodes of ``cores`` cores, and an ingress 1 ms away."""
    sites = [Site("U", Tier.TERMINAL, region="CN-GD"), Site("E", Tier.EDGE, region="CN-GD")]
    hosts = [
        Node(f"n{i}", "E", cpu_cores=cores, mem_gib=64.0, cpu_peak_gflops={FP32: 1_000.0})
        for i in range(nodes)
    ]
    return Topology(sites, hosts, links=[Link("u-e", "U", "E", 1_000.0, 1.0)])


def cpu_task(cores: float = 1.0, **extra: object) -> TaskSpec:
    return TaskSpec(1.0, FP32, cores, 1.0, ingress_site="U", **extra)  # type: ignore[arg-type]


def batch(spec: TaskSpec, count: int, prefix: str = "t") -> list[Request]:
    return [Request(f"{prefix}{i}", spec) for i in range(count)]


# --- drawing and grouping ------------------------------------------------------------------


def workload() -> Workload:
    a = TaskType("a", TaskSpec(1.0, task_type="a"))
    b = TaskType("b", TaskSpec(2.0, task_type="b"))
    return Workload(
        (a, b),
        (
            Arrivals("a", rate_per_s=3.0, ingress=(("U1", 1.0), ("U2", 3.0))),
            Arrivals("b", rate_per_s=1.0, ingress=(("U1", 1.0),)),
        ),
    )


def test_draw_batch_is_seeded_sized_and_proportional() -> None:
    first = draw_batch(workload(), 4_000, seed=7)
    assert draw_batch(workload(), 4_000, seed=7) == first
    assert draw_batch(workload(), 4_000, seed=8) != first
    assert len({r.task_id for r in first}) == 4_000
    types = Counter(r.spec.task_type for r in first)
    assert types["a"] / 4_000 == pytest.approx(0.75, abs=0.03)
    ingress = Counter(r.spec.ingress_site for r in first if r.spec.task_type == "a")
    assert ingress["U2"] / types["a"] == pytest.approx(0.75, abs=0.03)
    assert all(r.spec.ingress_site == "U1" for r in first if r.spec.task_type == "b")


def test_draw_batch_refuses_what_cannot_be_drawn() -> None:
    with pytest.raises(BatchError, match="at least one task"):
        draw_batch(workload(), 0)
    silent = Workload(workload().task_types, (Arrivals("a", rate_per_s=0.0, ingress=(("U", 1),)),))
    with pytest.raises(BatchError, match="no arrival stream"):
        draw_batch(silent, 10)
    nowhere = Workload(workload().task_types, (Arrivals("a", rate_per_s=1.0),))
    with pytest.raises(BatchError, match="no arrival stream"):
        draw_batch(nowhere, 10)


def test_mean_rate_averages_diurnal_and_bursts() -> None:
    diurnal = Arrivals(
        "a", ArrivalKind.DIURNAL, 2.0, (("U", 1.0),), hourly_multipliers=(0.5,) * 12 + (1.5,) * 12
    )
    assert mean_rate_per_s(diurnal) == pytest.approx(2.0)
    burst = Arrivals(
        "a", ArrivalKind.BURST, 1.0, burst_every_s=100.0, burst_duration_s=10.0, burst_factor=11.0
    )
    assert mean_rate_per_s(burst) == pytest.approx(2.0)


def test_group_classes_merges_equal_specs_and_keeps_batch_order() -> None:
    spec = cpu_task()
    twin = dataclasses.replace(spec)  # equal, another object
    other = cpu_task(2.0)
    requests = [Request("a", spec), Request("b", other), Request("c", twin), Request("d", spec)]
    groups = group_classes(requests)
    assert [(g.spec, g.members) for g in groups] == [(spec, (0, 2, 3)), (other, (1,))]
    assert [g.members for g in group_classes(requests, among=[3, 1])] == [(3,), (1,)]
    with pytest.raises(BatchError, match="unique"):
        group_classes([Request("a", spec), Request("a", other)])


# --- evaluation ----------------------------------------------------------------------------


def placement(node: str = "n0", total_ms: float = 10.0, cost: float = 1.0) -> Placement:
    return Placement(
        "t", node, ("U", "E"), ("u-e",), estimate=Estimate(compute_ms=total_ms, cost=cost)
    )


@pytest.mark.parametrize(
    ("terms", "at", "met"),
    [
        ({}, placement(), True),
        ({}, None, False),
        ({"latency_budget_ms": 10.0}, placement(total_ms=10.0), True),
        ({"latency_budget_ms": 10.0}, placement(total_ms=10.5), False),
        ({"deadline_s": 0.01}, placement(total_ms=11.0), False),
        ({"budget": 1.0}, placement(cost=1.5), False),
        ({"budget": 2.0}, placement(cost=1.5), True),
        ({"residency": ("CN",)}, placement(), True),
        ({"residency": ("DE",)}, placement(), False),
        ({"min_trust_level": TrustLevel.SOVEREIGN}, placement(), False),
        ({}, placement(total_ms=float("inf")), False),
    ],
)
def test_sla_check(terms: dict[str, object], at: Placement | None, met: bool) -> None:
    spec = dataclasses.replace(cpu_task(), **terms)  # type: ignore[arg-type]
    assert SlaCheck(one_site_topology())(spec, at) is met


def test_evaluate_sums_and_percentiles() -> None:
    spec = cpu_task(latency_budget_ms=15.0)
    requests = batch(spec, 3)
    placements = [placement(total_ms=10.0, cost=1.0), placement(total_ms=20.0, cost=2.0), None]
    metrics = evaluate(one_site_topology(), requests, placements)
    assert (metrics.tasks, metrics.placed, metrics.sla_met) == (3, 2, 1)
    assert metrics.sla_satisfaction == pytest.approx(1 / 3)
    assert metrics.placed_share == pytest.approx(2 / 3)
    assert metrics.mean_ms == pytest.approx(15.0)
    assert metrics.p95_ms == pytest.approx(19.5)
    assert metrics.total_cost == pytest.approx(3.0)
    empty = evaluate(one_site_topology(), requests, [None, None, None])
    assert np.isnan(empty.mean_ms)
    with pytest.raises(ValueError, match="placements"):
        evaluate(one_site_topology(), requests, [None])


# --- the min-cost flow ---------------------------------------------------------------------


def test_flow_places_exactly_what_fits_and_says_why_not() -> None:
    state = ClusterState(one_site_topology(cores=4))
    requests = batch(cpu_task(), 10)
    plan = place_batch(FIT_ONLY, state, requests)
    assert plan.placed == 4
    assert plan.stats.unplaced == 6
    assert set(plan.reasons) == {
        r.task_id for r, p in zip(requests, plan.placements, strict=True) if p is None
    }
    assert all("resource-fit" in reason for reason in plan.reasons.values())
    assert_ledger_holds(state, plan.placements)
    assert state.reservations.cpu_cores.sum() == pytest.approx(4.0)


def test_flow_shares_cores_exactly_between_demands() -> None:
    state = ClusterState(one_site_topology(cores=10, nodes=2))
    requests = batch(cpu_task(2.0), 6, "a") + batch(cpu_task(3.0), 6, "b")
    plan = place_batch(FIT_ONLY, state, requests, options=FlowOptions(repair=False))
    assert_ledger_holds(state, plan.placements)
    # 20 cores: the most tasks is all six 2-core ones (12 cores) and two 3-core ones (6 cores).
    assert plan.placed == 8
    assert plan.stats.bind_conflicts == 0


def test_flow_keeps_link_bandwidth() -> None:
    """Tasks whose data needs 300 Mbps over a 1,000 Mbps link: three at a time, not more."""
    state = ClusterState(one_site_topology(cores=64))
    spec = cpu_task(data_in_mb=0.375, latency_budget_ms=20.0)  # 3 Mbit in 10 ms: 300 Mbps
    plan = place_batch(FIT_ONLY, state, batch(spec, 5))
    assert plan.placed == 3
    assert_ledger_holds(state, plan.placements)
    assert all(p.reserved_bandwidth_mbps == pytest.approx(300.0) for p in plan.placements if p)


def test_flow_refuses_held_or_repeated_ids() -> None:
    state = ClusterState(one_site_topology())
    with pytest.raises(BatchError, match="unique"):
        place_batch(FIT_ONLY, state, [Request("a", cpu_task()), Request("a", cpu_task())])
    place_batch(FIT_ONLY, state, [Request("a", cpu_task())])
    with pytest.raises(BatchError, match="already holds"):
        place_batch(FIT_ONLY, state, [Request("a", cpu_task())])


def test_flow_reports_an_unknown_ingress_as_the_reason() -> None:
    state = ClusterState(one_site_topology())
    plan = place_batch(
        FIT_ONLY, state, [Request("x", dataclasses.replace(cpu_task(), ingress_site="Z"))]
    )
    assert plan.placements == (None,)
    assert "unknown ingress" in plan.reasons["x"]


@pytest.fixture(scope="module")
def generated() -> tuple[Topology, list[Request]]:
    scenario = generate_scenario(300, seed=3)
    return scenario.topology, draw_batch(scenario.workload, 3_000, seed=3)


@pytest.mark.parametrize("profile", ["cats-joint", "least-loaded", "nearest"])
def test_flow_never_over_commits_a_generated_network(
    generated: tuple[Topology, list[Request]], profile: str
) -> None:
    topology, requests = generated
    state = ClusterState(topology)
    plan = place_batch(builtin_profiles()[profile], state, requests)
    assert_ledger_holds(state, plan.placements)
    stats = plan.stats
    assert stats.placed_by_flow + stats.placed_by_repair == plan.placed
    assert stats.unplaced == len(requests) - plan.placed == len(plan.reasons)
    assert plan.placed > 0


def test_flow_is_deterministic(generated: tuple[Topology, list[Request]]) -> None:
    topology, requests = generated
    profile = builtin_profiles()["cats-joint"]
    first = place_batch(profile, ClusterState(topology), requests)
    second = place_batch(profile, ClusterState(topology), requests)
    assert first.placements == second.placements
    assert first.reasons == second.reasons


def test_flow_repairs_what_its_rounds_leave(generated: tuple[Topology, list[Request]]) -> None:
    """With candidate lists cut to one node and one round, the online scheduler does the rest."""
    topology, requests = generated
    profile = builtin_profiles()["cats-joint"]
    tight = FlowOptions(coverage=0.01, min_candidates=1, evaluations=1, rounds=1)
    state = ClusterState(topology)
    plan = place_batch(profile, state, requests, options=tight)
    assert plan.stats.placed_by_repair > 0
    assert_ledger_holds(state, plan.placements)
    unrepaired = place_batch(
        profile, ClusterState(topology), requests, options=dataclasses.replace(tight, repair=False)
    )
    assert unrepaired.placed == plan.stats.placed_by_flow
    assert unrepaired.placed < plan.placed


def test_flow_places_about_as_many_as_the_online_scheduler() -> None:
    scenario = load_builtin("metro-edge")
    requests = draw_batch(scenario.workload, 400, seed=11)
    profile = builtin_profiles()["cats-joint"]
    flow = place_batch(profile, ClusterState(scenario.topology), requests)
    online = place_online(profile, ClusterState(scenario.topology), requests)
    flow_met = evaluate(scenario.topology, requests, flow.placements).sla_met
    online_met = evaluate(scenario.topology, requests, online).sla_met
    assert flow_met >= 0.95 * online_met


def test_flow_honours_accelerator_counts() -> None:
    sites = [Site("U", Tier.TERMINAL), Site("E", Tier.EDGE)]
    gpu = Accelerator(GPU, "T4", 2, {FP16: 60_000.0}, 16.0)
    hosts = [Node("g", "E", cpu_cores=32, mem_gib=64.0, accelerators=(gpu,))]
    topology = Topology(sites, hosts, links=[Link("u-e", "U", "E", 10_000.0, 1.0)])
    spec = TaskSpec(
        10.0, FP16, 1.0, 1.0, AcceleratorNeed(GPU, 1), ingress_site="U", task_class=TaskClass.HOT
    )
    state = ClusterState(topology)
    plan = place_batch(FIT_ONLY, state, batch(spec, 5))
    assert plan.placed == 2
    assert_ledger_holds(state, plan.placements)


@pytest.mark.parametrize("profile", ["cats-joint", "nearest", "green"])
def test_class_candidates_are_what_the_online_cycle_keeps(
    generated: tuple[Topology, list[Request]], profile: str
) -> None:
    """One evaluation per class sees exactly the survivors and estimates of the online cycle."""
    topology, requests = generated
    chosen = builtin_profiles()[profile]
    state = ClusterState(topology)
    evaluator = ClassEvaluator(ProfilePlugins(chosen, state))
    for group in group_classes(requests)[:12]:
        view = evaluator.evaluate(group)
        decision = Scheduler(chosen, ClusterState(topology)).schedule(requests[group.members[0]])
        assert decision.diagnosis.survivors == view.nodes.size
        if decision.placement is None:
            assert view.reason
            continue
        at = topology.arrays.node_ids.index(decision.placement.node_id)
        assert at in view.nodes.tolist()
        where = view.nodes.tolist().index(at)
        estimate = decision.placement.estimate
        assert view.network_ms[where] == pytest.approx(estimate.network_ms)
        assert view.compute_ms[where] == pytest.approx(estimate.compute_ms)
        assert view.cost[where] == pytest.approx(estimate.cost)
