"""Generated quality instances: seeded, varied in shape and load, and the optimum above all rows."""

from __future__ import annotations

from collections import Counter

import pytest

from suanwang.model import Tier
from suanwang.scheduling import ClusterState, builtin_profiles
from suanwang.scheduling.batch import evaluate, place_batch, place_online, solve_optimum
from suanwang.scheduling.batch.instances import (
    LOADS,
    SHAPES,
    generate_instance,
    instance_suite,
)


def test_same_seed_same_instance() -> None:
    a, b = generate_instance(7), generate_instance(7)
    assert a.name == b.name
    assert [r.spec for r in a.requests] == [r.spec for r in b.requests]
    assert a.topology.nodes == b.topology.nodes
    assert a.topology.links == b.topology.links


def test_instances_span_the_sizes_shapes_and_loads() -> None:
    suite = instance_suite(12)
    assert {(i.shape, i.load) for i in suite} == {(s, lo) for s in SHAPES for lo in LOADS}
    for instance in suite:
        topology = instance.topology
        assert 20 <= len(topology.nodes) <= 60
        assert 100 <= len(instance.requests) <= 300
        tiers = Counter(site.tier for site in topology.sites.values())
        assert tiers[Tier.TERMINAL] >= 2
        assert len({r.spec.task_class for r in instance.requests}) >= 2
    link_counts = {i.shape: len(i.topology.links) for i in suite}
    assert len(set(link_counts.values())) > 1  # shapes differ in links, not only in name


def test_parallel_shape_has_parallel_links_and_trees_have_none_in_the_core() -> None:
    def pairs(instance_shape: str, seed: int) -> Counter[frozenset[str]]:
        topology = generate_instance(seed, shape=instance_shape).topology
        return Counter(frozenset((link.a, link.b)) for link in topology.links.values())

    assert any(max(pairs("parallel", seed).values()) > 1 for seed in range(3))
    assert all(max(pairs("tree", seed).values()) == 1 for seed in range(3))


def test_load_sets_capacity_against_demand() -> None:
    def cores(load: str) -> float:
        instance = generate_instance(3, shape="mesh", load=load)
        return sum(n.cpu_cores for n in instance.topology.nodes.values() if not n.accelerators)

    assert cores("under") > cores("at") > cores("over")


@pytest.mark.parametrize("seed", range(4))
def test_the_optimum_meets_at_least_every_row(seed: int) -> None:
    instance = generate_instance(seed, shape=SHAPES[seed % len(SHAPES)], tasks=60)
    topology, requests = instance.topology, list(instance.requests)
    optimum = solve_optimum(ClusterState(topology), requests, least_price=False)
    assert optimum.optimal, instance.name
    best = evaluate(topology, requests, optimum.placements).sla_met
    assert best == optimum.sla_met == optimum.upper_bound
    for name, profile in builtin_profiles().items():
        online = place_online(profile, ClusterState(topology), requests)
        assert evaluate(topology, requests, online).sla_met <= best, (instance.name, name)
    flow = place_batch(builtin_profiles()["cats-joint"], ClusterState(topology), requests)
    assert evaluate(topology, requests, flow.placements).sla_met <= best
