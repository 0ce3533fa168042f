"""``suanwang twin run`` and ``suanwang twin compare``, in-process."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanwang.cli.main import app

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["twin", *args], env=WIDE)
    return result.exit_code, result.stdout, result.stderr


def test_run_prints_the_tables_and_writes_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, stdout, stderr = run(
        "run", "campus", "--profile", "nearest", "--duration", "2", "--seed", "4", "--out", str(out)
    )
    assert code == 0, stderr
    for text in ("campus · nearest · seed 4", "SLA %", "p95 ms", "hot", "all", "energy"):
        assert text in stdout
    for text in ("carbon", "re-placements", "migrations", "tasks per wall second"):
        assert text in stdout
    assert f"report: {out}" in stdout
    names = {p.name for p in out.iterdir()}
    assert {"summary.json", "timeseries.csv", "types.csv", "latency.png", "energy.png"} <= names


def test_run_as_json_with_mobile_users(tmp_path: Path) -> None:
    code, stdout, _ = run(
        "run",
        "metro-edge",
        "--duration",
        "2",
        "--users",
        "20",
        "--dwell-s",
        "0.5",
        "--no-failures",
        "--start-hour",
        "9",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert code == 0
    data = json.loads(stdout)
    assert data["profile"] == "cats-joint"
    assert data["seed"] == 1
    assert data["start_hour"] == 9
    assert data["output"] == str(tmp_path)
    tasks = data["tasks"]
    ends = ("completed", "rejected", "failed", "cancelled")
    assert sum(tasks[key] for key in ends) == tasks["generated"] > 0


def test_run_default_folder_is_under_twin_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, stdout, _ = run("run", "campus", "--duration", "0.5", "--seed", "2")
    assert code == 0
    folder = Path("twin-out") / "campus-cats-joint-s2"
    assert f"report: {folder}" in stdout
    assert (tmp_path / folder / "summary.json").is_file()


def test_compare_prints_one_row_per_profile(tmp_path: Path) -> None:
    code, stdout, stderr = run(
        "compare",
        "campus",
        "--profiles",
        "nearest,green",
        "--duration",
        "2",
        "--out",
        str(tmp_path),
    )
    assert code == 0, stderr
    for text in ("nearest", "green", "SLA", "p95", "CO2", "latency of hot requests, ms"):
        assert text in stdout
    assert (tmp_path / "comparison.csv").is_file()
    assert (tmp_path / "nearest" / "summary.json").is_file()
    assert (tmp_path / "green" / "latency.png").is_file()


def test_compare_as_json(tmp_path: Path) -> None:
    code, stdout, _ = run(
        "compare",
        "campus",
        "--profiles",
        "nearest, random",
        "--duration",
        "1",
        "--json",
        "--out",
        str(tmp_path),
    )
    assert code == 0
    data = json.loads(stdout)
    rows = data["rows"]
    assert [row["profile"] for row in rows] == ["nearest", "random"]
    assert rows[0]["generated"] == rows[1]["generated"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("run", "campus", "--profile", "no-such-profile"), "no-such-profile"),
        (("run", "campus", "--duration", "-5"), "duration must be positive"),
        (("run", "campus", "--duration", "inf"), "finite"),
        (("compare", "campus", "--duration", "nan"), "finite"),
        (("run", "no-such-scenario"), "no-such-scenario"),
        (("run", "campus", "--rate-scale", "-1"), "rate scale"),
        (("run", "campus", "--users", "-1"), "users"),
        (("compare", "campus", "--profiles", "nearest,bogus", "--duration", "1"), "bogus"),
        (("compare", "campus", "--profiles", ","), "--profiles"),
        (("compare", "campus", "--sweep", "--seeds", "1,x"), "--seeds"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], needle: str) -> None:
    code, stdout, stderr = run(*args)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error:")
    assert needle in lines[0]
    assert stdout == ""


def test_bad_trace_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "trace.csv").write_text("time_s,task_type,ingress\n0.1,job,s\nsoon,job,s\n")
    scenario = tmp_path / "traced.yaml"
    scenario.write_text(
        """
version: 1
name: traced
sites:
  - {id: s, tier: edge, region: CN-BJ, geo: {lat_deg: 39.9, lon_deg: 116.4}}
nodes:
  - {id: n, site: s, cpu_cores: 8, mem_gib: 32, cpu_peak_gflops: {fp32: 400}}
workload:
  duration_s: 60
  task_types:
    - {name: job, class: warm, work_gflop: 1, precision: fp32, cpu_cores: 1, mem_gib: 1}
  arrivals:
    - {task_type: job, kind: trace, trace_file: trace.csv}
""",
        encoding="utf-8",
    )
    code, _, stderr = run("run", str(scenario), "--duration", "5", "--out", str(tmp_path / "o"))
    assert code == 2
    line = stderr.strip()
    assert "\n" not in line
    assert "trace.csv:3" in line
    assert "not a number" in line


def test_help_mentions_the_short_default_duration() -> None:
    result = runner.invoke(app, ["twin", "run", "--help"], env=WIDE)
    assert result.exit_code == 0
    assert "--duration" in result.stdout
    assert "first try" in result.stdout


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_compare_sweep_on_local_ray(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="the sweep needs the ray extra")
    code, stdout, stderr = run(
        "compare",
        "campus",
        "--profiles",
        "nearest,green",
        "--duration",
        "1",
        "--sweep",
        "--seeds",
        "1,2",
        "--workers",
        "2",
        "--out",
        str(tmp_path),
    )
    assert code == 0, stderr
    for text in ("campus · seeds 1, 2", "nearest", "green", "hot p95 ms", "min–max"):
        assert text in stdout
    data = json.loads((tmp_path / "sweep.json").read_text(encoding="utf-8"))
    assert len(data["runs"]) == 4
    assert [row["profile"] for row in data["table"]] == ["nearest", "green"]
