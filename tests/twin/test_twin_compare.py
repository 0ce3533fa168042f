"""Profiles compared on one seeded workload, and sweeps over seeds on a local Ray instance."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from suanwang.model import Scenario
from suanwang.scenario import load_builtin
from suanwang.twin import TwinConfig, TwinError, TwinResult
from suanwang.twin.compare import (
    compare_profiles,
    comparison_rows,
    sweep,
    sweep_table,
    write_comparison,
)

PROFILES = ["nearest", "cats-joint", "green"]
BASE = TwinConfig(duration_s=2.0, seed=5, start_hour=20, buckets=20)


@pytest.fixture(scope="module")
def metro() -> Scenario:
    return load_builtin("metro-edge")


@pytest.fixture(scope="module")
def results(metro: Scenario) -> list[TwinResult]:
    return compare_profiles(metro, PROFILES, BASE)


def test_every_profile_faces_the_same_requests(results: list[TwinResult]) -> None:
    assert [r.config.profile for r in results] == PROFILES
    assert {r.config.seed for r in results} == {5}
    counts = {r.generated for r in results}
    assert len(counts) == 1
    assert counts.pop() > 0
    arrivals = {tuple(r.series.values[:, 0]) for r in results}
    assert len(arrivals) == 1  # same arrivals bucket by bucket, not only in total


def test_progress_names_each_profile(metro: Scenario) -> None:
    seen: set[str] = set()
    compare_profiles(
        metro,
        ["nearest", "random"],
        TwinConfig(duration_s=0.5, seed=1, buckets=4),
        lambda profile, done_s, _: seen.add(profile) if done_s <= 0.5 else None,
    )
    assert seen == {"nearest", "random"}


def test_an_unknown_profile_fails_before_any_run(metro: Scenario) -> None:
    with pytest.raises(TwinError, match="no-such-profile"):
        compare_profiles(metro, ["nearest", "no-such-profile"], BASE)
    with pytest.raises(TwinError):
        compare_profiles(metro, [], BASE)


def test_rows_hold_the_headline_figures(results: list[TwinResult]) -> None:
    rows = comparison_rows(results)
    assert [row["profile"] for row in rows] == PROFILES
    for row, result in zip(rows, results, strict=True):
        assert row["generated"] == result.generated
        assert 0.0 <= row["sla_ratio"] <= 1.0
        assert row["sla_hot"] is not None
        assert row["hot_p50_ms"] <= row["hot_p95_ms"] <= row["hot_p99_ms"]
        assert row["p50_ms"] <= row["p99_ms"]
        for key in ("energy_kwh", "carbon_kg", "cost", "traffic_gb_hops"):
            assert row[key] >= 0.0
        assert row["replacements"] >= 0
        assert row["rejected"] >= 0


def test_comparison_folder(results: list[TwinResult], tmp_path: Path) -> None:
    written = write_comparison(results, tmp_path)
    for name in ("comparison.json", "comparison.csv", "comparison.png"):
        assert tmp_path / name in written
    data = json.loads((tmp_path / "comparison.json").read_text(encoding="utf-8"))
    assert data["scenario"] == "metro-edge"
    assert data["seed"] == 5
    assert [row["profile"] for row in data["rows"]] == PROFILES
    with (tmp_path / "comparison.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["profile"] for row in rows] == PROFILES
    assert (tmp_path / "comparison.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "comparison.png").stat().st_size > 1024
    for profile in PROFILES:
        summary = json.loads((tmp_path / profile / "summary.json").read_text(encoding="utf-8"))
        assert summary["profile"] == profile
        assert (tmp_path / profile / "timeseries.png").is_file()


def test_sweep_table_gives_mean_and_range() -> None:
    def summary(profile: str, seed: int, sla: float, cost: float) -> dict[str, object]:
        hot = {"completed": 1, "latency_ms": {"p95": 10.0 * seed}}
        return {
            "profile": profile,
            "seed": seed,
            "tasks": {"sla_ratio": sla},
            "classes": {"hot": hot},
            "carbon_kg": 1.0,
            "cost": cost,
        }

    table = sweep_table(
        [summary("a", 1, 0.5, 1.0), summary("a", 2, 1.0, 3.0), summary("b", 1, 0.9, 2.0)]
    )
    assert [row["profile"] for row in table] == ["a", "b"]
    a = table[0]
    assert a["runs"] == 2
    assert a["seeds"] == [1, 2]
    assert a["sla_ratio"] == {"mean": 0.75, "min": 0.5, "max": 1.0}
    assert a["hot_p95_ms"] == {"mean": 15.0, "min": 10.0, "max": 20.0}
    assert a["cost"] == {"mean": 2.0, "min": 1.0, "max": 3.0}


def test_sweep_refuses_bad_input_before_starting_ray() -> None:
    with pytest.raises(TwinError, match="no-such-profile"):
        sweep("campus", ["no-such-profile"], [1], BASE)
    with pytest.raises(TwinError):
        sweep("campus", ["nearest"], [], BASE)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_sweep_on_local_ray() -> None:
    pytest.importorskip("ray", reason="the sweep needs the ray extra")
    steps: list[tuple[int, int]] = []
    summaries = sweep(
        "campus",
        ["nearest", "green"],
        [1, 2],
        TwinConfig(duration_s=1.0, start_hour=20, buckets=10),
        workers=2,
        progress=lambda done, total: steps.append((done, total)),
    )
    assert [(s["profile"], s["seed"]) for s in summaries] == [
        ("nearest", 1),
        ("nearest", 2),
        ("green", 1),
        ("green", 2),
    ]
    assert steps[-1] == (4, 4)
    by_seed: dict[int, set[int]] = {}
    for s in summaries:
        by_seed.setdefault(s["seed"], set()).add(s["tasks"]["generated"])
    assert all(len(counts) == 1 for counts in by_seed.values())  # same seed, same requests
    assert by_seed[1] != by_seed[2]
    import ray

    assert not ray.is_initialized()  # the sweep stops the instance it started
    table = sweep_table(summaries)
    assert [row["runs"] for row in table] == [2, 2]


def test_sweep_without_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(TwinError, match=r"pip install 'suanwang\[ray\]'"):
        sweep("campus", ["nearest"], [1], BASE)
