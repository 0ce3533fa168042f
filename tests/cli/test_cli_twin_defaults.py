"""The first ``twin run`` of a built-in loads its fleet visibly; a given option means plain."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from suanwang.cli.main import app
from suanwang.cli.twin_defaults import FIRST_RUNS, PLAIN, FirstRun, first_run
from suanwang.scenario import builtin_names

runner = CliRunner()


def test_every_built_in_has_a_measured_first_run() -> None:
    assert set(FIRST_RUNS) == set(builtin_names())


def test_given_options_win_and_files_keep_one_minute_at_their_rates() -> None:
    assert first_run("east-west", None, None) == FIRST_RUNS["east-west"]
    # the pair goes together: a day alone is a day at the scenario's own rates
    assert first_run("east-west", 86400.0, None) == FirstRun(86400.0, 1.0)
    assert first_run("east-west", None, 3.0) == FirstRun(60.0, 3.0)
    assert first_run("my/scenario.yaml", None, None) == PLAIN


def test_the_default_run_of_cats_arvr_loads_its_edge(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["twin", "run", "cats-arvr", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["duration_s"] == FIRST_RUNS["cats-arvr"].duration_s
    assert summary["tasks"]["generated"] > 5_000  # 20 x the scenario's 20 frames a second
    series = (out / "timeseries.csv").read_text(encoding="utf-8").splitlines()
    header = series[0].split(",")
    column = header.index("util_edge")
    peak = max(float(line.split(",")[column]) for line in series[1:])
    assert peak > 0.2
