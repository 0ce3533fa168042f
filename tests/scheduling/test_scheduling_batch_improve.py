"""Local improvement of a batch placement: insertion and ejection moves, never a loss."""

from __future__ import annotations

import dataclasses

import pytest

from suanwang.model import Link, Node, Placement, Precision, Site, TaskSpec, Tier, Topology
from suanwang.scheduling import ClusterState, Profile, Request, Scheduler, builtin_profiles
from suanwang.scheduling.batch import FlowOptions, SlaCheck, evaluate, place_batch
from suanwang.scheduling.batch.improve import EJECTED, ImproveOptions, improve_placements
from suanwang.scheduling.batch.instances import generate_instance

FP32 = Precision.FP32
NEAR_WITHIN_SLA = Profile(
    "near-within-sla",
    filters=("node-health", "resource-fit", "latency-budget"),
    scores={"nearest": 1.0},
)


def edge_and_hub(hub_cores: int = 4) -> Topology:
    """An ingress U, an edge E 1 ms away (one 4-core node), a hub H 20 ms behind E."""
    sites = [
        Site("U", Tier.TERMINAL, region="CN-GD"),
        Site("E", Tier.EDGE, region="CN-GD"),
        Site("H", Tier.HUB, region="CN-GD"),
    ]
    nodes = [
        Node("e0", "E", cpu_cores=4, mem_gib=64.0, cpu_peak_gflops={FP32: 1_000.0}),
        Node("h0", "H", cpu_cores=hub_cores, mem_gib=64.0, cpu_peak_gflops={FP32: 1_000.0}),
    ]
    links = [Link("u-e", "U", "E", 10_000.0, 1.0), Link("e-h", "E", "H", 10_000.0, 20.0)]
    return Topology(sites, nodes, links=links)


FLEXIBLE = TaskSpec(1.0, FP32, 4.0, 1.0, ingress_site="U", task_type="flexible")
TIGHT = TaskSpec(1.0, FP32, 1.0, 1.0, ingress_site="U", latency_budget_ms=15.0, task_type="tight")
"""Only the edge meets TIGHT's budget (2 ms round trip + 10 ms compute on one core of four)."""


def placed_online(scheduler: Scheduler, requests: list[Request]) -> list[Placement | None]:
    return [scheduler.schedule(request).placement for request in requests]


def test_a_flexible_task_is_moved_off_the_node_four_tight_tasks_need() -> None:
    state = ClusterState(edge_and_hub())
    scheduler = Scheduler(NEAR_WITHIN_SLA, state)
    requests = [Request("big", FLEXIBLE)] + [Request(f"t{i}", TIGHT) for i in range(4)]
    placements = placed_online(scheduler, requests)
    assert [p and p.node_id for p in placements] == ["e0", None, None, None, None]
    stats = improve_placements(scheduler, requests, placements)
    assert [p and p.node_id for p in placements] == ["h0", "e0", "e0", "e0", "e0"]
    assert stats.gained == 4
    assert stats.moves_kept == 1
    assert evaluate(state.topology, requests, placements).sla_met == 5
    assert len(state.reservations) == 5
    assert all(state.reservations.held(r.task_id) is not None for r in requests)


def test_a_move_that_gains_nothing_is_undone_exactly() -> None:
    # The hub is too small for the flexible task: ejecting it serves one tight task and loses
    # the flexible one, no gain, so the pass must leave the placement and its hold as they were.
    state = ClusterState(edge_and_hub(hub_cores=2))
    scheduler = Scheduler(NEAR_WITHIN_SLA, state)
    requests = [Request("big", FLEXIBLE), Request("t0", TIGHT)]
    placements = placed_online(scheduler, requests)
    before = list(placements)
    held = state.reservations.held("big")
    reasons: dict[str, str] = {"t0": "no node can take the task"}
    stats = improve_placements(scheduler, requests, placements, reasons=reasons)
    assert placements == before
    assert stats.moves_tried == 1
    assert stats.moves_kept == stats.gained == 0
    assert state.reservations.held("big") == held
    assert len(state.reservations) == 1
    assert reasons == {"t0": "no node can take the task"}


def test_the_pass_never_lowers_the_sla_count_and_keeps_the_ledger_exact() -> None:
    # parallel/over/111 of the gap benchmark: frames of one terminal hold bandwidth and GPUs
    # that the other's frames need; the pass must add SLAs there, and lose none anywhere.
    cats = builtin_profiles()["cats-joint"]
    gained = 0
    for seed, shape, load in ((111, "parallel", "over"), (2, "ring-chords", "over")):
        instance = generate_instance(seed, shape=shape, load=load)
        requests, topology = list(instance.requests), instance.topology
        plain_options = FlowOptions(improve=None)
        plain = place_batch(cats, ClusterState(topology), requests, options=plain_options)
        state = ClusterState(topology)
        plan = place_batch(cats, state, requests)
        met = evaluate(topology, requests, plan.placements).sla_met
        met_plain = evaluate(topology, requests, plain.placements).sla_met
        assert met >= met_plain
        assert plan.stats.improved == met - met_plain
        gained += met - met_plain
        placed = {p.task_id: p.node_id for p in plan.placements if p is not None}
        assert len(state.reservations) == len(placed)
        for task_id, node_id in placed.items():
            hold = state.reservations.held(task_id)
            assert hold is not None
            assert state.arrays.node_ids[hold.node] == node_id
        for request, placement in zip(requests, plan.placements, strict=True):
            assert (placement is None) == (request.task_id in plan.reasons)
    assert gained >= 3


def test_ejected_tasks_are_told_why() -> None:
    state = ClusterState(edge_and_hub(hub_cores=2))
    scheduler = Scheduler(NEAR_WITHIN_SLA, state)
    requests = [Request("big", FLEXIBLE)] + [Request(f"t{i}", TIGHT) for i in range(4)]
    placements = placed_online(scheduler, requests)
    reasons = {f"t{i}": "no room" for i in range(4)}
    improve_placements(scheduler, requests, placements, reasons=reasons)
    assert placements[0] is None
    assert all(p is not None for p in placements[1:])
    assert reasons == {"big": EJECTED}
    assert SlaCheck(state.topology)(TIGHT, placements[1])


def test_a_batch_over_the_size_bound_is_left_as_it_is() -> None:
    state = ClusterState(edge_and_hub())
    scheduler = Scheduler(NEAR_WITHIN_SLA, state)
    requests = [Request("big", FLEXIBLE)] + [Request(f"t{i}", TIGHT) for i in range(4)]
    placements = placed_online(scheduler, requests)
    stats = improve_placements(scheduler, requests, placements, ImproveOptions(max_tasks=4))
    assert stats.moves_tried == 0
    assert [p and p.node_id for p in placements][1:] == [None] * 4


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_victims", -1), ("beneficiaries", 0), ("time_budget_s", -1.0), ("max_tasks", -1)],
)
def test_bad_bounds_are_refused_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"{field}.*{value}"):
        dataclasses.replace(ImproveOptions(), **{field: value})


def test_placements_of_another_length_are_refused() -> None:
    state = ClusterState(edge_and_hub())
    with pytest.raises(ValueError, match="2 requests but 1 placements"):
        improve_placements(
            Scheduler(NEAR_WITHIN_SLA, state),
            [Request("a", TIGHT), Request("b", TIGHT)],
            [None],
        )
