"""The EdgeSimPy-format dataset generator: its datasets import, keep their counts, and run."""

from __future__ import annotations

import json
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from suanwang.cli.main import app
from suanwang.scenario.importers import edgesimpy_to_scenario, import_edgesimpy
from suanwang.scenario.importers.edgesimpy_gen import generate_edgesimpy, write_edgesimpy
from suanwang.twin import TwinConfig, run_twin

# EdgeSimPy's sample datasets: 16 base stations on its hexagonal grid, joined by 33 links.
SAMPLE_GRID = [
    [0, 0], [2, 0], [4, 0], [6, 0], [1, 1], [3, 1], [5, 1], [7, 1],
    [0, 2], [2, 2], [4, 2], [6, 2], [1, 3], [3, 3], [5, 3], [7, 3],
]  # fmt: skip


def _round_trip(data: dict[str, Any]) -> Any:
    return json.loads(json.dumps(data))  # what a file holds (Infinity included)


def test_the_grid_and_mesh_are_edgesimpys() -> None:
    data = generate_edgesimpy(6, 6, base_stations=16, seed=2)
    assert [b["attributes"]["coordinates"] for b in data["BaseStation"]] == SAMPLE_GRID
    assert len(data["NetworkLink"]) == 33
    ends = {
        frozenset(n["id"] for n in link["relationships"]["nodes"]) for link in data["NetworkLink"]
    }
    assert frozenset({1, 5}) in ends  # (0, 0) and (1, 1) are neighbours
    assert frozenset({1, 6}) not in ends


@settings(max_examples=20, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(1, 10),
    st.integers(0, 8),
    st.integers(0, 30),
    st.integers(0, 2**31),
)
def test_generated_datasets_of_any_size_import_and_keep_their_counts(
    users: int, servers: int, extra_stations: int, steps: int, seed: int
) -> None:
    stations = max(servers, (users + 3) // 4) + extra_stations
    data = generate_edgesimpy(users, servers, seed=seed, base_stations=stations, steps=steps)
    scenario = edgesimpy_to_scenario(_round_trip(data), "generated")
    topology, workload = scenario.topology, scenario.workload
    assert len(topology.sites) == stations
    assert len(topology.nodes) == servers
    assert len(topology.links) == len(data["NetworkLink"])
    assert len(scenario.services) == users
    assert len(workload.task_types) == users
    assert len(workload.arrivals) == users
    assert sum(a.rate_per_s for a in workload.arrivals) == pytest.approx(users)
    placed = [s for s in data["Service"] if s["relationships"]["server"] is not None]
    assert sum(len(s.instances) for s in scenario.services) == len(placed)
    for user in data["User"]:
        assert len(user["attributes"]["coordinates_trace"]) == steps + 1


def test_services_fit_their_servers_and_power_is_the_builders() -> None:
    data = generate_edgesimpy(300, 25, seed=4)
    for server in data["EdgeServer"]:
        attributes = server["attributes"]
        services = [data["Service"][ref["id"] - 1] for ref in server["relationships"]["services"]]
        registries = len(server["relationships"]["container_registries"])
        cpu = sum(s["attributes"]["cpu_demand"] for s in services) + registries
        assert cpu == attributes["cpu_demand"] <= attributes["cpu"]
        assert attributes["memory_demand"] <= attributes["memory"]
    scenario = edgesimpy_to_scenario(_round_trip(data), "power")
    idle = {dict(n.labels)["model"]: n.idle_power_w for n in scenario.topology.nodes.values()}
    assert idle == {"E5430": 166.0, "E5507": 67.0, "E5645": 63.1}


def test_users_move_and_their_requests_enter_where_they_go() -> None:
    data = generate_edgesimpy(50, 10, seed=1, steps=600, dwell_steps=30.0)
    moves = Counter(
        sum(a != b for a, b in pairwise(trace))
        for trace in (u["attributes"]["coordinates_trace"] for u in data["User"])
    )
    assert sum(n * count for n, count in moves.items()) / 50 == pytest.approx(20, rel=0.3)
    scenario = edgesimpy_to_scenario(_round_trip(data), "mobile")
    assert sum(len(a.ingress) > 1 for a in scenario.workload.arrivals) > 40


def test_the_same_seed_gives_the_same_dataset() -> None:
    assert generate_edgesimpy(30, 5, seed=9) == generate_edgesimpy(30, 5, seed=9)
    assert generate_edgesimpy(30, 5, seed=9) != generate_edgesimpy(30, 5, seed=10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": 0, "servers": 1}, r"users must be at least 1 \(got 0\)"),
        ({"users": 1, "servers": 0}, r"servers must be at least 1 \(got 0\)"),
        ({"users": 1, "servers": 4, "base_stations": 3}, r"base_stations .* \(got 3\)"),
        ({"users": 1, "servers": 1, "dwell_steps": 0.5}, r"dwell_steps .* \(got 0.5\)"),
    ],
)
def test_bad_sizes_are_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_edgesimpy(**kwargs)


def test_a_generated_file_imports_and_runs_through_the_twin(tmp_path: Path) -> None:
    path = tmp_path / "gen.json"
    write_edgesimpy(path, generate_edgesimpy(12, 4, seed=3, steps=60))
    result = run_twin(import_edgesimpy(path), TwinConfig(duration_s=20, seed=1, profile="nearest"))
    assert result.generated == pytest.approx(12 * 20, rel=0.35)
    completed = sum(s.completed for s in result.metrics.by_class.values())
    assert completed > 0.5 * result.generated


def test_the_cli_writes_a_dataset_and_names_a_bad_size(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "es.json"
    args = ["scenario", "generate-edgesimpy", "--users", "40", "--servers", "8", "-o", str(out)]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.stderr
    assert "40 users, 8 servers, 10 base stations" in done.stderr
    assert len(import_edgesimpy(out).topology.nodes) == 8
    bad = runner.invoke(app, [*args[:-2], "--base-stations", "3", "-o", str(out)])
    assert bad.exit_code == 2
    assert "base_stations must be at least servers=8 (got 3)" in bad.stderr
