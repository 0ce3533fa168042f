"""A run's output folder: summary.json, the CSV files and the plots."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from suanwang.scenario import load_builtin
from suanwang.twin import TwinConfig, TwinResult, run_twin
from suanwang.twin.report import TYPE_COLUMNS, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BUCKETS = 40
FILES = ("summary.json", "timeseries.csv", "types.csv", "latency.png", "timeseries.png")


@pytest.fixture(scope="module")
def result() -> TwinResult:
    config = TwinConfig(
        profile="cats-joint", duration_s=4.0, seed=3, start_hour=20, buckets=BUCKETS
    )
    return run_twin(load_builtin("campus"), config)


@pytest.fixture(scope="module")
def folder(result: TwinResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report") / "nested" / "out"
    written = write_report(result, folder)
    assert sorted(p.name for p in written) == sorted((*FILES, "energy.png"))
    assert all(p.parent == folder for p in written)
    return folder


def _csv(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or ()), list(reader)


def test_summary_counts_add_up(folder: Path, result: TwinResult) -> None:
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    tasks = summary["tasks"]
    assert tasks["generated"] == result.generated > 0
    ends = ("completed", "rejected", "failed", "cancelled")
    assert sum(tasks[key] for key in ends) == tasks["generated"]
    for stats in (*summary["classes"].values(), *summary["types"].values()):
        assert sum(stats[key] for key in ends) == stats["generated"]
    assert summary["profile"] == "cats-joint"
    assert summary["seed"] == 3


def test_timeseries_has_one_row_per_bucket(folder: Path, result: TwinResult) -> None:
    columns, rows = _csv(folder / "timeseries.csv")
    assert columns == ["t_s", *result.series.columns, "latency_mean_ms"]
    assert any(column.startswith("util_") for column in columns)
    assert len(rows) == BUCKETS
    times = [float(row["t_s"]) for row in rows]
    assert times == pytest.approx([i * 4.0 / BUCKETS for i in range(BUCKETS)])
    assert sum(float(row["arrivals"]) for row in rows) == result.generated


def test_types_has_one_row_per_task_type(folder: Path, result: TwinResult) -> None:
    columns, rows = _csv(folder / "types.csv")
    assert columns == list(TYPE_COLUMNS)
    assert {row["task_type"] for row in rows} == set(result.metrics.by_type)
    assert sum(int(row["generated"]) for row in rows) == result.generated
    for row in rows:
        if int(row["completed"]):
            assert float(row["latency_p50_ms"]) <= float(row["latency_p99_ms"])
            split = sum(float(row[f"{k}_mean_ms"]) for k in ("network", "queueing", "compute"))
            assert split == pytest.approx(float(row["latency_mean_ms"]), rel=1e-6)


@pytest.mark.parametrize("name", ["latency.png", "timeseries.png", "energy.png"])
def test_plots_are_real_pngs(folder: Path, name: str) -> None:
    data = (folder / name).read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 1024


def test_rewriting_replaces_files_and_leaves_no_temporaries(
    result: TwinResult, tmp_path: Path
) -> None:
    write_report(result, tmp_path)
    write_report(result, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted((*FILES, "energy.png"))
