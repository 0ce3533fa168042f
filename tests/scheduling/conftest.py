"""Shared hand-made topologies and helpers for the scheduling tests.

Every figure below is chosen so that the estimates of ``suanwang.scheduling.cycle`` come out as
round numbers that a reader can check by hand (see each fixture's docstring). Test modules get
the helpers through fixtures (``tests`` is not a package, so they cannot import this module).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from suanwang.measure import CATEGORIES, Snapshot
from suanwang.model import (
    Accelerator,
    AcceleratorKind,
    EnergyProfile,
    Link,
    Node,
    Precision,
    Site,
    TaskSpec,
    Tier,
    Topology,
    TrustLevel,
)
from suanwang.scheduling import ClusterState, Cycle, Profile, Request, Reservation, Scheduler
from suanwang.scheduling.plugins.route import LatencyShortest

FP64, FP32, FP16, INT8 = Precision.FP64, Precision.FP32, Precision.FP16, Precision.INT8
GPU = AcceleratorKind.GPU


def hand_topology() -> Topology:
    """Ingress U; edge E (1 ms), region R (11 ms), hub H (31 ms); N (2 ms, no region); X cut off.

    Links (one-way latency, bandwidth, transfer price):
    U-E 1 ms 1,000 Mbps 0.1/GB; E-R 10 ms 100 Mbps 0.2/GB; R-H 20 ms 10,000 Mbps; U-N 2 ms.

    Nodes:
        edge-cpu: 8 cores, 16 GiB, CPU 1,000 GFLOPS fp32 (500 fp64, 1,000 fp16, no int8),
            verified, 7,200 per hour, 400 W peak. A 4-core, 10 GFLOP warm task runs at
            1,000 x 0.4 (inference efficiency) x 4/8 = 200 GFLOPS: 50 ms.
        edge-small: 2 cores, 4 GiB, 100 GFLOPS fp32, basic trust.
        region-gpu: 32 cores, 128 GiB, 2 x GPU (40 GiB, 100 TFLOPS fp16, 20 TFLOPS fp32,
            nothing at fp64), sovereign.
        hub-big: 64 cores, 512 GiB, 4,000 GFLOPS fp32, sovereign, region DE-BE.
        island: at X, which no link reaches.
        noregion: at N, a site with no region code, untrusted.
    """
    sites = [
        Site("U", Tier.TERMINAL, region="CN-BJ"),
        Site("E", Tier.EDGE, region="CN-BJ"),
        Site("R", Tier.REGION, region="CN-SH"),
        Site("H", Tier.HUB, region="DE-BE"),
        Site("X", Tier.EDGE, region="CN-BJ"),
        Site("N", Tier.ONSITE, region=""),
    ]
    gpus = Accelerator(GPU, "A100-40G", 2, {FP16: 100_000.0, FP32: 20_000.0}, 40.0, 400.0)
    nodes = [
        Node(
            "edge-cpu",
            "E",
            cpu_cores=8,
            mem_gib=16.0,
            cpu_peak_gflops={FP64: 500.0, FP32: 1_000.0, FP16: 1_000.0},
            idle_power_w=100.0,
            peak_power_w=400.0,
            trust_level=TrustLevel.VERIFIED,
            price_per_hour=7_200.0,
        ),
        Node(
            "edge-small",
            "E",
            cpu_cores=2,
            mem_gib=4.0,
            cpu_peak_gflops={FP32: 100.0},
            trust_level=TrustLevel.BASIC,
            price_per_hour=1.0,
        ),
        Node(
            "region-gpu",
            "R",
            cpu_cores=32,
            mem_gib=128.0,
            cpu_peak_gflops={FP32: 2_000.0},
            accelerators=(gpus,),
            peak_power_w=1_500.0,
            trust_level=TrustLevel.SOVEREIGN,
            price_per_hour=20.0,
        ),
        Node(
            "hub-big",
            "H",
            cpu_cores=64,
            mem_gib=512.0,
            cpu_peak_gflops={FP64: 2_000.0, FP32: 4_000.0},
            trust_level=TrustLevel.SOVEREIGN,
            price_per_hour=10.0,
        ),
        Node("island", "X", cpu_cores=8, mem_gib=16.0, cpu_peak_gflops={FP32: 1_000.0}),
        Node(
            "noregion",
            "N",
            cpu_cores=8,
            mem_gib=16.0,
            cpu_peak_gflops={FP32: 1_000.0},
            trust_level=TrustLevel.UNTRUSTED,
        ),
    ]
    links = [
        Link("u-e", "U", "E", bandwidth_mbps=1_000.0, latency_ms=1.0, cost_per_gb=0.1),
        Link("e-r", "E", "R", bandwidth_mbps=100.0, latency_ms=10.0, cost_per_gb=0.2),
        Link("r-h", "R", "H", bandwidth_mbps=10_000.0, latency_ms=20.0, cost_per_gb=0.05),
        Link("u-n", "U", "N", bandwidth_mbps=1_000.0, latency_ms=2.0),
    ]
    return Topology(sites, nodes, links=links)


def score_topology() -> Topology:
    """Ingress U and three 8-core CPU nodes at rising distance, each best at something.

    For a warm 4-core, 10 GFLOP task without data (share 1/2, CPU inference efficiency 0.4):

    ======  =========  ========  =======  ========  ======  ======  ====  =======
    node    one-way    fp32      compute  total     price   power   PUE   carbon
    ======  =========  ========  =======  ========  ======  ======  ====  =======
    near    1 ms       200       250 ms   252 ms    10/h    500 W   1.5   800 g/kWh
    mid     10 ms      1,000     50 ms    70 ms     4/h     300 W   1.3   600
    far     30 ms      4,000     12.5 ms  72.5 ms   2/h     400 W   1.1   100
    ======  =========  ========  =======  ========  ======  ======  ====  =======

    near and mid stand in region CN-BJ (the ingress's), far in CN-GS (the green west); near has
    16 GiB of memory (a 4-core, 8 GiB task keeps it balanced), mid and far 64 GiB.
    """
    sites = [
        Site("U", Tier.TERMINAL, region="CN-BJ"),
        Site(
            "NEAR", Tier.EDGE, region="CN-BJ", energy=EnergyProfile(pue=1.5, carbon_g_per_kwh=800)
        ),
        Site(
            "MID", Tier.REGION, region="CN-BJ", energy=EnergyProfile(pue=1.3, carbon_g_per_kwh=600)
        ),
        Site("FAR", Tier.HUB, region="CN-GS", energy=EnergyProfile(pue=1.1, carbon_g_per_kwh=100)),
    ]

    def node(
        node_id: str, site: str, *, fp32: float, mem: float, price: float, watts: float
    ) -> Node:
        return Node(
            node_id,
            site,
            cpu_cores=8,
            mem_gib=mem,
            cpu_peak_gflops={FP32: fp32},
            peak_power_w=watts,
            price_per_hour=price,
        )

    nodes = [
        node("near", "NEAR", fp32=200.0, mem=16.0, price=10.0, watts=500.0),
        node("mid", "MID", fp32=1_000.0, mem=64.0, price=4.0, watts=300.0),
        node("far", "FAR", fp32=4_000.0, mem=64.0, price=2.0, watts=400.0),
    ]
    links = [
        Link("u-near", "U", "NEAR", bandwidth_mbps=10_000.0, latency_ms=1.0),
        Link("u-mid", "U", "MID", bandwidth_mbps=10_000.0, latency_ms=10.0),
        Link("u-far", "U", "FAR", bandwidth_mbps=10_000.0, latency_ms=30.0),
    ]
    return Topology(sites, nodes, links=links)


def snapshot_excluding(topology: Topology, silent_s: Mapping[str, float]) -> Snapshot:
    """A snapshot where the nodes of ``silent_s`` are excluded after that many silent seconds.

    Every other node reported just now, idle; no metric columns are carried.
    """
    arrays = topology.arrays
    ids = arrays.node_ids
    n = len(ids)
    excluded = np.zeros(n, dtype=bool)
    age = np.zeros(n)
    for node_id, seconds in silent_s.items():
        excluded[ids.index(node_id)] = True
        age[ids.index(node_id)] = seconds
    return Snapshot(
        built_at_s=10_000.0,
        node_ids=ids,
        index={node_id: i for i, node_id in enumerate(ids)},
        metric_types=(),
        metrics=np.zeros((n, 0)),
        cpu_capacity_cores=arrays.node_cpu_cores.copy(),
        mem_capacity_gib=arrays.node_mem_gib.copy(),
        cpu_free_cores=np.where(excluded, 0.0, arrays.node_cpu_cores),
        mem_free_gib=np.where(excluded, 0.0, arrays.node_mem_gib),
        load_ratio=np.where(excluded, 1.0, 0.0),
        l1=np.full((n, len(CATEGORIES)), math.nan),
        l2=np.where(excluded, 0.0, 10.0),
        age_s=age,
        staleness_factor=np.where(excluded, 0.0, 1.0),
        stale=excluded.copy(),
        excluded=excluded,
    )


def hold(state: ClusterState, task_id: str, node_id: str, cores: float = 0.0, **kw: Any) -> None:
    """Put a background reservation of ``cores`` (and ``kw``) on ``node_id`` into the ledger."""
    node = state.arrays.node_ids.index(node_id)
    state.reservations.reserve(
        Reservation(task_id, node, cpu_cores=cores, mem_gib=kw.pop("mem_gib", 0.0), **kw)
    )


def cycle_for(state: ClusterState, spec: TaskSpec, *, route: bool = True) -> Cycle:
    """A fresh cycle for ``spec`` on ``state``, with the default Route point run when asked.

    As in the scheduler, nodes the route cannot reach are turned away right after it.
    """
    cycle = Cycle(Request("probe", spec), state, alive=np.ones(len(state.arrays.node_ids), bool))
    if route:
        route_plugin = LatencyShortest(state.topology)
        cycle.route = route_plugin.route(cycle)
        cycle.reject(route_plugin.name, np.isfinite(cycle.route.latency_ms))
    return cycle


def profile(
    name: str = "test",
    *,
    filters: Iterable[str] = (),
    scores: Mapping[str, float] | None = None,
    route: str = "latency-shortest",
    hysteresis: float = 0.0,
    affinity: bool = True,
    args: Mapping[str, Mapping[str, Any]] | None = None,
) -> Profile:
    """A profile built in code (``Profile`` records, no YAML)."""
    return Profile(
        name=name,
        filters=tuple(filters),
        route=route,
        scores=dict(scores or {"nearest": 1.0}),
        hysteresis=hysteresis,
        affinity=affinity,
        args=dict(args or {}),
    )


def index_of(state_or_topology: ClusterState | Topology, node_id: str) -> int:
    """Array index of ``node_id``."""
    return state_or_topology.arrays.node_ids.index(node_id)


@dataclass(frozen=True)
class Helpers:
    """The helpers of this module, handed to tests by the ``sw`` fixture."""

    hand_topology: Callable[[], Topology] = hand_topology
    score_topology: Callable[[], Topology] = score_topology
    snapshot_excluding: Callable[[Topology, Mapping[str, float]], Snapshot] = snapshot_excluding
    hold: Callable[..., None] = hold
    cycle_for: Callable[..., Cycle] = cycle_for
    profile: Callable[..., Profile] = profile
    index_of: Callable[[ClusterState | Topology, str], int] = index_of

    @staticmethod
    def scheduler(topology: Topology, **profile_kw: Any) -> Scheduler:
        """A scheduler with a code-built profile on a fresh state of ``topology``."""
        return Scheduler(profile(**profile_kw), ClusterState(topology))


@pytest.fixture
def sw() -> Helpers:
    """Scheduling test helpers (topologies, snapshots, cycles, profiles)."""
    return Helpers()
