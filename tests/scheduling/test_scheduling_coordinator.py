"""The global coordinator over scheduler shards: one shard per task, escalation bounded."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from suanwang.model import Link, Node, Precision, Site, TaskSpec, Tier, Topology
from suanwang.scenario.generate import generate_scenario
from suanwang.scheduling import resolve_profile
from suanwang.scheduling.coordinator import ShardCoordinator, meets_sla
from suanwang.scheduling.shards import cut_shards

FAST = {Precision.FP32: 1_000.0}


def chain(regions: int, cores: int = 4, access_ms: float = 1.0) -> Topology:
    """Terminal T in region R0; sites S0..Sk (one per region Rk, one node each), a chain.

    T-S0 ``access_ms``; S(k-1)-Sk 5 ms (joining links between regions).
    """
    sites = [Site("T", Tier.TERMINAL, region="R0")]
    sites += [Site(f"S{k}", Tier.EDGE, region=f"R{k}") for k in range(regions)]
    nodes = [
        Node(f"n{k}", f"S{k}", cpu_cores=cores, mem_gib=64, cpu_peak_gflops=FAST)
        for k in range(regions)
    ]
    links = [Link("T--S0", "T", "S0", 10_000.0, access_ms)]
    links += [
        Link(f"S{k - 1}--S{k}", f"S{k - 1}", f"S{k}", 10_000.0, 5.0) for k in range(1, regions)
    ]
    return Topology(sites, nodes, (), links)


def spec(cores: float = 2.0, **fields: object) -> TaskSpec:
    return dataclasses.replace(
        TaskSpec(0.001, cpu_cores=cores, mem_gib=1.0, ingress_site="T"), **fields
    )


def coordinator(topology: Topology, profile: str = "cats-joint", k: int = 3) -> ShardCoordinator:
    return ShardCoordinator(cut_shards(topology), topology, resolve_profile(profile), max_shards=k)


def test_tasks_fill_the_home_shard_first_then_the_next_nearest_then_are_refused() -> None:
    c = coordinator(chain(3, cores=4))
    landed = [c.place(f"t{i}", spec()) for i in range(7)]
    assert [d.shard for d in landed] == [0, 0, 1, 1, 2, 2, None]
    assert landed[2].asked == (0, 1)
    assert landed[4].asked == (0, 2)  # shard 1 is full by the summary: not asked
    assert landed[6].asked == (0,)  # the summary says no other shard has two free cores
    assert landed[6].decision.placement is None
    assert not landed[6].decision.status.ok
    # Sent over: it entered shard 1 at its gateway, the round trip to there added.
    assert landed[2].spec.ingress_site == "S1"
    assert landed[2].spec.fixed_latency_ms == pytest.approx(2 * (1.0 + 5.0), abs=1e-6)
    assert landed[2].decision.placement is not None
    assert landed[2].decision.placement.node_id == "n1"
    assert c.free_cores.tolist() == [0.0, 0.0, 0.0]


def test_escalation_asks_at_most_max_shards_shards() -> None:
    # Only R3's node may take it (residency); shards 1 and 2 have the cores, and refuse.
    topology = chain(4, cores=4)
    only_r3 = spec(residency=("R3",))
    narrow = coordinator(topology, k=2)
    refused = narrow.place("t", only_r3)
    assert refused.shard is None
    assert refused.asked == (0, 1)
    assert not refused.decision.status.ok
    assert refused.decision.placement is None
    assert all(len(state.reservations) == 0 for state in narrow.states)
    assert coordinator(topology, k=3).place("t", only_r3).asked == (0, 1, 2)
    wide = coordinator(topology, k=4).place("t", only_r3)
    assert wide.shard == 3
    assert wide.asked == (0, 1, 2, 3)
    assert wide.spec.fixed_latency_ms == pytest.approx(2 * (1.0 + 3 * 5.0), abs=1e-6)


def test_release_gives_the_capacity_back_in_the_shard_that_held_it() -> None:
    c = coordinator(chain(2, cores=4))
    for i in range(3):
        c.place(f"t{i}", spec())
    assert c.shard_of("t2") == 1
    assert c.free_cores.tolist() == [0.0, 2.0]
    c.release("t2")
    c.release("t2")  # idempotent
    assert c.shard_of("t2") is None
    assert c.free_cores.tolist() == [0.0, 4.0]
    assert "t2" not in c.states[1].reservations
    c.release("t0")
    assert c.place("again", spec()).shard == 0


def test_a_placement_missing_its_sla_at_home_is_traded_for_one_that_meets_it() -> None:
    # Home is 30 ms away (60 ms round trip): "nearest" (no SLA filter) places there anyway.
    sites = [Site("T", Tier.TERMINAL, region="R0"), Site("A", Tier.EDGE, region="R0")]
    sites.append(Site("B", Tier.EDGE, region="R1"))
    nodes = [
        Node("na", "A", cpu_cores=4, mem_gib=8, cpu_peak_gflops=FAST),
        Node("nb", "B", cpu_cores=4, mem_gib=8, cpu_peak_gflops=FAST),
    ]
    links = [Link("T--A", "T", "A", 1_000.0, 30.0), Link("T--B", "T", "B", 1_000.0, 1.0)]
    topology = Topology(sites, nodes, (), links)
    c = coordinator(topology, profile="nearest")
    tight = spec(latency_budget_ms=20.0)
    outcome = c.place("t", tight)
    assert outcome.shard == 1
    assert outcome.asked == (0, 1)
    assert outcome.decision.placement is not None
    assert meets_sla(outcome.spec, outcome.decision.placement.estimate)
    assert "t" not in c.states[0].reservations
    assert "t" in c.states[1].reservations
    assert c.free_cores.tolist() == [4.0, 2.0]
    # Where nothing meets it, the first placement made is kept (and nothing else is held).
    loose = coordinator(topology, profile="nearest", k=1)
    kept = loose.place("t", tight)
    assert kept.shard == 0
    assert kept.decision.placement is not None
    assert not meets_sla(kept.spec, kept.decision.placement.estimate)


def test_bad_arguments_name_the_field_and_value() -> None:
    topology = chain(2)
    with pytest.raises(ValueError, match="max_shards must be at least 1, got 0"):
        coordinator(topology, k=0)
    c = coordinator(topology)
    with pytest.raises(ValueError, match=r"ingress_site 'S1'"):
        c.place("t", spec(ingress_site="S1"))
    c.place("t", spec())
    with pytest.raises(ValueError, match="'t' is already placed in shard 0"):
        c.place("t", spec())


def test_an_ingress_no_shard_can_be_reached_from_is_refused_by_name() -> None:
    sites = [Site("T", Tier.TERMINAL, region="X"), Site("A", Tier.EDGE, region="Y")]
    topology = Topology(sites, [Node("n", "A", cpu_cores=4, mem_gib=8, cpu_peak_gflops=FAST)])
    c = coordinator(topology)
    with pytest.raises(ValueError, match="no shard to ask for ingress 'T'"):
        c.place("t", spec())


def test_generated_network_every_task_lands_in_one_shard_on_its_nodes_within_capacity() -> None:
    scenario = generate_scenario(1_500, seed=4)
    topology = scenario.topology
    cut = cut_shards(topology)
    c = ShardCoordinator(cut, topology, resolve_profile("cats-joint"), scenario.services)
    rng = np.random.default_rng(7)
    terminals = [s.id for s in topology.sites.values() if s.tier is Tier.TERMINAL]
    types = scenario.workload.task_types
    held: list[str] = []
    placed = 0
    for i in range(400):
        kind = types[int(rng.integers(len(types)))].spec
        task = dataclasses.replace(kind, ingress_site=terminals[int(rng.integers(len(terminals)))])
        outcome = c.place(f"t{i}", task)
        assert 1 <= len(outcome.asked) <= c.max_shards
        assert len(set(outcome.asked)) == len(outcome.asked)
        holding = [k for k, state in enumerate(c.states) if f"t{i}" in state.reservations]
        if outcome.shard is None:
            assert holding == []
        else:
            placed += 1
            held.append(f"t{i}")
            assert holding == [outcome.shard]
            assert outcome.decision.placement is not None
            node = outcome.decision.placement.node_id
            assert node in cut.shards[outcome.shard].topology.nodes
        if held and rng.random() < 0.3:
            c.release(held.pop(int(rng.integers(len(held)))))
        for k, state in enumerate(c.states):
            reserved = state.reservations.cpu_cores
            assert (reserved <= state.arrays.node_cpu_cores + 1e-9).all()
            free = state.arrays.node_cpu_cores.sum() - reserved.sum()
            assert c.free_cores[k] == pytest.approx(free)
    assert placed > 0
    assert len(c) == len(held)
