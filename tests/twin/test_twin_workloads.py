"""Arrival processes, trace replay, mobility and imported EdgeSimPy datasets in the twin."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from suanwang.model import ArrivalKind, Arrivals, Scenario
from suanwang.scenario import loads_scenario
from suanwang.scenario.importers import import_edgesimpy
from suanwang.twin import MobilityConfig, TwinConfig, TwinError, run_twin
from suanwang.twin.arrivals import arrival_stream

FIXTURES = Path(__file__).parents[1] / "scenario" / "fixtures"


def _times(arrivals: Arrivals, until_s: float, **kwargs: object) -> np.ndarray:
    stream = arrival_stream(arrivals, np.random.default_rng(1), **kwargs)  # type: ignore[arg-type]
    times = []
    for time_s, _, _ in stream:
        if time_s >= until_s:
            break
        times.append(time_s)
    return np.array(times)


def test_poisson_rate_and_ingress_weights() -> None:
    arrivals = Arrivals("job", ArrivalKind.POISSON, 50.0, (("a", 3.0), ("b", 1.0)))
    times = _times(arrivals, 200.0)
    assert len(times) == pytest.approx(10_000, rel=0.05)
    sites = [s for _, _, s in islice(arrival_stream(arrivals, np.random.default_rng(2)), 8000)]
    assert sites.count("a") / len(sites) == pytest.approx(0.75, abs=0.02)


def test_diurnal_rate_follows_the_hour() -> None:
    multipliers = tuple([0.5] * 12 + [2.0] * 12)
    arrivals = Arrivals("job", ArrivalKind.DIURNAL, 1.0, (("a", 1.0),), multipliers)
    times = _times(arrivals, 86_400.0)
    morning = np.count_nonzero(times < 43_200)
    evening = len(times) - morning
    assert morning == pytest.approx(0.5 * 43_200, rel=0.05)
    assert evening == pytest.approx(2.0 * 43_200, rel=0.05)
    # Starting at 12:00 swaps the halves.
    shifted = _times(arrivals, 43_200.0, start_hour=12.0)
    assert len(shifted) == pytest.approx(2.0 * 43_200, rel=0.05)


def test_bursts_raise_the_rate_inside_their_windows() -> None:
    arrivals = Arrivals(
        "job",
        ArrivalKind.BURST,
        10.0,
        (("a", 1.0),),
        burst_every_s=100.0,
        burst_duration_s=10.0,
        burst_factor=5.0,
    )
    times = _times(arrivals, 10_000.0)
    inside = np.count_nonzero(times % 100.0 < 10.0)
    assert inside == pytest.approx(50.0 * 10 * 100, rel=0.05)
    assert len(times) - inside == pytest.approx(10.0 * 90 * 100, rel=0.05)


SMALL = """
version: 1
name: small
sites:
  - {id: users, tier: terminal, geo: {lat_deg: 31.2, lon_deg: 121.5}}
  - {id: users-2, tier: terminal, geo: {lat_deg: 30.2, lon_deg: 120.1}}
  - {id: dc-a, tier: edge, region: CN-SH, geo: {lat_deg: 31.3, lon_deg: 121.4}}
  - {id: dc-b, tier: edge, region: CN-ZJ, geo: {lat_deg: 30.3, lon_deg: 120.2}}
nodes:
  - {id: a, site: dc-a, cpu_cores: 16, mem_gib: 64, cpu_peak_gflops: {fp32: 1600}}
  - {id: b, site: dc-b, cpu_cores: 16, mem_gib: 64, cpu_peak_gflops: {fp32: 1600}}
links:
  - {a: users, b: dc-a, bandwidth_mbps: 10000, latency_ms: 1}
  - {a: users-2, b: dc-b, bandwidth_mbps: 10000, latency_ms: 1}
  - {a: dc-a, b: dc-b, bandwidth_mbps: 10000, latency_ms: 4}
workload:
  duration_s: 30
  task_types:
    - {name: frame, class: hot, work_gflop: 0.05, precision: fp32, cpu_cores: 1, mem_gib: 1,
       latency_budget_ms: 6}
  arrivals:
    - {task_type: frame, kind: trace, trace_file: trace.csv, ingress: {users: 1}}
