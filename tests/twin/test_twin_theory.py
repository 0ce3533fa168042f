"""The twin against queueing theory, conservation, determinism and failure recovery."""

from __future__ import annotations

import heapq
import math
from typing import Any

import pytest

from suanwang.model import FailureScope, RandomFailures, Task, TaskState
from suanwang.scenario import loads_scenario
from suanwang.scheduling import ClusterState, Request, Scheduler, builtin_profiles
from suanwang.twin import TwinConfig, run_twin
from suanwang.twin.run import Twin
from suanwang.twin.summary import summarise

CORES = 4


def _mmc_scenario(rate_per_s: float) -> str:
    return f"""
version: 1
name: mmc
sites:
  - {{id: dc, tier: region, region: CN-NX, geo: {{lat_deg: 38.5, lon_deg: 106.3}}}}
nodes:
  - {{id: n, site: dc, cpu_cores: {CORES}, mem_gib: 64, cpu_peak_gflops: {{fp32: 400}}}}
workload:
  duration_s: 1000
  task_types:
    - {{name: job, class: warm, work_gflop: 20, precision: fp32, cpu_cores: 1, mem_gib: 1}}
  arrivals:
    - {{task_type: job, kind: poisson, rate_per_s: {rate_per_s}, ingress: {{dc: 1}}}}
"""


def erlang_c_wait_s(servers: int, arrival_per_s: float, service_per_s: float) -> float:
    """Mean waiting time in queue of an M/M/c system (Erlang C)."""
    a = arrival_per_s / service_per_s
    rho = a / servers
    tail = a**servers / math.factorial(servers) / (1 - rho)
    p_wait = tail / (sum(a**k / math.factorial(k) for k in range(servers)) + tail)
    return p_wait / (servers * service_per_s - arrival_per_s)


def _service_s() -> float:
    scenario = loads_scenario(_mmc_scenario(1.0), "yaml")
    spec = scenario.workload.task_type("job").spec.at("dc")
    scheduler = Scheduler(builtin_profiles()["cats-joint"], ClusterState(scenario.topology))
    placement = scheduler.schedule(Request("probe", spec)).placement
    assert placement is not None
    return placement.estimate.compute_ms / 1000.0


def fifo_waits_s(arrivals_s: list[float], services_s: list[float], servers: int) -> list[float]:
    """Waiting times of a FIFO queue with ``servers`` servers, by the earliest-free recursion."""
    free_at = [0.0] * servers
    waits = []
    for arrival_s, service_s in zip(arrivals_s, services_s, strict=True):
        start_s = max(arrival_s, heapq.heappop(free_at))
        waits.append(start_s - arrival_s)
        heapq.heappush(free_at, start_s + service_s)
    return waits


def test_mmc_node_matches_erlang_c() -> None:
    service_s, rho = _service_s(), 0.75
    rate = rho * CORES / service_s
    duration_s = 20_000 * service_s / (rho * CORES)  # about 20,000 tasks
    scenario = loads_scenario(_mmc_scenario(rate), "yaml")
    twin = Twin(
        scenario,
        TwinConfig(profile="cats-joint", duration_s=duration_s, seed=3, service_time="exponential"),
    )
    runs: list[tuple[float, float, float]] = []
    completed = twin.accounting.run_completed

    def record(task: Task, node: int, **run: Any) -> None:
        runs.append((task.submitted_at_s, run["started_s"], run["compute_ms"] / 1000.0))
        completed(task, node, **run)

    twin.accounting.run_completed = record  # type: ignore[method-assign]
    result = twin.run()
    stats = result.metrics.by_class["warm"]
    assert stats.completed == stats.generated == len(runs) > 19_000
    runs.sort()
    arrivals_s, started_s, services_s = zip(*runs, strict=True)
    # 1. Exact: on its own sample path the node is a FIFO queue with CORES servers.
    expected = fifo_waits_s(list(arrivals_s), list(services_s), CORES)
    measured = [start - arrival for arrival, start in zip(arrivals_s, started_s, strict=True)]
    assert measured == pytest.approx(expected, abs=1e-6)
    # 2. Statistical: the mean wait is Erlang C's. Twenty independent runs of this size with a
    # plain FIFO recursion spread with a standard deviation of 6-8 % around the formula, so the
    # tolerance is 20 % (about three standard deviations).
    theory_s = erlang_c_wait_s(CORES, rate, 1.0 / service_s)
    assert stats.queueing.mean_ms / 1000.0 == pytest.approx(theory_s, rel=0.20)
    assert sum(services_s) / len(services_s) == pytest.approx(service_s, rel=0.03)


