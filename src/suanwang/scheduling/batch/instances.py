"""Seeded instances for measuring placement quality: shapes, loads and class mixes that differ.

An instance is a topology and a batch. Terminal sites are the ingresses (no nodes); compute
sites (edges, one or two regions, a hub) hold 20-60 nodes of CPU and GPU kinds. The compute
sites are joined in one of four shapes:

* ``ring-chords``: a ring with one to three chords;
* ``tree``: each site hangs off an earlier one (the hub is the root);
* ``mesh``: each pair joined with probability one half, over a path that keeps it connected;
* ``parallel``: a ring where some neighbours, and some terminals, have two links (different
  latency and bandwidth), so that routing by latency alone leaves bandwidth unused.

A batch has 100-300 tasks drawn from four types (GPU frames and CPU control loops: hot, tight
budgets, bandwidth reserved; analytics: warm, some with a trust level or residency; jobs:
cold, heavy, some with a deadline or a price), mixed in proportions drawn per instance. The
load sets capacity against demand: ``under`` (about 0.6 of it asked for), ``at`` (1.0) and
``over`` (1.6); node cores and devices, and link bandwidth out of terminals, are sized from
the batch's demand with a random spread, so what binds differs from instance to instance.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from suanwang.model import (
    Accelerator,
    AcceleratorKind,
    AcceleratorNeed,
    Arrivals,
    Link,
    Node,
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
from suanwang.scheduling.batch.requests import draw_batch
from suanwang.scheduling.cycle import required_bandwidth_mbps
from suanwang.scheduling.framework import Request

SHAPES = ("ring-chords", "tree", "mesh", "parallel")
LOADS = {"under": 0.6, "at": 1.0, "over": 1.6}
"""Demand over capacity of each load level."""
FP32, FP16, GPU = Precision.FP32, Precision.FP16, AcceleratorKind.GPU


@dataclass(frozen=True, slots=True)
class Instance:
    """One generated instance.

    Attributes:
        name: ``shape/load/seed``.
        shape: One of ``SHAPES``.
        load: One of ``LOADS``.
        seed: The seed it was drawn from.
        topology: The network and nodes.
        requests: The batch, in arrival order.
    """

    name: str
    shape: str
    load: str
    seed: int
    topology: Topology
    requests: tuple[Request, ...]


def instance_suite(count: int, seed: int = 0) -> list[Instance]:
    """``count`` instances cycling through every (shape, load), seeds ``seed``, ``seed + 1``..."""
    combos = list(itertools.product(SHAPES, LOADS))
    return [
        generate_instance(
            seed + i, shape=combos[i % len(combos)][0], load=combos[i % len(combos)][1]
        )
        for i in range(count)
    ]


def generate_instance(
    seed: int, *, shape: str | None = None, load: str | None = None, tasks: int | None = None
) -> Instance:
    """A seeded instance (the same for one seed, shape, load and size).

    Args:
        seed: Seed of numpy's ``default_rng``.
        shape: One of ``SHAPES`` (default: drawn).
        load: One of ``LOADS`` (default: drawn).
        tasks: Batch size (default: drawn in 100-300).

    Raises:
        ValueError: unknown shape or load, or ``tasks < 1``.
    """
    rng = np.random.default_rng(seed)
    shape = shape or str(rng.choice(SHAPES))
    load = load or str(rng.choice(list(LOADS)))
    if shape not in SHAPES or load not in LOADS:
        raise ValueError(f"unknown shape {shape!r} or load {load!r}")
    tasks = int(rng.integers(100, 301)) if tasks is None else tasks
    if tasks < 1:
        raise ValueError("an instance has at least one task")
    sites, terminals = _sites(rng)
    workload = _workload(rng, terminals)
    requests = draw_batch(workload, tasks, seed=seed)
    ratio = LOADS[load]
    nodes = _nodes(rng, sites, requests, ratio)
    links = _core_links(rng, shape, [s.id for s in sites if s.tier is not Tier.TERMINAL])
    links += _access_links(
        rng, shape, sites=sites, terminals=terminals, requests=requests, ratio=ratio
    )
    topology = Topology(sites, nodes, links=links)
    return Instance(f"{shape}/{load}/{seed}", shape, load, seed, topology, tuple(requests))


def _sites(rng: np.random.Generator) -> tuple[list[Site], list[str]]:
    terminals = [f"term-{i}" for i in range(int(rng.integers(2, 4)))]
    edges = int(rng.integers(2, 6))
    regions = int(rng.integers(1, 3))
    sites = [Site(t, Tier.TERMINAL, region="CN-GD") for t in terminals]
    sites += [Site(f"edge-{i}", Tier.EDGE, region="CN-GD" if i % 2 else "CN-SH")
              for i in range(edges)]  # fmt: skip
    sites += [Site(f"region-{i}", Tier.REGION, region="CN-GD") for i in range(regions)]
    sites.append(Site("hub", Tier.HUB, region="CN-NM"))
    return sites, terminals


def _workload(rng: np.random.Generator, terminals: list[str]) -> Workload:
    mix = rng.dirichlet(np.ones(4) * 1.5)
    # Work is sized from the budget at the rate one task gets on a generated CPU node (200
    # GFLOPS per core at 0.4 of peak for inference): compute takes a fifth to three fifths of
    # the budget, so what decides a placement is the network and the load, not the work alone.
    per_core_gflops = 200.0 * 0.4 / 1000.0  # per ms
    control_ms, analytics_ms = float(rng.uniform(15, 40)), float(rng.uniform(80, 300))
    analytics_cores = float(rng.choice([2.0, 4.0]))
    job_work, job_data = float(rng.uniform(1e4, 8e4)), float(rng.uniform(10, 200))
    # A price near what a job typically costs (compute at 0.06 per core-hour, transfer over a
    # few hops), so the budget turns some nodes and paths away.
    job_price = (0.06 * job_work / (0.7 * 200.0 * 3600.0) + 0.03 * job_data / 1000.0) * float(
        rng.uniform(0.8, 2.0)
    )
    frame = TaskSpec(
        float(rng.uniform(20, 80)), FP16, 1.0, 2.0, AcceleratorNeed(GPU, 1, 8.0),
        float(rng.uniform(0.3, 1.2)), 0.1, latency_budget_ms=float(rng.uniform(20, 45)),
        task_class=TaskClass.HOT, task_type="frame",
    )  # fmt: skip
    control = TaskSpec(
        control_ms * per_core_gflops * float(rng.uniform(0.2, 0.6)), FP32, 1.0, 1.0, None,
        float(rng.uniform(0.05, 0.3)), 0.02, latency_budget_ms=control_ms,
        task_class=TaskClass.HOT, task_type="control",
    )  # fmt: skip
    analytics = TaskSpec(
        analytics_ms * per_core_gflops * analytics_cores * float(rng.uniform(0.2, 0.6)), FP32,
        analytics_cores, 4.0, None, float(rng.uniform(0.5, 4.0)), 0.1,
        latency_budget_ms=analytics_ms, task_class=TaskClass.WARM, task_type="analytics",
        min_trust_level=TrustLevel.VERIFIED if rng.random() < 0.5 else TrustLevel.UNTRUSTED,
        residency=("CN-GD",) if rng.random() < 0.3 else (),
    )  # fmt: skip
    job = TaskSpec(
        job_work, FP32, float(rng.choice([4.0, 8.0, 16.0])), 16.0, None, job_data, 1.0,
        task_class=TaskClass.COLD, task_type="job",
        deadline_s=float(rng.uniform(300, 3600)) if rng.random() < 0.5 else None,
        budget=job_price if rng.random() < 0.5 else None,
    )  # fmt: skip
    types = [TaskType(s.task_type or "", s) for s in (frame, control, analytics, job)]
    arrivals = []
    for task_type, share in zip(types, mix, strict=True):
        weights = rng.uniform(0.5, 2.0, len(terminals))
        ingress = tuple((t, float(w)) for t, w in zip(terminals, weights, strict=True))
        arrivals.append(Arrivals(task_type.name, rate_per_s=float(share) + 1e-3, ingress=ingress))
    return Workload(tuple(types), tuple(arrivals))


def _nodes(
    rng: np.random.Generator, sites: list[Site], requests: list[Request], ratio: float
) -> list[Node]:
    """20-60 nodes over the compute sites, sized so that demand / capacity is about ``ratio``."""
    compute = [s for s in sites if s.tier is not Tier.TERMINAL]
    count = int(rng.integers(20, 61))
    weight = np.array([{Tier.EDGE: 1.0, Tier.REGION: 2.0, Tier.HUB: 2.5}[s.tier] for s in compute])
    at = rng.choice(len(compute), size=count, p=weight / weight.sum())
    gpu = rng.random(count) < 0.35
    size = rng.uniform(0.5, 1.5, count)
    specs = [r.spec for r in requests]
    want_cores = sum(s.cpu_cores for s in specs if s.accelerator is None)
    want_devices = sum(s.accelerator.count for s in specs if s.accelerator is not None)
    cpu_share = size * ~gpu
    gpu_share = size * gpu
    # Capacity spread in proportion to size, with a spread per node: demand / capacity ~ ratio.
    cores = np.maximum(2, np.rint(want_cores / ratio * cpu_share / max(cpu_share.sum(), 1e-9)))
    devices = np.maximum(1, np.rint(want_devices / ratio * gpu_share / max(gpu_share.sum(), 1e-9)))
    nodes = []
    for i in range(count):
        site = compute[int(at[i])]
        trust = TrustLevel.VERIFIED if rng.random() < 0.6 else TrustLevel.BASIC
        premium = 1.6 if site.tier is Tier.EDGE else 1.0  # edge capacity is dearer
        if gpu[i]:
            n_devices = int(devices[i])
            card = (
                Accelerator(GPU, "T4", n_devices, {FP16: 60_000.0, FP32: 8_000.0}, 16.0, 70.0)
                if site.tier is Tier.EDGE
                else Accelerator(GPU, "A10", n_devices, {FP16: 120e3, FP32: 30e3}, 24.0, 150.0)
            )
            n_cores = 4 * n_devices + 4
            node = Node(
                f"{site.id}-g{i}",
                site.id,
                cpu_cores=n_cores,
                mem_gib=4.0 * n_cores,
                peak_power_w=300.0 + 100.0 * n_devices,
                accelerators=(card,),
                price_per_hour=0.4 * premium * n_devices,
                trust_level=trust,
            )
        else:
            n_cores = int(cores[i])
            node = Node(
                f"{site.id}-c{i}",
                site.id,
                cpu_cores=n_cores,
                mem_gib=4.0 * n_cores,
                cpu_peak_gflops={FP32: 200.0 * n_cores, FP16: 200.0 * n_cores},
                peak_power_w=10.0 * n_cores,
                price_per_hour=float(rng.uniform(0.03, 0.08)) * premium * n_cores,
                trust_level=trust,
            )
        nodes.append(node)
    return nodes


def _core_links(rng: np.random.Generator, shape: str, ids: list[str]) -> list[Link]:
    """The compute sites joined in ``shape``."""
    n = len(ids)
    pairs: list[tuple[int, int]] = []
    if shape in {"ring-chords", "parallel"}:
        pairs = [(i, (i + 1) % n) for i in range(n)]
        if shape == "ring-chords":
            chords = [
                (i, j) for i in range(n) for j in range(i + 2, n) if (j - i) % n not in {1, n - 1}
            ]
            for k in rng.permutation(len(chords))[: int(rng.integers(1, 4))].tolist():
                pairs.append(chords[k])
    elif shape == "tree":
        order = [ids.index("hub"), *[i for i in range(n) if ids[i] != "hub"]]
        pairs = [(order[k], order[int(rng.integers(0, k))]) for k in range(1, n)]
    else:  # mesh
        pairs = [(i, i + 1) for i in range(n - 1)]
        pairs += [(i, j) for i in range(n) for j in range(i + 2, n) if rng.random() < 0.5]
    links = []
    for k, (i, j) in enumerate(pairs):
        links.append(
            _link(
                rng,
                f"core-{k}",
                (ids[i], ids[j]),
                latency_ms=(2.0, 12.0),
                bandwidth_mbps=(2e3, 12e3),
            )
        )
        if shape == "parallel" and rng.random() < 0.5:  # a second, slower, wider link
            links.append(
                _link(
                    rng,
                    f"core-{k}b",
                    (ids[i], ids[j]),
                    latency_ms=(8.0, 20.0),
                    bandwidth_mbps=(4e3, 2e4),
                )
            )
    return links


def _access_links(
    rng: np.random.Generator,
    shape: str,
    *,
    sites: list[Site],
    terminals: list[str],
    requests: list[Request],
    ratio: float,
) -> list[Link]:
    """Each terminal to one or two edges, sized from what its tasks reserve."""
    edges = [s.id for s in sites if s.tier is Tier.EDGE]
    links = []
    for t in terminals:
        wanted = sum(required_bandwidth_mbps(r.spec) for r in requests if r.spec.ingress_site == t)
        spread = float(rng.uniform(0.7, 1.6))
        total = max(200.0, wanted / (ratio * spread))
        picks = rng.choice(len(edges), size=min(len(edges), int(rng.integers(1, 3))), replace=False)
        for k, e in enumerate(picks.tolist()):
            share = total / picks.size
            links.append(
                _link(
                    rng,
                    f"{t}-{k}",
                    (t, edges[e]),
                    latency_ms=(1.0, 4.0),
                    bandwidth_mbps=(share, share),
                )
            )
            if shape == "parallel" and rng.random() < 0.6:
                links.append(
                    _link(
                        rng,
                        f"{t}-{k}b",
                        (t, edges[e]),
                        latency_ms=(3.0, 7.0),
                        bandwidth_mbps=(share, share),
                    )
                )
    return links


def _link(
    rng: np.random.Generator,
    link_id: str,
    ends: tuple[str, str],
    *,
    latency_ms: tuple[float, float],
    bandwidth_mbps: tuple[float, float],
) -> Link:
    return Link(
        link_id,
        *ends,
        float(rng.uniform(*bandwidth_mbps)),
        float(rng.uniform(*latency_ms)),
        cost_per_gb=float(rng.uniform(0.0, 0.02)),
    )