"""


def test_trace_replay_submits_every_row(tmp_path: Path) -> None:
    (tmp_path / "trace.csv").write_text(
        "time_s,task_type,ingress\n0.5,frame,users\n1.0,,users-2\n1.5,frame,\n40,frame,users\n"
    )
    scenario = loads_scenario(SMALL, "yaml")
    result = run_twin(scenario, TwinConfig(base_dir=tmp_path, profile="nearest"))
    stats = result.metrics.by_type["frame"]
    assert stats.generated == 3  # the row at 40 s lies past the 30 s run
    assert stats.completed == 3


@pytest.mark.parametrize(
    ("trace", "message"),
    [
        ("0.5,frame,users\nsoon,frame,users\n", "trace.csv:2: time_s: not a number"),
        ("2,frame,users\n1,frame,users\n", "trace.csv:2: time_s: times must be finite"),
        ("1,teleport,users\n", "unknown task type 'teleport'"),
    ],
)
def test_bad_trace_rows_are_named(tmp_path: Path, trace: str, message: str) -> None:
    (tmp_path / "trace.csv").write_text(trace)
    with pytest.raises(TwinError, match=message):
        run_twin(loads_scenario(SMALL, "yaml"), TwinConfig(base_dir=tmp_path))


def test_missing_trace_is_named(tmp_path: Path) -> None:
    with pytest.raises(TwinError, match="trace file not found"):
        run_twin(loads_scenario(SMALL, "yaml"), TwinConfig(base_dir=tmp_path))


def test_mobile_sessions_migrate_when_the_sla_would_break(tmp_path: Path) -> None:
    (tmp_path / "trace.csv").write_text("0.1,frame,users\n0.2,frame,users-2\n")
    scenario = loads_scenario(SMALL, "yaml")
    mobility = MobilityConfig(users=20, task_type="frame", request_rate_per_s=5, dwell_s=3)
    result = run_twin(
        scenario, TwinConfig(base_dir=tmp_path, mobility=mobility, duration_s=30, seed=1)
    )
    stats = result.metrics.by_type["frame"]
    assert stats.generated > 2000
    # A 6 ms budget from the other city (8 ms round trip) breaks: the session must follow.
    assert result.metrics.migrations > 50
    assert stats.sla_met / stats.generated > 0.95


def test_an_imported_edgesimpy_dataset_runs_through_the_twin() -> None:
    scenario = import_edgesimpy(FIXTURES / "importers" / "edgesimpy_small.json")
    result = run_twin(scenario, TwinConfig(duration_s=60, seed=1))
    assert result.generated > 0
    finished = sum(
        s.completed + s.rejected + s.failed + s.cancelled for s in result.metrics.by_class.values()
    )
    assert finished == result.generated
    assert sum(s.completed for s in result.metrics.by_class.values()) > 0


def _imported(tmp_path: Path, change: Callable[[dict[str, Any]], object]) -> Scenario:
    """The small EdgeSimPy fixture, changed by ``change``, imported."""
    data = json.loads((FIXTURES / "importers" / "edgesimpy_small.json").read_text())
    change(data)
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return import_edgesimpy(path)


def test_imported_requests_run_only_on_their_services_instance(tmp_path: Path) -> None:
    def only_es2_fits(data: dict[str, Any]) -> None:
        data["Service"][0]["attributes"]["memory_demand"] = 32768  # svc-1 (app-1), on es-1
        data["EdgeServer"][1]["attributes"]["memory"] = 65536  # es-2 alone has the room

    scenario = _imported(tmp_path, only_es2_fits)
    result = run_twin(scenario, TwinConfig(duration_s=30, seed=1))
    app1 = result.metrics.by_type["app-1"]
    assert app1.generated > 10
    assert (app1.completed, app1.rejected) == (0, app1.generated)  # es-2 is not svc-1's
    assert result.metrics.causes["rejected:service-instances"] == app1.generated
    # the same service listing no instance may run anywhere: es-2 then serves every request
    anywhere = tuple(dataclasses.replace(s, instances=()) for s in scenario.services)
    free = run_twin(
        dataclasses.replace(scenario, services=anywhere), TwinConfig(duration_s=30, seed=1)
    )
    assert free.metrics.by_type["app-1"].completed == app1.generated


def test_an_imported_instance_serves_once_its_image_is_pulled(tmp_path: Path) -> None:
    def pull_48_s(data: dict[str, Any]) -> None:
        data["ContainerRegistry"][0]["relationships"]["server"] = {"class": "EdgeServer", "id": 3}
        layer = data["ContainerLayer"][0]
        layer["attributes"]["size"] = 600  # MB over the 12.5 MB/s links from es-3: 48 s
        layer["relationships"]["server"] = {"class": "EdgeServer", "id": 3}

    scenario = _imported(tmp_path, pull_48_s)
    assert scenario.services[0].instances[0].ready_s == 48.0
    result = run_twin(scenario, TwinConfig(duration_s=60, seed=1))
    app1 = result.metrics.by_type["app-1"]
    # about 48 requests before the pull ends, about 12 after it
    assert app1.rejected >= 30
    assert 3 <= app1.completed <= 25
    assert app1.completed + app1.rejected == app1.generated


def test_an_imported_user_meeting_its_one_way_sla_exactly_is_served(tmp_path: Path) -> None:
    def tight(data: dict[str, Any]) -> None:
        # bs-2 -> es-1 at bs-1: 5 ms wireless + 5 ms link, EdgeSimPy's delay is exactly 10 ms
        data["User"][0]["attributes"]["delay_slas"] = {"1": 10}

    result = run_twin(_imported(tmp_path, tight), TwinConfig(duration_s=30, seed=1))
    app1 = result.metrics.by_type["app-1"]
    assert app1.generated > 10
    assert app1.completed == app1.generated


def test_mobile_users_move_between_an_imported_datasets_base_stations() -> None:
    scenario = import_edgesimpy(FIXTURES / "importers" / "edgesimpy_small.json")
    config = TwinConfig(
        duration_s=120, seed=2, mobility=MobilityConfig(users=4, task_type="app-1", dwell_s=10)
    )
    result = run_twin(scenario, config)
    app1 = result.metrics.by_type["app-1"]
    assert app1.generated > 120 + 4 * 60  # the stream's one a second and the users' requests
    assert app1.completed > 0


def test_max_tasks_ends_the_arrivals_and_the_run_drains_from_there(tmp_path: Path) -> None:
    (tmp_path / "trace.csv").write_text(
        "".join(f"{0.01 * i:.2f},frame,users\n" for i in range(1, 900))
    )
    result = run_twin(
        loads_scenario(SMALL, "yaml"),
        TwinConfig(base_dir=tmp_path, duration_s=3600, max_tasks=100, profile="nearest"),
    )
    assert result.generated == 100
    assert result.end_s < 2.0  # the hundredth request came at 1 s; nothing waits for the hour
