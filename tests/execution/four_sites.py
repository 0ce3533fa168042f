"""The four-node network the engine tests place on: two edge nodes, two cloud nodes."""

from __future__ import annotations

from suanwang.model import Topology
from suanwang.scenario import loads_scenario

FOUR = """
version: 1
name: four
sites:
  - {id: users, tier: terminal, geo: {lat_deg: 31.2, lon_deg: 121.5}}
  - {id: edge, tier: edge, region: CN-SH, geo: {lat_deg: 31.3, lon_deg: 121.4}}
  - {id: cloud, tier: region, region: CN-SH, geo: {lat_deg: 31.1, lon_deg: 121.6}}
nodes:
  - {id: e1, site: edge, cpu_cores: CORES, mem_gib: 16, cpu_peak_gflops: {fp32: 400, fp64: 200}}
  - {id: e2, site: edge, cpu_cores: CORES, mem_gib: 16, cpu_peak_gflops: {fp32: 300, fp64: 150}}
  - {id: c1, site: cloud, cpu_cores: CORES, mem_gib: 16, cpu_peak_gflops: {fp32: 800, fp64: 400}}
  - {id: c2, site: cloud, cpu_cores: CORES, mem_gib: 16, cpu_peak_gflops: {fp32: 600, fp64: 300}}
links:
  - {id: u-e, a: users, b: edge, bandwidth_mbps: 1000, latency_ms: 1}
  - {id: e-c, a: edge, b: cloud, bandwidth_mbps: 10000, latency_ms: 4}
"""
"""The scenario text; CORES stands for the cores of each node."""


def four_sites(cores: int) -> Topology:
    """The network with ``cores`` CPU cores on each node."""
    return loads_scenario(FOUR.replace("CORES", str(cores)), "yaml").topology
