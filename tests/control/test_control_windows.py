"""The controller's windowed mode forecasts the hot work to come as ``place_windowed`` does:
``FORECAST_COPIES`` copies of the previous window's hot arrivals, the first window its own."""

from __future__ import annotations

import dataclasses

import pytest

from suanwang.control.controller import Controller, ControllerConfig
from suanwang.control.ports import EngineReports, ManualClock
from suanwang.model import Task, TaskClass, TaskSpec
from suanwang.scenario import loads_scenario
from suanwang.scheduling import ClusterState, Scheduler, builtin_profiles
from suanwang.scheduling.batch.windowed import FORECAST_COPIES

# a (fast, 4 cores) meets the hot frames' budget; b (slow, 4 cores) only the batch work's.
NETWORK = """
version: 1
name: pair
sites:
  - {id: users, tier: terminal, geo: {lat_deg: 31.2, lon_deg: 121.5}}
  - {id: dc-a, tier: edge, region: CN-SH, geo: {lat_deg: 31.3, lon_deg: 121.4}}
  - {id: dc-b, tier: edge, region: CN-BJ, geo: {lat_deg: 31.1, lon_deg: 121.6}}
nodes:
  - {id: a, site: dc-a, cpu_cores: 4, mem_gib: 16, cpu_peak_gflops: {fp32: 1600}}
  - {id: b, site: dc-b, cpu_cores: 4, mem_gib: 16, cpu_peak_gflops: {fp32: 800}}
links:
  - {id: to-a, a: users, b: dc-a, bandwidth_mbps: 1000, latency_ms: 1}
  - {id: to-b, a: users, b: dc-b, bandwidth_mbps: 1000, latency_ms: 2}
"""

# 10 GFLOP on one of a's cores at 0.4 efficiency: 62.5 ms (b: 125 ms), round trip 2 ms.
HOT = TaskSpec(
    work_gflop=10,
    cpu_cores=1,
    mem_gib=1,
    ingress_site="users",
    latency_budget_ms=100.0,
    task_class=TaskClass.HOT,
)
BATCH = dataclasses.replace(HOT, latency_budget_ms=None, deadline_s=10.0, task_class=TaskClass.COLD)


class Engine:
    """Records starts."""

    def __init__(self) -> None:
        self.started: list[Task] = []
        self.reports: EngineReports | None = None

    def attach(self, reports: EngineReports) -> None:
        self.reports = reports

    def start(self, task: Task) -> None:
        self.started.append(task)

    def cancel(self, task_id: str) -> None:
        return None

    def inventory(self) -> tuple[str, ...]:
        return ("a", "b")


def _controller(forecast: bool) -> tuple[Controller, Engine, ManualClock]:
    topology = loads_scenario(NETWORK, "yaml").topology
    engine, clock = Engine(), ManualClock(0.0)
    scheduler = Scheduler(builtin_profiles()["cats-joint"], ClusterState(topology))
    config = ControllerConfig(window_s=0.005, window_forecast=forecast)
    return Controller(scheduler, engine, clock, config=config), engine, clock


@pytest.mark.parametrize("forecast", [True, False])
def test_the_first_window_keeps_for_copies_of_its_own_hot_arrivals(forecast: bool) -> None:
    # One hot frame and seven batch tasks in the first window, none before it. The forecast
    # is the window's own frame, FORECAST_COPIES times: those copies keep that many of a's
    # other three cores, so the batch work gets b and only what the copies leave of a.
    assert FORECAST_COPIES == 3
    controller, engine, clock = _controller(forecast)
    controller.submit("h", HOT)
    for k in range(7):
        controller.submit(f"w{k}", BATCH)
    clock.advance(0.005)
    controller.place_window()
    nodes = {t.id: t.placement.node_id for t in engine.started if t.placement}
    assert nodes["h"] == "a"
    batch_on_a = sum(node == "a" for task_id, node in nodes.items() if task_id[0] == "w")
    assert batch_on_a == (0 if forecast else 3)
    assert controller.queued == (3 if forecast else 0)
    # the copies hold nothing afterwards
    assert len(controller.state.reservations) == len(nodes)
