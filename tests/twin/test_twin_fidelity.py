"""The scheduler's transfer estimate against the twin where input flows share a link.

Tasks whose inputs cross the same 100 Mbps link at the same time each get their reservation
plus an equal share of the spare bandwidth in the twin; the estimate made when each is placed
counts the flows already moving there, so it matches what the twin measures.
"""

from __future__ import annotations

import pytest

from suanwang.scenario import loads_scenario
from suanwang.twin import TwinConfig, run_twin


def _shared_link(deadline: str) -> str:
    return f"""
version: 1
name: shared-link
sites:
  - {{id: lab, tier: terminal, region: CN-BJ, geo: {{lat_deg: 39.9, lon_deg: 116.4}}}}
  - {{id: dc, tier: region, region: CN-NX, geo: {{lat_deg: 38.5, lon_deg: 106.3}}}}
nodes:
  - {{id: n, site: dc, cpu_cores: 64, mem_gib: 256, cpu_peak_gflops: {{fp32: 6400}}}}
links:
  - {{id: lab-dc, a: lab, b: dc, bandwidth_mbps: 100, latency_ms: 5}}
workload:
  duration_s: 20
  task_types:
    - {{name: upload, class: warm, work_gflop: 100, precision: fp32, cpu_cores: 1, mem_gib: 1,
       data_in_mb: 25 {deadline}}}
  arrivals:
    - {{task_type: upload, kind: poisson, rate_per_s: 2.0, ingress: {{lab: 1}}}}
"""


@pytest.mark.parametrize("deadline", ["", ", deadline_s: 200"], ids=["best-effort", "reserved"])
def test_estimates_match_the_twin_when_flows_share_a_link(deadline: str) -> None:
    scenario = loads_scenario(_shared_link(deadline), "yaml")
    result = run_twin(scenario, TwinConfig(duration_s=20.0, seed=3, scenario_failures=False))
    stats = result.metrics.by_class["warm"]
    # 25 MB is 2 s alone on the link, two arrivals a second: inputs overlap most of the time
    assert stats.completed >= 10
    assert stats.estimate_error_pct.quantile(0.95) <= 1.0
