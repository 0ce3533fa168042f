"""``suanwang twin market``: a day of call-market rounds as a table of 80 columns and as data."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from suanwang.cli.main import app

runner = CliRunner()
ELLIPSIS = "…"


def twin_market(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["twin", "market", *args], env={"COLUMNS": "80"})
    return result.exit_code, result.stdout, result.stderr


def test_rounds_and_the_day_in_a_table_and_as_json() -> None:
    code, out, err = twin_market("metro-edge", "--rounds", "6", "--seed", "2")
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) <= 80, out
    assert ELLIPSIS not in out
    code, data, err = twin_market("metro-edge", "--rounds", "6", "--seed", "2", "-o", "json")
    assert code == 0, err
    day = json.loads(data)
    assert [r["hour"] for r in day["rounds"]] == [0.0, 4.0, 8.0, 12.0, 16.0, 20.0]
    for r in day["rounds"]:
        row = next(
            line.split() for line in out.splitlines() if line.split()[:1] == [str(r["round"])]
        )
        assert row[4:8] == [
            f"{r['units']:,}",
            r["buyer_price"],
            r["welfare"],
            f"{r['efficiency']:.4f}",
        ]
    summary = next(line.split() for line in out.splitlines() if day["welfare"] in line.split())
    assert summary[3:6] == [day["welfare"], day["optimal_welfare"], f"{day['efficiency']:.4f}"]
    code, data, _ = twin_market("metro-edge", "--rounds", "6", "--seed", "2", "-o", "yaml")
    assert yaml.safe_load(data) == day
    code, out, err = twin_market("metro-edge", "--rounds", "2", "-o", "wide")
    assert code == 0, err
    assert "surplus" in out
    assert "seller" in out


def test_bad_input_is_one_line_and_exit_2() -> None:
    code, _, err = twin_market("no-such-scenario")
    assert code == 2
    assert "no-such-scenario" in err
    code, _, err = twin_market("metro-edge", "--rounds", "0")
    assert code == 2
    assert "--rounds" in err
