"""Slice mode of the twin: rankings once a slice, live capacity, aggregated accounting."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from suanwang.cli.main import app
from suanwang.model import Scenario
from suanwang.model.failures import ScriptedFailure
from suanwang.scenario import loads_scenario
from suanwang.twin import MobilityConfig, TwinConfig, TwinError, run_twin
from suanwang.twin.metrics import Histogram, TimeSeries

_ONE_SITE = """
version: 1
name: one-site
sites:
  - {id: user, tier: terminal, region: CN-BJ, geo: {lat_deg: 39.9, lon_deg: 116.4}}
  - {id: dc, tier: region, region: CN-BJ, geo: {lat_deg: 39.8, lon_deg: 116.3}}
nodes:
  - {id: a, site: dc, cpu_cores: 4, mem_gib: 64, cpu_peak_gflops: {fp32: 400}}
  - {id: b, site: dc, cpu_cores: 4, mem_gib: 64, cpu_peak_gflops: {fp32: 400}}
links:
  - {id: user-dc, a: user, b: dc, bandwidth_mbps: 1000, latency_ms: 2}
workload:
  duration_s: 30
  task_types:
    - {name: job, class: warm, work_gflop: 5, precision: fp32, cpu_cores: 1, mem_gib: 1,
       data_in_mb: 1, latency_budget_ms: 2000}
  arrivals:
    - {task_type: job, kind: poisson, rate_per_s: RATE, ingress: {user: 1}}
