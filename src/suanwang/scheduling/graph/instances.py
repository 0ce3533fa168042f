"""Seeded task graphs and small topologies for measuring graph placement.

Graph shapes (``random_graph(shape, stages, seed)``):

* ``chain``: each stage feeds the next;
* ``fork-join``: a source fans out to parallel branches of one or two stages, joined by a sink;
* ``layered``: layers of one to four stages, each stage fed by one to three stages of the layer
  before;
* ``random``: every pair i < j joined with probability 0.3 (every stage after the first keeps
  at least one parent).

Stages are CPU work (1-2 cores, 2-40 GFLOP at FP32) or, with probability 0.2, one GPU at FP16
(200-4,000 GFLOP); edges carry 0.5-20 MB, a quarter of them as a reduction ratio of 0.1-0.8.
The first stage takes 1-10 MB from the ingress, exits send 0.1-2 MB back.

``small_topology(shape, nodes, seed)``: an ingress terminal and three to five compute sites
(edge, on-site, region, hub) joined as a ``star`` (each site one hop from the ingress), a
``chain`` (ingress - edge - region - hub) or a ``mesh``, with 2-8 nodes of 2-8 cores (the second and
third, and a fifth of the others, with two GPUs), so that capacity binds on some instances.

``layered_graph(stages, width, seed)`` is the large benchmark graph: layers of ``width`` stages
over the generated scenarios' kinds of demand (CPU, GPU and NPU work).
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from suanwang.model import (
    Accelerator,
    AcceleratorKind,
    AcceleratorNeed,
    Link,
    Node,
    Precision,
    Site,
    TaskClass,
    Tier,
    Topology,
)
from suanwang.model.graph import Edge, Stage, TaskGraph

GRAPH_SHAPES = ("chain", "fork-join", "layered", "random")
TOPOLOGY_SHAPES = ("star", "chain", "mesh")
INGRESS = "user"
FP32, FP16, GPU, NPU = Precision.FP32, Precision.FP16, AcceleratorKind.GPU, AcceleratorKind.NPU


def _stage(rng: np.random.Generator, stage_id: str) -> Stage:
    if rng.random() < 0.2:
        return Stage(
            stage_id,
            float(rng.uniform(200, 4_000)),
            FP16,
            cpu_cores=1.0,
            mem_gib=1.0,
            accelerator=AcceleratorNeed(GPU),
        )
    return Stage(stage_id, float(rng.uniform(2, 40)), FP32, cpu_cores=float(rng.integers(1, 3)))


def _edge(rng: np.random.Generator, src: str, dst: str) -> Edge:
    if rng.random() < 0.25:
        return Edge(src, dst, reduction_ratio=float(rng.uniform(0.1, 0.8)))
    return Edge(src, dst, data_mb=float(rng.uniform(0.5, 20)))


def _pairs(shape: str, stages: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    if shape == "chain":
        return [(i, i + 1) for i in range(stages - 1)]
    if shape == "fork-join":
        pairs, at = [], 1
        while at < stages - 1:
            length = min(int(rng.integers(1, 3)), stages - 1 - at)
            branch = list(range(at, at + length))
            pairs += [(0, branch[0]), *itertools.pairwise(branch)]
            pairs.append((branch[-1], stages - 1))
            at += length
        return pairs if stages > 1 else []
    if shape == "layered":
        layers, at = [], 0
        while at < stages:
            width = min(int(rng.integers(1, 5)), stages - at)
            layers.append(list(range(at, at + width)))
            at += width
        pairs = []
        for before, layer in itertools.pairwise(layers):
            for j in layer:
                fan = min(len(before), int(rng.integers(1, 4)))
                pairs += [(int(i), j) for i in rng.choice(before, size=fan, replace=False)]
        return pairs
    if shape == "random":
        pairs = [(i, j) for j in range(1, stages) for i in range(j) if rng.random() < 0.3]
        fed = {j for _, j in pairs}
        pairs += [(int(rng.integers(0, j)), j) for j in range(1, stages) if j not in fed]
        return pairs
    raise ValueError(f"unknown graph shape {shape!r}; known: {GRAPH_SHAPES}")


def random_graph(shape: str, stages: int, seed: int, ingress: str = INGRESS) -> TaskGraph:
    """A seeded graph of ``stages`` stages in ``shape`` (module docstring)."""
    rng = np.random.default_rng(seed)
    ids = [f"s{i}" for i in range(stages)]
    pairs = _pairs(shape, stages, rng)
    has_child = {i for i, _ in pairs}
    made = []
    for i, stage_id in enumerate(ids):
        stage = _stage(rng, stage_id)
        input_mb = float(rng.uniform(1, 10)) if i == 0 else 0.0
        result_mb = float(rng.uniform(0.1, 2)) if i not in has_child else 0.0
        made.append(replace(stage, input_mb=input_mb, result_mb=result_mb))
    edges = tuple(_edge(rng, ids[i], ids[j]) for i, j in pairs)
    return TaskGraph(f"{shape}-{stages}-{seed}", tuple(made), edges, ingress_site=ingress)


def small_topology(shape: str, nodes: int, seed: int) -> Topology:
    """A seeded topology of ``nodes`` compute nodes behind one ingress (module docstring)."""
    if shape not in TOPOLOGY_SHAPES:
        raise ValueError(f"unknown topology shape {shape!r}; known: {TOPOLOGY_SHAPES}")
    rng = np.random.default_rng(seed)
    tiers = [Tier.ONSITE, Tier.EDGE, Tier.REGION, Tier.HUB, Tier.REGION]
    n_sites = int(rng.integers(3, 6))
    names = [f"c{i}" for i in range(n_sites)]
    sites = [Site(INGRESS, Tier.TERMINAL), *(Site(n, tiers[i]) for i, n in enumerate(names))]
    gpu = Accelerator(GPU, "gpu", 2, {FP16: 60_000.0, FP32: 8_000.0}, 16.0, 70.0)
    made = []
    for i in range(nodes):
        site = names[i % n_sites]
        rank = i % n_sites  # farther sites are faster
        cores = int(rng.choice([4, 8, 16]))
        made.append(
            Node(
                f"n{i}",
                site,
                cpu_cores=cores,
                mem_gib=4.0 * cores,
                cpu_peak_gflops={FP32: float(rng.uniform(80, 160)) * cores * (1 + rank)},
                accelerators=(gpu,) if i in (1, 2) or rng.random() < 0.2 else (),
            )
        )
    links = []
    for i, name in enumerate(names):
        latency = float(rng.uniform(1, 4)) * (1 + 2 * i)
        bandwidth = float(rng.choice([100.0, 1_000.0, 10_000.0]))
        if shape == "star" or i == 0:
            links.append(Link(f"l-{name}", INGRESS, name, bandwidth, latency))
        elif shape == "chain":
            links.append(Link(f"l-{name}", names[i - 1], name, bandwidth, latency))
        else:
            links.append(
                Link(f"l-{name}", names[int(rng.integers(0, i))], name, bandwidth, latency)
            )
            links.append(Link(f"m-{name}", INGRESS, name, bandwidth / 10, latency * 1.5))
    return Topology(sites, made, links=links)


def layered_graph(stages: int, width: int, seed: int, ingress: str) -> TaskGraph:
    """A large layered graph of ``stages`` stages, ``width`` a layer (module docstring)."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(3, size=stages, p=[0.6, 0.3, 0.1])
    built = []
    ids = [f"s{i}" for i in range(stages)]
    layer_of = np.arange(stages) // width
    for i, kind in enumerate(kinds.tolist()):
        input_mb = float(rng.uniform(0.1, 2)) if i < width else 0.0
        result_mb = float(rng.uniform(0.01, 0.5)) if layer_of[i] == layer_of[-1] else 0.0
        if kind == 0:
            built.append(
                Stage(
                    ids[i],
                    float(rng.uniform(1, 100)),
                    FP32,
                    cpu_cores=float(rng.integers(1, 5)),
                    mem_gib=1.0,
                    task_class=TaskClass.WARM,
                    input_mb=input_mb,
                    result_mb=result_mb,
                )
            )
        else:
            need = AcceleratorNeed(GPU if kind == 1 else NPU)
            built.append(
                Stage(
                    ids[i],
                    float(rng.uniform(50, 2_000)),
                    FP16,
                    cpu_cores=1.0,
                    mem_gib=1.0,
                    accelerator=need,
                    task_class=TaskClass.HOT,
                    input_mb=input_mb,
                    result_mb=result_mb,
                )
            )
    edges = []
    for i in range(width, stages):
        before = np.flatnonzero(layer_of == layer_of[i] - 1)
        for j in rng.choice(before, size=min(before.size, int(rng.integers(1, 4))), replace=False):
            edges.append(_edge(rng, ids[int(j)], ids[i]))
    return TaskGraph(f"layered-{stages}-{seed}", tuple(built), tuple(edges), ingress_site=ingress)
