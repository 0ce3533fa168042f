"""``suanwang measure`` through Typer's test runner, on an app of its own."""

import json

import typer
from typer.testing import CliRunner

from suanwang.cli.measure import measure

app = typer.Typer()
app.command("measure")(measure)
app.command("noop")(lambda: None)  # two commands keep "measure" a named sub-command


def test_measure_prints_a_table():
    result = CliRunner().invoke(app, ["measure", "--runs", "2", "--quick", "--no-gpu"])
    assert result.exit_code == 0, result.output
    assert "cpu_fp64_gflops" in result.stdout
    assert "L2" in result.stdout


def test_measure_prints_json():
    result = CliRunner().invoke(app, ["measure", "--runs", "2", "--quick", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["runs"] == 2
    assert len(data["l2_per_run"]) == 2
    assert 0 <= data["l2"] <= 10
    levels = {record["level"] for record in data["records"]}
    assert levels == {"L0", "L1", "L2"}


def test_bad_runs_is_refused():
    result = CliRunner().invoke(app, ["measure", "--runs", "0"])
    assert result.exit_code == 2
