"""A seeded generator of realistic tiered computing force networks, from 1 to 1,000,000 nodes.

``generate_scenario(nodes, seed)`` lays the tiers of DESIGN.md §1 over China: up to eight national
hubs of the "east data, west computing" programme (the west ones greener and cheaper), one
regional cloud per province, edge sites around the provincial capitals, on-site boxes around the
edges, and one terminal ingress site by each edge. The network is a tree with redundancy: hub
core routers form a backbone (a ring plus each hub's two nearest), every regional gateway is
dual-homed to its two nearest hubs and cross-linked to its nearest neighbour region, some edges
are dual-homed to a second region, and terminals reach both their edge and an on-site box.

Link latency is a per-tier access or equipment overhead plus the fibre delay of the great-circle
distance, chosen so that the round trips of DESIGN.md §9 hold from a terminal: on-site 1-5 ms,
edge 5-20 ms, region 20-40 ms. Everything is drawn in bulk from numpy's ``default_rng(seed)`` and
records are built in comprehensions: no per-node Python work beyond constructing the record.

The figures it draws from are ``generate_catalogue``, the records are collected by
``generate_build``'s ``_Builder``, and the task types, arrivals and services are
``generate_workload``.
"""

from __future__ import annotations

import re

import numpy as np

from suanwang.model import (
    ElementKind,
    FailureScope,
    InNetworkCompute,
    NetworkElement,
    Node,
    RandomFailures,
    Scenario,
    Tier,
    Topology,
)
from suanwang.scenario.errors import ScenarioError
from suanwang.scenario.generate_build import _Builder, _Layer, _pairwise_km
from suanwang.scenario.generate_catalogue import (
    _ACCESS_EDGE,
    _ACCESS_ONSITE,
    _BACKBONE,
    _CATALOGUE,
    _DUAL_HOMING_KM,
    _EDGE_PLAN,
    _EDGE_UP,
    _HUB_ENERGY,
    _HUB_PLAN,
    _HUBS,
    _ONSITE_PLAN,
    _ONSITE_UP,
    _OWNERS,
    _PLANS,
    _PROFILE_INDEX,
    _REGION_CROSS,
    _REGION_PLAN,
    _REGION_UP,
    _REGIONS,
    MAX_NODES,
    Floats,
    Ints,
    _TierPlan,
)
from suanwang.scenario.generate_workload import _DATA_POLICIES, _services, _workload

_NAME = re.compile(r"^[A-Za-z0-9_.:@/+-]{1,200}$")


def _split(nodes: int) -> list[int]:
    """Nodes per compute tier by share, by largest remainder (so that they sum to ``nodes``)."""
    raw = np.array([plan.share for plan in _PLANS]) * nodes
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: nodes - int(counts.sum())]] += 1
    return [int(c) for c in counts]


