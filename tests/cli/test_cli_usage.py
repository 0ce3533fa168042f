"""``suanwang usage`` and ``suanwang invoice`` against a real server: acme leases the hospital's
node and runs a task there; its usage by dimension, its invoice list and one invoice read back,
in tables that fit 80 columns with every id and amount whole."""

from __future__ import annotations

import json
import time

import yaml
from test_cli_market import HOSPITAL_NODE, PERIOD_S, envs, fits, run_on_lease, token
from typer.testing import CliRunner

from suanwang.cli.main import app

__all__ = ["envs", "token"]  # the fixture and its helper, imported to be used here

runner = CliRunner()
ELLIPSIS = "…"


def suanwang(*args: str, **env: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "80", **env})
    return result.exit_code, result.stdout, result.stderr


def whole(out: str) -> None:
    fits(out)
    assert ELLIPSIS not in out, out


def test_usage_and_invoices_of_a_leased_run(envs: dict[str, dict[str, str]]) -> None:
    hosp, alice, admin = envs["hosp"], envs["alice"], envs["admin"]
    offer = ("market", "offer", HOSPITAL_NODE, "--unit", "node.month", "--price", "40.00")
    code, _, err = suanwang(*offer, "--id", "h1", **hosp)
    assert code == 0, err
    assert suanwang("market", "deposit", "acme", "100.00", **admin)[0] == 0
    buy = ("market", "buy", "--unit", "node.month", "--max-price", "50.00", "--lease-id", "L1")
    code, _, err = suanwang(*buy, **alice)
    assert code == 0, err
    assert run_on_lease(envs) == HOSPITAL_NODE
    period = int(time.time() // PERIOD_S)

    code, out, err = suanwang("usage", **alice)
    assert code == 0, err
    whole(out)
    assert f"period {period}" in out
    row = next(line.split() for line in out.splitlines() if line.split()[:1] == ["core-s"])
    code, data, err = suanwang("usage", "-o", "json", **alice)
    usage = json.loads(data)
    assert (usage["tenant"], usage["period"], usage["closed"]) == ("acme", period, False)
    core = next(d for d in usage["dimensions"] if d["dimension"] == "core-s")
    assert core["quantity"] > 0
    assert core["providers"] == {"hospital": core["quantity"]}
    assert row[-1] == f"{core['quantity']:,.6g}"
    code, data, err = suanwang("usage", "-o", "yaml", "--period", str(period), **alice)
    assert yaml.safe_load(data) == usage
    code, out, err = suanwang("usage", "-o", "wide", **alice)
    assert code == 0, err
    assert "hospital" in out
    code, _, err = suanwang("usage", "--tenant", "globex", **alice)
    assert code == 2
    assert "403" in err
    code, data, err = suanwang("usage", "--json", **admin)
    assert json.loads(data)["tenant"] is None  # staff: every tenant's

    code, _, err = suanwang("market", "close", str(period), **admin)
    assert code == 0, err
    code, out, err = suanwang("invoice", "list", **alice)
    assert code == 0, err
    whole(out)
    code, data, err = suanwang("invoice", "list", "-o", "json", **alice)
    (listed,) = json.loads(data)
    assert (listed["tenant"], listed["period"], listed["closed"]) == ("acme", period, True)
    invoice = f"acme/{period}"
    row = next(line.split() for line in out.splitlines() if line.split()[:1] == [invoice])
    assert row[1:3] == ["closed", listed["usage"]]
    assert row[4:7] == ["40.00", listed["total"], listed["currency"]]

    code, shown, err = suanwang("invoice", "show", f"acme/{period}", "-o", "json", **alice)
    assert code == 0, err
    code, billed, err = suanwang("market", "bill", str(period), "--json", **alice)
    assert json.loads(shown) == json.loads(billed) == listed
    code, out, err = suanwang("invoice", "show", str(period), **alice)
    assert code == 0, err
    whole(out)
    assert "L1" in out
    code, _, err = suanwang("invoice", "show", "acme/12x", **alice)
    assert code == 2
    assert "'acme/12x' is not <tenant>/<period>" in err
    code, _, err = suanwang("invoice", "show", f"globex/{period}", **alice)
    assert code == 2
    assert "403" in err


def test_usage_and_invoice_are_commands_of_suanwang() -> None:
    code, out, _ = suanwang("--help")
    assert code == 0
    assert "usage" in out
    assert "invoice" in out
    code, out, _ = suanwang("invoice", "--help")
    assert "list" in out
    assert "show" in out
