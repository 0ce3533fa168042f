"""Measured compute times reported by agents teach the live efficiency table."""

from __future__ import annotations

from suanwang.control.ports import ManualClock
from suanwang.execution import AgentDispatch
from suanwang.model import Task, TaskSpec
from suanwang.scenario import loads_scenario
from suanwang.scheduling import builtin_profiles
from suanwang.scheduling.cycle import device_of, workload_class_of
from suanwang.service.live import LiveNetwork

NETWORK = """
version: 1
name: one-site
sites:
  - {id: dc, tier: edge, region: CN-SH, geo: {lat_deg: 31.3, lon_deg: 121.4}}
nodes:
  - {id: n, site: dc, cpu_cores: 8, mem_gib: 32, cpu_peak_gflops: {fp32: 800}}
"""

JOB = TaskSpec(work_gflop=50, cpu_cores=1, mem_gib=1, ingress_site="dc")


class Quiet:
    def task_changed(self, task: Task, cause: str) -> None:
        return None


def test_slow_measurements_lower_the_efficiency_and_lengthen_estimates() -> None:
    scenario = loads_scenario(NETWORK, "yaml")
    live = LiveNetwork.build(
        scenario, builtin_profiles()["cats-joint"], ManualClock(), Quiet(), dispatch=AgentDispatch
    )
    controller = live.controller
    first = controller.submit("t0", JOB)
    assert first.placement is not None
    estimate_ms = first.placement.estimate.compute_ms
    before = controller.state.efficiency.efficiency(device_of(JOB), workload_class_of(JOB))
    for i in range(live.feedback.min_samples):
        task = controller.submit(f"t{i + 1}", JOB)
        assert live.learn(task, measured_compute_ms=4 * estimate_ms)
    after = controller.state.efficiency.efficiency(device_of(JOB), workload_class_of(JOB))
    assert after < before * 0.5  # the node does a quarter of the work the table assumed
    later = controller.submit("later", JOB)
    assert later.placement is not None
    assert later.placement.estimate.compute_ms > 2 * estimate_ms
    # A task without a placement teaches nothing.
    assert not live.learn(Task.submit("x", JOB, "", 0.0), measured_compute_ms=1.0)