"""


runner = CliRunner()


def _scenario(rate_per_s: float) -> Scenario:
    return loads_scenario(_ONE_SITE.replace("RATE", str(rate_per_s)), "yaml")


def _slice(**changes: object) -> TwinConfig:
    base = TwinConfig(duration_s=30.0, seed=4, scenario_failures=False, decide="slice")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _count(result: object, name: str) -> int:
    by_class = result.metrics.by_class  # type: ignore[attr-defined]
    return sum(getattr(stats, name) for stats in by_class.values())


def test_every_arrival_ends_and_the_arrivals_are_the_exact_modes() -> None:
    scenario = _scenario(20.0)
    sliced = run_twin(scenario, _slice(slice_ms=500.0))
    exact = run_twin(scenario, dataclasses.replace(_slice(), decide="online"))
    assert sliced.generated == exact.generated > 400
    ended = sum(_count(sliced, k) for k in ("completed", "rejected", "failed", "cancelled"))
    assert ended == sliced.generated
    # Light load (about 3 of 8 cores busy): the exact mode queues the few arrivals of a burst
    # that finds every core held and completes all; slice mode has no queue and turns them away.
    assert _count(exact, "completed") == exact.generated
    assert _count(sliced, "completed") >= 0.99 * exact.generated
    assert _count(sliced, "sla_met") == _count(sliced, "completed")
    assert _count(sliced, "rejected") == exact.generated - _count(sliced, "completed")
    assert sliced.metrics.energy_kwh == pytest.approx(exact.metrics.energy_kwh, rel=0.02)
    assert sliced.metrics.cost == pytest.approx(exact.metrics.cost, rel=0.02)


def test_capacity_is_checked_live_within_a_slice() -> None:
    # 1,000 jobs a second, each holding one of 8 cores for 125 ms of compute plus 12 ms of
    # network, in one 5 s slice: ranked once, yet no core is ever held twice, and a core is
    # taken again as soon as its run ends.
    result = run_twin(_scenario(1000.0), _slice(duration_s=5.0, slice_ms=5000.0))
    completed = _count(result, "completed")
    rejected = _count(result, "rejected")
    assert completed + rejected == result.generated
    assert completed <= 8 * 5.0 / 0.136 + 8
    assert completed >= 0.9 * 8 * 5.0 / 0.137
    assert result.metrics.causes["rejected:slice"] == rejected


def test_estimates_match_the_slice_simulation() -> None:
    result = run_twin(_scenario(200.0), _slice(duration_s=10.0, slice_ms=1000.0))
    errors = Histogram()
    for stats in result.metrics.by_class.values():
        errors.merge(stats.estimate_error_pct)
    assert errors.count == _count(result, "completed") > 0
    assert errors.quantile(0.5) <= 10.0
    assert errors.quantile(0.95) <= 25.0


@pytest.mark.parametrize("scale", [1.0, 30.0], ids=["moderate", "heavy"])
def test_estimates_match_the_slice_simulation_on_east_west(
    east_west_small: Scenario, scale: float
) -> None:
    # bench_fidelity's loads: the scenario's own rates, and 30 times them.
    config = _slice(duration_s=10.0 / scale, rate_scale=scale, slice_ms=1000.0, start_hour=20.0)
    result = run_twin(east_west_small, config)
    errors = Histogram()
    for stats in result.metrics.by_class.values():
        errors.merge(stats.estimate_error_pct)
    assert errors.count == _count(result, "completed") > 100
    assert errors.quantile(0.5) <= 10.0
    assert errors.quantile(0.95) <= 25.0


def test_a_failed_node_fails_the_runs_on_it() -> None:
    failure = ScriptedFailure(target="a", at_s=10.0, repair_after_s=None)
    config = _slice(slice_ms=250.0, failures=(failure,), service_time="exponential")
    result = run_twin(_scenario(60.0), config)
    assert result.metrics.node_failures == 1
    assert _count(result, "failed") >= 1
    assert result.metrics.causes["failed:node-down"] == _count(result, "failed")
    ended = sum(_count(result, k) for k in ("completed", "rejected", "failed", "cancelled"))
    assert ended == result.generated


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"slice_ms": 0.0}, "slice_ms"),
        ({"slice_ms": float("inf")}, "slice_ms"),
        ({"mobility": MobilityConfig(users=3)}, "mobility"),
        ({"billing": True}, "billing"),
        ({"decide": "sometimes"}, "decide"),
    ],
)
def test_bad_settings_are_refused_by_name(changes: dict[str, object], named: str) -> None:
    with pytest.raises(TwinError, match=named):
        run_twin(_scenario(5.0), _slice(**changes))


def test_histogram_add_many_counts_as_add_does() -> None:
    values = np.array([0.0, -1.0, 0.5, 3.0, 3.0, 120.0, 5e4])
    one, many = Histogram(), Histogram()
    for value in values.tolist():
        one.add(value)
    many.add_many(values)
    assert many.counts == one.counts
    assert (many.count, many.max_ms) == (one.count, one.max_ms)
    assert many.sum_ms == pytest.approx(one.sum_ms)


def test_series_add_many_adds_as_add_does() -> None:
    times = np.array([0.0, 1.5, 9.9, 12.0, 50.0])
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    one, many = TimeSeries(20.0, 4, ()), TimeSeries(20.0, 4, ())
    for at_s, value in zip(times.tolist(), values.tolist(), strict=True):
        one.add(at_s, "cost", value)
    many.add_many(times, "cost", values)
    assert np.array_equal(one.values, many.values)


def test_the_cli_runs_slice_mode_and_refuses_an_unknown_mode(tmp_path: Path) -> None:
    scenario = tmp_path / "one-site.yaml"
    scenario.write_text(_ONE_SITE.replace("RATE", "20.0"))
    common = ["twin", "run", str(scenario), "--duration", "10", "--no-failures", "--json"]
    sliced = runner.invoke(
        app, [*common, "--decide", "slice", "--slice-ms", "500", "--out", str(tmp_path / "s")]
    )
    assert sliced.exit_code == 0, sliced.stderr
    tasks = json.loads(sliced.stdout)["tasks"]
    ends = ("completed", "rejected", "failed", "cancelled")
    assert sum(tasks[key] for key in ends) == tasks["generated"] > 100
    wrong = runner.invoke(app, [*common, "--decide", "sometimes", "--out", str(tmp_path / "w")])
    assert wrong.exit_code != 0
    assert "--decide must be online or slice, got 'sometimes'" in wrong.stderr