def _site_count(plan: _TierPlan, nodes: int) -> int:
    return min(plan.max_sites, -(-nodes // plan.nodes_per_site))


def _pairs(pairs: set[tuple[int, int]]) -> tuple[Ints, Ints]:
    ordered = sorted({(min(p), max(p)) for p in pairs})
    return np.array([p[0] for p in ordered], np.int64), np.array([p[1] for p in ordered], np.int64)


def _hubs(b: _Builder, count: int) -> _Layer:
    rows = _HUBS[:count]
    layer = _Layer(
        site_ids=[r[0] for r in rows],
        attach_ids=[f"{r[0]}-core" for r in rows],
        lat=np.array([r[2] for r in rows]),
        lon=np.array([r[3] for r in rows]),
        codes=[r[4] for r in rows],
        grids=[r[5] for r in rows],
        discount=np.array([0.8 if r[6] == "west" else 1.0 for r in rows]),
    )
    zones = [r[6] for r in rows]
    b.add_sites(
        Tier.HUB,
        layer,
        names=[r[1] for r in rows],
        labels=[(("zone", zone),) for zone in zones],
        energy=[_HUB_ENERGY[zone] for zone in zones],
    )
    b.elements.extend(
        NetworkElement(router, ElementKind.ROUTER, site)
        for router, site in zip(layer.attach_ids, layer.site_ids, strict=True)
    )
    b.lan(layer)
    # Backbone: a ring in table order plus each hub's two nearest hubs.
    nearest = np.argsort(_pairwise_km(layer, layer), axis=1)[:, 1:3].tolist()
    pairs = {(i, (i + 1) % count) for i in range(count) if count > 1}
    pairs.update((i, j) for i, near in enumerate(nearest) for j in near)
    i, j = _pairs(pairs)
    b.link(layer, i, layer, j, _BACKBONE)
    return layer


def _regions(b: _Builder, count: int, hubs: _Layer) -> _Layer:
    rows = _REGIONS[:count]
    ids = [f"reg-{r[0].lower()}" for r in rows]
    layer = _Layer(
        site_ids=ids,
        attach_ids=[f"{site}-gw" for site in ids],
        lat=np.array([r[2] for r in rows]),
        lon=np.array([r[3] for r in rows]),
        codes=[f"CN-{r[0]}" for r in rows],
        grids=[r[4] for r in rows],
    )
    b.add_sites(Tier.REGION, layer, names=[f"{r[1]} regional cloud" for r in rows])
    in_network = InNetworkCompute(cpu_cores=8, mem_gib=16.0, peak_gflops=400.0)
    b.elements.extend(
        NetworkElement(gateway, ElementKind.GATEWAY, site, compute=in_network)
        for gateway, site in zip(layer.attach_ids, ids, strict=True)
    )
    b.lan(layer)
    everyone = np.arange(count)
    to_hubs = np.argsort(_pairwise_km(layer, hubs), axis=1)
    for rank in range(min(2, len(hubs))):  # dual-homed to the two nearest hubs
        b.link(layer, everyone, hubs, to_hubs[:, rank], _REGION_UP)
    if count > 1:  # cross-linked to the nearest other region
        nearest = np.argsort(_pairwise_km(layer, layer), axis=1)[:, 1].tolist()
        i, j = _pairs(set(enumerate(nearest)))
        b.link(layer, i, layer, j, _REGION_CROSS)
    return layer


def _below(
    b: _Builder,
    tier: Tier,
    count: int,
    up: _Layer,
    *,
    km: tuple[float, float],
    weights: Floats | None = None,
    dual: float = 0.0,
    cover: bool = False,
) -> tuple[_Layer, Ints]:
    """``count`` sites of ``tier`` near parents drawn from ``up`` by weight, and the parents."""
    parent = b.rng.choice(len(up), count, p=weights).astype(np.int64)
    if cover:  # every parent gets one child first (while children last)
        first = min(count, len(up))
        parent[:first] = b.rng.permutation(len(up))[:first]
    lat, lon = b.near(up, parent, km)
    ids = [f"{tier.value}-{i}" for i in range(count)]
    up_of = parent.tolist()
    codes, grids = [up.codes[p] for p in up_of], [up.grids[p] for p in up_of]
    layer = _Layer(ids, ids, lat, lon, codes, grids)
    b.add_sites(tier, layer)
    everyone = np.arange(count)
    b.link(layer, everyone, up, parent, _EDGE_UP if tier is Tier.EDGE else _ONSITE_UP)
    if dual and len(up) > 1:  # some are dual-homed: also to the nearest other parent near by
        km_up = _pairwise_km(layer, up)
        km_up[everyone, parent] = np.inf
        second = np.argmin(km_up, axis=1)
        near_enough = km_up[everyone, second] <= _DUAL_HOMING_KM
        pick = np.flatnonzero((b.rng.random(count) < dual) & near_enough)
        b.link(layer, pick, up, second[pick], _EDGE_UP)
    return layer, parent


def _terminals(b: _Builder, edges: _Layer, onsite: _Layer | None, onsite_parent: Ints) -> _Layer:
    """One terminal ingress site by each edge, linked to it and to an on-site box under it."""
    count = len(edges)
    everyone = np.arange(count)
    lat, lon = b.near(edges, everyone, (1.0, 10.0))
    ids = [f"terminal-{i}" for i in range(count)]
    layer = _Layer(ids, ids, lat, lon, edges.codes, edges.grids)
    b.add_sites(Tier.TERMINAL, layer)
    b.link(layer, everyone, edges, everyone, _ACCESS_EDGE)
    if onsite is not None and len(onsite_parent):
        with_box, first_box = np.unique(onsite_parent, return_index=True)
        b.link(layer, with_box, onsite, first_box.astype(np.int64), _ACCESS_ONSITE)
    return layer


def _nodes(b: _Builder) -> tuple[list[Node], Ints]:
    """Nodes of every compute site, and their catalogue profiles; drawn in bulk per tier."""
    rng = b.rng
    site_ids: list[str] = []
    counts, profiles, owners, factors = [], [], [], []
    for layer, plan, n in b.compute:
        s = len(layer)
        weights = rng.lognormal(0.0, 0.5, s)
        counts.append(1 + rng.multinomial(n - s, weights / weights.sum()))
        names = [_PROFILE_INDEX[name] for name in plan.profiles]
        chances = np.array(list(plan.profiles.values()))
        profiles.append(rng.choice(names, n, p=chances / chances.sum()))
        owner_chances = np.array(plan.owners)
        owners.append(rng.choice(len(_OWNERS), s, p=owner_chances / owner_chances.sum()))
        factors.append(plan.price_factor * layer.discount * rng.uniform(0.95, 1.05, s))
        site_ids.extend(layer.site_ids)
    per_site = np.concatenate(counts)
    site_of = np.repeat(np.arange(len(site_ids)), per_site)
    total = len(site_of)
    local = np.arange(1, total + 1) - np.repeat(np.cumsum(per_site) - per_site, per_site)
    profile = np.concatenate(profiles).astype(np.int64)
    base = np.array([p.price_per_hour for p in _CATALOGUE])
    jitter = rng.uniform(0.97, 1.03, total)
    price = np.round(base[profile] * np.concatenate(factors)[site_of] * jitter, 2)
    fixed = [p.node_fields() for p in _CATALOGUE]
    labels = [(("profile", p.name),) for p in _CATALOGUE]
    owner_of = [_OWNERS[k] for k in np.concatenate(owners).tolist()]
    profile_of: list[int] = profile.tolist()
    rows = zip(site_of.tolist(), local.tolist(), profile_of, price.tolist(), strict=True)
    nodes = [
        Node(
            f"{site_ids[s]}-n{k}",
            site_ids[s],
            *fixed[p],
            owner_of[s][1],
            owner_of[s][0],
            c,
            labels[p],
        )
        for s, k, p, c in rows
    ]
    return nodes, profile


def _check(nodes: int, seed: int, name: str) -> None:
    if not 1 <= nodes <= MAX_NODES:
        raise ScenarioError(f"nodes must lie in [1, {MAX_NODES:,}]", path=("nodes",), value=nodes)
    if seed < 0:
        raise ScenarioError("seed must not be negative", path=("seed",), value=seed)
    if not _NAME.match(name):
        raise ScenarioError(
            "name must be 1-200 letters, digits or any of _.:@/+-", path=("name",), value=name
        )


def generate_scenario(nodes: int, seed: int = 0, name: str | None = None) -> Scenario:
    """A realistic tiered computing force network with exactly ``nodes`` compute nodes.

    Hubs, regions, edges and on-site sites hold 35/25/25/15 % of the nodes, about 25, 20, 12 and
    4 nodes a site (at most 8 hubs and 31 regions), and one terminal ingress site stands by each
    edge; tiny networks keep the upper tiers first (1 node: one hub). The same ``nodes`` and
    ``seed`` always give an equal scenario, and it dumps and loads back equal.

    Args:
        nodes: Number of compute nodes, 1 to 1,000,000.
        seed: Seed of numpy's ``default_rng``, non-negative.
        name: Scenario name; ``generated-{nodes}-s{seed}`` when None.

    Raises:
        ScenarioError: ``nodes``, ``seed`` or ``name`` is out of range.
    """
    name = f"generated-{nodes}-s{seed}" if name is None else name
    _check(nodes, seed, name)
    b = _Builder(np.random.default_rng(seed))
    per_tier = _split(nodes)
    up = _hubs(b, _site_count(_HUB_PLAN, per_tier[0]))
    hubs = up
    b.compute.append((hubs, _HUB_PLAN, per_tier[0]))
    weights = None
    if per_tier[1]:
        up = _regions(b, _site_count(_REGION_PLAN, per_tier[1]), hubs)
        b.compute.append((up, _REGION_PLAN, per_tier[1]))
        population = np.array([r[5] for r in _REGIONS[: len(up)]], dtype=np.float64)
        weights = population / population.sum()  # edges follow the people
    edges, onsite, onsite_parent = None, None, np.zeros(0, np.int64)
    if per_tier[2]:
        count = _site_count(_EDGE_PLAN, per_tier[2])
        edges, _ = _below(b, Tier.EDGE, count, up, km=(15.0, 250.0), weights=weights, dual=0.3)
        b.compute.append((edges, _EDGE_PLAN, per_tier[2]))
    if per_tier[3]:
        count = _site_count(_ONSITE_PLAN, per_tier[3])
        parents = up if edges is None else edges
        onsite, onsite_parent = _below(b, Tier.ONSITE, count, parents, km=(2.0, 30.0), cover=True)
        b.compute.append((onsite, _ONSITE_PLAN, per_tier[3]))
    if edges is None:  # too small for edges: one terminal by the lowest site there is
        edges, onsite = up.head(), None
    terminals = _terminals(b, edges, onsite, onsite_parent)
    node_list, profile = _nodes(b)
    compute_sites = sum(len(layer) for layer, _, _ in b.compute)
    return Scenario(
        name=name,
        topology=Topology(b.sites, node_list, b.elements, b.build_links(), _DATA_POLICIES),
        description=(
            f"Generated tiered computing force network: {nodes:,} nodes at {compute_sites:,} "
            f"compute sites and {len(terminals):,} terminal ingress site"
            f"{'s' if len(terminals) > 1 else ''} (seed {seed})."
        ),
        services=_services(node_list, profile),
        workload=_workload(b, terminals, len(hubs), seed),
        failures=(
            RandomFailures(FailureScope.NODES, mtbf_h=8_760.0, mttr_h=4.0, tier=Tier.ONSITE),
            RandomFailures(FailureScope.LINKS, mtbf_h=4_380.0, mttr_h=2.0),
        ),
        energy_profiles=dict(sorted(b.energy.items())),
    )
