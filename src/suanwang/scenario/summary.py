"""Figures that describe a scenario at a glance: sites, nodes and compute per tier."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suanwang.model import ACCELERATOR_KINDS, PRECISIONS, Precision, Scenario, Tier

_FP16 = PRECISIONS.index(Precision.FP16)
_FP32 = PRECISIONS.index(Precision.FP32)


@dataclass(frozen=True, slots=True)
class TierSummary:
    """Totals over the sites of one tier.

    Attributes:
        tier: The tier.
        sites: Sites of the tier.
        nodes: Nodes at those sites.
        cpu_cores: CPU cores of those nodes.
        mem_gib: Memory of those nodes.
        accelerators: Device count per accelerator kind (kinds with none left out).
        peak_pflops_fp32: Peak fp32 rate, CPUs and accelerators together, in PFLOPS.
        peak_pflops_fp16: Peak fp16 rate, CPUs and accelerators together, in PFLOPS.
    """

    tier: Tier
    sites: int
    nodes: int
    cpu_cores: int
    mem_gib: float
    accelerators: dict[str, int]
    peak_pflops_fp32: float
    peak_pflops_fp16: float


@dataclass(frozen=True, slots=True)
class ScenarioSummary:
    """A scenario at a glance."""

    name: str
    description: str
    tiers: tuple[TierSummary, ...]
    elements: int
    links: int
    total_bandwidth_gbps: float
    services: int
    task_types: int
    arrival_streams: int
    failures: int


def summarise(scenario: Scenario) -> ScenarioSummary:
    """Totals per tier and counts per section, computed on the topology's arrays."""
    topology = scenario.topology
    arrays = topology.arrays
    site_tier = np.array([site.tier.rank for site in topology.sites.values()], dtype=np.int32)
    node_tier = site_tier[arrays.node_vertex] if len(arrays.node_ids) else np.zeros(0, np.int32)
    total_fp = arrays.node_cpu_peak_gflops + arrays.node_accel_peak_gflops.sum(axis=1)
    tiers = []
    for tier in sorted(Tier, key=lambda t: -t.rank):
        at_tier = node_tier == tier.rank
        sites = int((site_tier == tier.rank).sum())
        if not sites:
            continue
        counts = arrays.node_accel_count[at_tier].sum(axis=0)
        tiers.append(
            TierSummary(
                tier=tier,
                sites=sites,
                nodes=int(at_tier.sum()),
                cpu_cores=int(arrays.node_cpu_cores[at_tier].sum()),
                mem_gib=float(arrays.node_mem_gib[at_tier].sum()),
                accelerators={
                    kind.value: int(count)
                    for kind, count in zip(ACCELERATOR_KINDS, counts, strict=True)
                    if count
                },
                peak_pflops_fp32=float(total_fp[at_tier, _FP32].sum()) / 1e6,
                peak_pflops_fp16=float(total_fp[at_tier, _FP16].sum()) / 1e6,
            )
        )
    return ScenarioSummary(
        name=scenario.name,
        description=scenario.description,
        tiers=tuple(tiers),
        elements=len(topology.elements),
        links=len(topology.links),
        total_bandwidth_gbps=float(arrays.link_bandwidth_mbps.sum()) / 1000.0,
        services=len(scenario.services),
        task_types=len(scenario.workload.task_types),
        arrival_streams=len(scenario.workload.arrivals),
        failures=len(scenario.failures),
    )
