"""A topology cut into scheduler shards by region, for scheduling beyond one control plane.

``cut_shards(topology)`` groups the sites by a key (their region code by default: on a generated
network a province's regional cloud, its edges, on-site boxes and terminals, plus a national hub
standing in that province), and gives each group that holds compute nodes its own ``Topology``:
its sites, their nodes, the network elements standing in them, and the links with both ends
inside the group. Every other link joins two shards (or a shard and a vertex of no shard: a
network element that stands in no site, or a group without nodes) and belongs to no shard; the
coordinator (``scheduling.coordinator``) reaches across them. A shard's border sites are its
sites at an end of a joining link (for an element, the site it stands in): where a task sent
over from another shard enters it.

The cut keeps each record as it is (ids, capacities, latencies); a shard's scheduler therefore
places on it exactly as it would on the whole network, only blind to everything outside.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from suanwang.model import Link, NetworkElement, Node, Site, Topology
from suanwang.routing import RoutingGraph
from suanwang.routing.graph import routing_graph
from suanwang.scheduling.state import ClusterState, NodeSiteArrays, site_arrays

ShardKey = Callable[[Site], str]
"""The shard a site belongs to, by name (sites with equal keys share a shard)."""


def region_key(site: Site) -> str:
    """A site's region code (``Site.region``), or ``-`` where it has none."""
    return site.region or "-"


@dataclass(slots=True)
class ShardState(ClusterState):
    """A shard's ``ClusterState`` that keeps its own site facts and routing graph.

    The plain state reads both from module caches of the last few topology versions; a
    coordinator's dozens of shards, asked in turn, would evict each other there and rebuild them
    on every decision. Each shard state so holds its own, rebuilt only when its topology (its
    version) or its measured link latencies change.
    """

    _own_sites: tuple[int, NodeSiteArrays] | None = None
    _own_graph: tuple[int, RoutingGraph] | None = None

    @property
    def sites(self) -> NodeSiteArrays:
        """Per-node site facts, kept for this state's topology version."""
        kept = self._own_sites
        if kept is None or kept[0] != self.topology.version:
            kept = self._own_sites = (self.topology.version, site_arrays(self.topology))
        return kept[1]

    def routing_graph(self) -> RoutingGraph:
        """The routing graph (see ``ClusterState.routing_graph``), kept per topology version."""
        if self.link_latency_ms() is not self.arrays.link_latency_ms:  # measured: kept there
            return ClusterState.routing_graph(self)
        kept = self._own_graph
        if kept is None or kept[0] != self.topology.version:
            kept = self._own_graph = (self.topology.version, routing_graph(self.topology))
        return kept[1]


@dataclass(frozen=True, slots=True)
class Shard:
    """One shard: a part of the network one scheduler places on.

    Attributes:
        id: The key its sites share (a region code by default).
        topology: Its sites, nodes, elements and inner links (a ``Topology`` of its own).
        border_sites: Its sites at an end of a joining link, sorted; empty when it joins no
            other shard.
    """

    id: str
    topology: Topology
    border_sites: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ShardCut:
    """A topology cut into shards.

    Attributes:
        shards: The shards that hold at least one node, ordered by id.
        shard_of_site: Shard index of every site in a shard (sites of node-less groups are in
            none: they can still be ingress sites, reached through the joining links).
        joining_links: Ids of the links that lie in no shard.
    """

    shards: tuple[Shard, ...]
    shard_of_site: Mapping[str, int]
    joining_links: tuple[str, ...]


def cut_shards(topology: Topology, key: ShardKey = region_key) -> ShardCut:
    """Cut ``topology`` into shards by ``key`` (see the module docstring).

    Raises:
        ValueError: The topology carries datasets (their replicas are not cut across shards),
            or no site holds a node (nothing to shard).
    """
    if topology.datasets:
        raise ValueError(
            f"topology carries {len(topology.datasets)} datasets: shards do not split replicas"
        )
    group_of_site = {site.id: key(site) for site in topology.sites.values()}
    with_nodes = {group_of_site[node.site_id] for node in topology.nodes.values()}
    if not with_nodes:
        raise ValueError("topology holds no node: there is nothing to shard")
    ids = sorted(with_nodes)
    index = {shard_id: i for i, shard_id in enumerate(ids)}
    shard_of_site = {site: index[group] for site, group in group_of_site.items() if group in index}
    vertex_shard, vertex_site = _vertices(topology, shard_of_site)
    sites: list[list[Site]] = [[] for _ in ids]
    for site in topology.sites.values():
        if site.id in shard_of_site:
            sites[shard_of_site[site.id]].append(site)
    nodes: list[list[Node]] = [[] for _ in ids]
    for node in topology.nodes.values():
        nodes[shard_of_site[node.site_id]].append(node)
    elements: list[list[NetworkElement]] = [[] for _ in ids]
    for element in topology.elements.values():
        if element.id in vertex_shard:
            elements[vertex_shard[element.id]].append(element)
    links: list[list[Link]] = [[] for _ in ids]
    borders: list[set[str]] = [set() for _ in ids]
    joining: list[str] = []
    for link in topology.links.values():
        a, b = vertex_shard.get(link.a), vertex_shard.get(link.b)
        if a is not None and a == b:
            links[a].append(link)
            continue
        joining.append(link.id)
        for end, shard in ((link.a, a), (link.b, b)):
            if shard is not None:
                borders[shard].add(vertex_site[end])
    policies = tuple(topology.data_policies.values())
    shards = tuple(
        Shard(
            shard_id,
            Topology(sites[i], nodes[i], elements[i], links[i], policies),
            tuple(sorted(borders[i])),
        )
        for i, shard_id in enumerate(ids)
    )
    return ShardCut(shards, shard_of_site, tuple(joining))


def _vertices(
    topology: Topology, shard_of_site: Mapping[str, int]
) -> tuple[dict[str, int], dict[str, str]]:
    """Shard of every vertex in a shard, and the site each stands for (an element's site)."""
    vertex_shard: dict[str, int] = dict(shard_of_site)
    vertex_site: dict[str, str] = {site: site for site in shard_of_site}
    for element in topology.elements.values():
        if element.site_id is not None and element.site_id in shard_of_site:
            vertex_shard[element.id] = shard_of_site[element.site_id]
            vertex_site[element.id] = element.site_id
    return vertex_shard, vertex_site
