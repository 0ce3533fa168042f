"""A billing twin run meters every run once and bills it under a plan; the CLI prints the bill."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanwang.cli.main import app
from suanwang.market import Dimension, Meter, builtin_plan, parse_plan
from suanwang.scenario import resolve_scenario
from suanwang.twin import TwinConfig, TwinResult, run_twin
from suanwang.twin.billing import bill

FREE = ("core-s", "gib-s", "accelerator-s", "gflop", "network-gb", "mbps-s")
PER_TASK = {
    "plan": "per-task",
    "currency": "CNY",
    "sla_credit": "1",
    "rates": {"tasks": "1.00", **dict.fromkeys(FREE, "0")},
}


def _run(billing: bool = True) -> TwinResult:
    scenario = resolve_scenario("campus")
    return run_twin(scenario, TwinConfig(duration_s=30.0, start_hour=10.0, billing=billing))


def _usage(result: TwinResult) -> Meter:
    assert result.usage is not None
    return result.usage


def _quantity(usage: Meter, dimension: Dimension) -> float:
    lines = [line for p in usage.periods() for line in usage.lines(p)]
    return sum(line.quantity for line in lines if line.dimension is dimension)


def test_usage_matches_what_the_run_measured() -> None:
    result = _run()
    usage = _usage(result)
    metrics = result.metrics
    assert _quantity(usage, Dimension.CORE_SECONDS) == pytest.approx(
        sum(metrics.busy_core_s.values())
    )
    assert _quantity(usage, Dimension.ACCELERATOR_SECONDS) == pytest.approx(
        sum(metrics.busy_device_s.values())
    )
    completed = sum(stats.completed for stats in metrics.by_class.values())
    assert completed > 100
    assert _quantity(usage, Dimension.TASKS) >= completed
    assert _quantity(usage, Dimension.BANDWIDTH_MBPS_SECONDS) > 0  # campus reserves paths
    assert _run(billing=False).usage is None


def test_a_per_task_bill_with_full_credit_charges_exactly_the_runs_that_met_their_sla() -> None:
    result = _run()
    charged = bill(_usage(result), parse_plan(PER_TASK, "test"))
    met = sum(stats.sla_met for stats in result.metrics.by_class.values())
    assert Decimal(charged["total"]) == Decimal(met)
    assert sum(Decimal(v) for v in charged["providers"].values()) == Decimal(charged["total"])


def test_the_standard_plan_bills_compute_and_network_on_one_invoice() -> None:
    charged = bill(_usage(_run()), builtin_plan())
    (invoice,) = charged["invoices"]
    assert {"core-s", "gib-s", "tasks", "network-gb", "mbps-s"} <= set(invoice["dimensions"])
    assert Decimal(invoice["total"]) == Decimal(charged["total"]) > 0
    assert charged["currency"] == "CNY"


def test_twin_run_bill_prints_the_invoice_and_refuses_a_bad_plan(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["twin", "run", "campus", "--duration", "5", "--out", str(tmp_path / "a")]
    result = runner.invoke(app, [*base, "--bill", "standard", "--json"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["bill"]["plan"] == "standard"
    assert data["bill"]["invoices"][0]["tenant"] == "workload"
    table = runner.invoke(app, [*base, "--overwrite", "--bill", "standard"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.stderr
    assert "provider revenue" in table.stdout
    assert "tasks" in table.stdout
    plan = tmp_path / "plan.yaml"
    plan.write_text("plan: p\ncurrency: CNY\nrates:\n  tasks: 0.5\n", "utf-8")
    bad = runner.invoke(app, [*base, "--overwrite", "--bill", str(plan)])
    assert bad.exit_code == 2
    assert "rates.tasks" in bad.stderr
    assert str(plan) in bad.stderr