def test_every_task_ends_with_a_reason(east_west_small: object) -> None:
    finals: dict[str, Task] = {}
    twin = Twin(
        east_west_small,  # type: ignore[arg-type]
        TwinConfig(
            duration_s=20,
            seed=2,
            start_hour=20,
            rate_scale=4.0,
            failures=(
                RandomFailures(FailureScope.NODES, mtbf_h=0.05, mttr_h=0.002),
                RandomFailures(FailureScope.LINKS, mtbf_h=0.02, mttr_h=0.002),
            ),
        ),
    )
    inner = twin.controller._listener

    class Recorder:
        def task_changed(self, task: Task, cause: str) -> None:
            inner.task_changed(task, cause)
            if task.state.is_terminal:
                assert task.id not in finals, f"{task.id} ended twice"
                finals[task.id] = task

    twin.controller._listener = Recorder()
    result = twin.run()
    assert twin.controller.active == 0
    assert len(finals) == result.generated > 1000
    assert result.metrics.node_failures > 100
    assert result.metrics.replacements > 0
    for task in finals.values():
        assert task.history[-1].reason
        assert task.state in {
            TaskState.COMPLETED,
            TaskState.REJECTED,
            TaskState.FAILED,
            TaskState.CANCELLED,
        }
    # The time series adds up to the totals (idle draw included).
    energy = result.series.values[:, result.series.columns.index("energy_kwh")].sum()
    carbon = result.series.values[:, result.series.columns.index("carbon_kg")].sum()
    assert energy == pytest.approx(result.metrics.energy_kwh, rel=1e-9)
    assert carbon == pytest.approx(result.metrics.carbon_kg, rel=1e-9)
    totals = summarise(result)["tasks"]
    assert (
        totals["completed"] + totals["rejected"] + totals["failed"] + totals["cancelled"]
        == (totals["generated"])
    )


def test_same_seed_same_results(east_west_small: object) -> None:
    def figures(seed: int) -> dict[str, object]:
        result = run_twin(east_west_small, TwinConfig(duration_s=10, seed=seed))  # type: ignore[arg-type]
        summary = summarise(result)
        for volatile in ("wall_s", "tasks_per_wall_s", "peak_memory_mb"):
            summary.pop(volatile)
        return summary

    assert figures(5) == figures(5)
    assert figures(5) != figures(6)


FAILOVER = """
version: 1
name: failover
sites:
  - {id: users, tier: terminal, geo: {lat_deg: 31.2, lon_deg: 121.5}}
  - {id: dc-a, tier: edge, region: CN-SH, geo: {lat_deg: 31.3, lon_deg: 121.4}}
  - {id: dc-b, tier: edge, region: CN-SH, geo: {lat_deg: 31.1, lon_deg: 121.6}}
nodes:
  - {id: a, site: dc-a, cpu_cores: 8, mem_gib: 64, cpu_peak_gflops: {fp32: 800}}
  - {id: b, site: dc-b, cpu_cores: 8, mem_gib: 64, cpu_peak_gflops: {fp32: 400}}
links:
  - {a: users, b: dc-a, bandwidth_mbps: 10000, latency_ms: 1}
  - {a: users, b: dc-b, bandwidth_mbps: 10000, latency_ms: 2}
workload:
  duration_s: 20
  task_types:
    - {name: batch, class: cold, work_gflop: 500, precision: fp32, cpu_cores: 1, mem_gib: 1}
  arrivals:
    - {task_type: batch, kind: poisson, rate_per_s: 1, ingress: {users: 1}}
failures:
  - {target: a, at_s: 8}
"""


def test_node_failure_replaces_every_affected_task() -> None:
    scenario = loads_scenario(FAILOVER, "yaml")
    twin = Twin(scenario, TwinConfig(profile="nearest", seed=4))
    placements: dict[str, list[str]] = {}
    on_a_at_failure: set[str] = set()
    inner = twin.controller._listener
    real_node_down = twin.controller.node_down

    class Recorder:
        def task_changed(self, task: Task, cause: str) -> None:
            inner.task_changed(task, cause)
            if cause == "placed" and task.placement is not None:
                placements.setdefault(task.id, []).append(task.placement.node_id)

    def node_down(node_id: str, reason: str) -> int:
        on_a_at_failure.update(
            t for t in twin.controller.active_ids() if placements.get(t, [""])[-1] == node_id
        )
        return real_node_down(node_id, reason)

    twin.controller._listener = Recorder()
    twin.controller.node_down = node_down  # type: ignore[method-assign]
    twin.failures._controller = twin.controller
    result = twin.run()
    assert on_a_at_failure, "the failure should hit running tasks"
    assert result.metrics.replacements == len(on_a_at_failure)
    for task_id in on_a_at_failure:
        assert placements[task_id][-2:] == ["a", "b"]
    warm = result.metrics.by_class["cold"]
    assert warm.completed == warm.generated
    assert result.metrics.node_failures == 1
