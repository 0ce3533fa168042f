"""Cutting a topology into scheduler shards by region, and the shards' own caches."""

from __future__ import annotations

import pytest

from suanwang.model import Dataset, Node, Site, Tier, Topology
from suanwang.routing.graph import GRAPH_CACHE_SIZE, routing_graph
from suanwang.scenario.generate import generate_scenario
from suanwang.scheduling.shards import ShardState, cut_shards
from suanwang.scheduling.state import site_arrays


def test_a_generated_network_is_cut_into_one_shard_per_region_holding_every_node_once() -> None:
    topology = generate_scenario(2_000, seed=3).topology
    cut = cut_shards(topology)
    ids = [shard.id for shard in cut.shards]
    assert ids == sorted(set(ids))
    assert len(ids) > 1
    seen: dict[str, str] = {}
    for shard in cut.shards:
        for node in shard.topology.nodes.values():
            assert node.id not in seen, f"{node.id} in {seen.get(node.id)} and {shard.id}"
            seen[node.id] = shard.id
            assert topology.sites[node.site_id].region == shard.id
    assert set(seen) == set(topology.nodes)
    inner = [link for shard in cut.shards for link in shard.topology.links]
    assert len(inner) == len(set(inner))
    assert sorted([*inner, *cut.joining_links]) == sorted(topology.links)
    for shard in cut.shards:
        for site in shard.border_sites:
            assert cut.shard_of_site[site] == cut.shards.index(shard)

    # A joining link's ends lie in two shards, or one of them in none.
    def shard_of(vertex: str) -> int | None:
        element = topology.elements.get(vertex)
        site = vertex if element is None else element.site_id
        return None if site is None else cut.shard_of_site.get(site)

    for link_id in cut.joining_links:
        link = topology.links[link_id]
        a, b = shard_of(link.a), shard_of(link.b)
        assert a != b or a is None
        for end, shard in ((link.a, a), (link.b, b)):
            if shard is not None:
                element = topology.elements.get(end)
                site = end if element is None else element.site_id
                assert site in cut.shards[shard].border_sites


def test_a_shard_keeps_the_records_as_they_are() -> None:
    topology = generate_scenario(500, seed=1).topology
    for shard in cut_shards(topology).shards:
        for node_id, node in shard.topology.nodes.items():
            assert node is topology.nodes[node_id]
        for link_id, link in shard.topology.links.items():
            assert link is topology.links[link_id]
        assert shard.topology.data_policies.keys() == topology.data_policies.keys()


def test_groups_without_nodes_are_no_shard_and_their_sites_in_none() -> None:
    topology = Topology(
        [Site("T", Tier.TERMINAL, region="X"), Site("A", Tier.EDGE, region="Y")],
        [Node("n", "A", cpu_cores=4, mem_gib=8)],
    )
    cut = cut_shards(topology)
    assert [shard.id for shard in cut.shards] == ["Y"]
    assert "T" not in cut.shard_of_site
    assert cut.shard_of_site["A"] == 0


def test_datasets_and_empty_networks_are_refused_with_the_reason() -> None:
    site = Site("A", Tier.EDGE, region="Y")
    with_data = Topology(
        [site], [Node("n", "A", cpu_cores=4, mem_gib=8)], datasets=[Dataset("d", 10.0, ("A",))]
    )
    with pytest.raises(ValueError, match="1 datasets"):
        cut_shards(with_data)
    with pytest.raises(ValueError, match="no node"):
        cut_shards(Topology([site]))


def test_a_shard_state_keeps_its_graph_and_site_facts_while_other_topologies_come_and_go() -> None:
    shards = cut_shards(generate_scenario(500, seed=2).topology).shards
    state = ShardState(shards[0].topology)
    graph, facts = state.routing_graph(), state.sites
    for other in shards[1 : 2 + 2 * GRAPH_CACHE_SIZE]:  # more than the module caches keep
        routing_graph(other.topology)
        site_arrays(other.topology)
    assert state.routing_graph() is graph
    assert state.sites is facts
    state.set_link_latency(state.arrays.link_latency_ms * 2)
    assert state.routing_graph() is not graph  # measured latencies: a graph of their own
