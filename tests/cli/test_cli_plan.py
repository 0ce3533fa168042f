"""``suanwang plan``: batch placement and the profile comparison, in-process.

``cli/main.py`` registers the command; these tests mount the command function on an app of
their own so that they do not depend on the registration.
"""

import json

import pytest
import typer
from typer.testing import CliRunner

from suanwang.cli.plan import plan
from suanwang.scheduling import builtin_profiles

runner = CliRunner()
app = typer.Typer()
app.command()(plan)
WIDE = {"COLUMNS": "200"}


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=WIDE)
    return result.exit_code, result.stdout, result.stderr


def test_compare_prints_every_profile_the_flow_and_the_optimum() -> None:
    code, out, _ = run("metro-edge", "--compare", "--tasks", "40", "--seed", "2")
    assert code == 0, out
    for name in (*builtin_profiles(), "batch-flow", "milp-optimum"):
        assert name in out
    for column in ("SLA %", "mean ms", "gap pp", "nodes used"):
        assert column in out
    for column in ("objective", "carbon g"):  # -o wide's ("cost" is also a profile)
        assert column not in out
    assert "milp-optimum: optimal" in out
    code, out, _ = run("metro-edge", "--compare", "--tasks", "40", "--seed", "2", "-o", "wide")
    assert code == 0, out
    for column in ("objective", "SLA %", "cost", "carbon g", "gap pp"):
        assert column in out


def test_compare_as_json() -> None:
    code, out, _ = run("metro-edge", "--compare", "--tasks", "40", "--seed", "2", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["scenario"] == "metro-edge"
    assert data["tasks"] == 40
    rows = {row["name"]: row for row in data["rows"]}
    assert set(rows) == {*builtin_profiles(), "batch-flow", "milp-optimum"}
    best = rows["milp-optimum"]["sla_satisfaction"]
    assert data["optimum"]["status"] == "optimal"
    for row in rows.values():
        assert row["gap_pp"] == pytest.approx(100 * (best - row["sla_satisfaction"]))
        assert row["sla_met"] <= rows["milp-optimum"]["sla_met"]
    assert data["flow"]["tasks"] == 40


def test_plan_without_compare_is_the_batch_flow_alone() -> None:
    code, out, _ = run("campus", "--tasks", "25", "--json", "--profile", "green")
    assert code == 0
    data = json.loads(out)
    assert [row["name"] for row in data["rows"]] == ["batch-flow"]
    assert "green" in data["rows"][0]["objective"]
    assert data["optimum"] is None
    assert data["rows"][0]["gap_pp"] is None
    unplaced = sum(item["tasks"] for item in data["unplaced_reasons"])
    assert unplaced == data["rows"][0]["tasks"] - data["rows"][0]["placed"]


def test_milp_limit_zero_skips_the_optimum() -> None:
    code, out, _ = run("campus", "--compare", "--tasks", "10", "--milp-limit", "0", "--json")
    assert code == 0
    data = json.loads(out)
    assert "milp-optimum" not in [row["name"] for row in data["rows"]]
    assert all(row["gap_pp"] is None for row in data["rows"])


def test_a_model_too_large_is_said_so() -> None:
    code, out, _ = run("metro-edge", "--compare", "--tasks", "30", "--milp-limit", "5")
    assert code == 0
    assert "not computed (too large" in out


def test_same_seed_same_answer() -> None:
    def figures() -> list[tuple[str, int, int]]:
        code, out, _ = run("campus", "--tasks", "30", "--seed", "4", "--json")
        assert code == 0
        return [(r["name"], r["placed"], r["sla_met"]) for r in json.loads(out)["rows"]]

    assert figures() == figures()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-scenario"], "neither a scenario file nor a built-in"),
        (["campus", "--profile", "no-such-profile"], "unknown profile"),
        (["missing.yaml"], "missing.yaml"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert message in err
    assert err.strip().count("\n") == 0
    assert "Traceback" not in out + err


def test_bad_option_values_exit_2() -> None:
    code, _, _ = run("campus", "--tasks", "0")
    assert code == 2
