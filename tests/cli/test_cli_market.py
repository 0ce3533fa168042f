"""``suanwang market`` against a real server: the hospital sells a node, acme leases it, runs a
task there, the period is closed, and the bill and the payouts read back (metro-edge; the
server's default 30-day periods and 5 % platform fee, on the wall clock)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from suanwang.cli.main import app
from suanwang.cli.market import market_app

runner = CliRunner()
HOSPITAL_NODE = "onsite-luohu-hospital-gpu-1"
FACTORY_NODE = "onsite-longhua-factory-box-1"
PERIOD_S = 30 * 86_400.0
TASK = {"work_gflop": 5.0, "cpu_cores": 1.0, "mem_gib": 0.5, "ingress_site": "term-luohu"}


def market(*args: str, **env: str) -> tuple[int, str, str]:
    result = runner.invoke(market_app, list(args), env={"COLUMNS": "80", **env})
    return result.exit_code, result.stdout, result.stderr


def token(data: Path, *args: str) -> str:
    result = runner.invoke(
        app, ["token", "create", *args, "--json"], env={"SUANWANG_DATA_DIR": str(data)}
    )
    assert result.exit_code == 0, result.stderr
    issued: str = json.loads(result.stdout)["token"]
    return issued


@pytest.fixture(scope="module")
def envs(server: tuple[str, Path]) -> dict[str, dict[str, str]]:
    url, data = server
    who = {
        "admin": ("--role", "admin", "--principal", "mk-admin"),
        "hosp": ("--role", "provider", "--principal", "mk-hosp", "--tenant", "hospital"),
        "alice": ("--role", "consumer", "--principal", "mk-alice", "--tenant", "acme"),
        "agent": ("--role", "agent", "--principal", "mk-agent", "--node", HOSPITAL_NODE),
    }
    return {
        name: {"SUANWANG_URL": url, "SUANWANG_TOKEN": token(data, *args)}
        for name, args in who.items()
    }


def fits(out: str) -> None:
    assert max(len(line) for line in out.splitlines()) <= 80, out


def run_on_lease(envs: dict[str, dict[str, str]]) -> str:
    """Submit TASK as acme and run it through the hospital node's agent; returns its node."""
    url = envs["alice"]["SUANWANG_URL"]

    def auth(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {envs[name]['SUANWANG_TOKEN']}"}

    task = httpx.post(f"{url}/v1/tasks", json=TASK, headers=auth("alice")).json()
    node = str(task["placement"]["node_id"])
    for event in ("started", "finished"):
        body = {"node_id": node, "event": event, "reason": "ok"}
        report = httpx.post(f"{url}/v1/tasks/{task['id']}/report", json=body, headers=auth("agent"))
        assert report.status_code == 200, report.text
    return node


def test_sell_buy_run_close_bill_and_pay_out(envs: dict[str, dict[str, str]]) -> None:
    hosp, alice, admin = envs["hosp"], envs["alice"], envs["admin"]
    code, _, err = market("offer", FACTORY_NODE, "--unit", "node.month", "--price", "9.00", **hosp)
    assert code == 2
    assert FACTORY_NODE in err
    code, out, err = market("offer", HOSPITAL_NODE, "--unit", "node.month", "--price", "40.00",
                            "--id", "h1", "--json", **hosp)  # fmt: skip
    assert code == 0, err
    assert (json.loads(out)["provider"], json.loads(out)["price"]) == ("hospital", "40.00")
    code, _, err = market("offer", HOSPITAL_NODE, "--unit", "x", "--price", "1.5.0", **hosp)
    assert code == 2
    assert "price" in err

    code, out, err = market("offers", **alice)
    assert code == 0, err
    fits(out)
    row = next(line for line in out.splitlines() if line.split()[:1] == ["h1"])
    assert row.split()[1:6] == ["hospital", "node.month", "0", "1", "40.00"]
    buy = ("buy", "--unit", "node.month", "--max-price", "50.00", "--lease-id", "L1")
    code, _, err = market(*buy, **alice)
    assert code == 2
    assert "409" in err
    assert "'acme'" in err
    code, out, err = market("deposit", "acme", "100.00", **admin)
    assert code == 0, err
    assert "100.00" in out
    code, out, err = market(*buy, "--json", **alice)
    assert code == 0, err
    assert json.loads(out)[0]["node_ids"] == [HOSPITAL_NODE]

    assert run_on_lease(envs) == HOSPITAL_NODE
    period = str(int(time.time() // PERIOD_S))
    code, out, err = market("close", period, **admin)
    assert code == 0, err
    fits(out)
    assert any(line.split()[:1] == ["acme"] for line in out.splitlines())

    code, out, err = market("bill", period, **alice)
    assert code == 0, err
    fits(out)
    assert "core-s" in out
    assert "L1" in out
    code, out, err = market("bill", period, "--json", **alice)
    bill = json.loads(out)
    assert bill["leases"] == [
        {"lease_id": "L1", "charge": "40.00", "payout": "38.00", "fee": "2.00"}
    ]
    assert bill["closed"] is True
    code, _, err = market("bill", period, "--tenant", "globex", **alice)
    assert code == 2
    assert "403" in err

    code, out, err = market("payouts", **hosp)
    assert code == 0, err
    assert any(line.split() == ["hospital", "38.00"] for line in out.splitlines())
    code, out, err = market("end", "L1", "--reason", "project done", **alice)
    assert code == 0, err
    fits(out)
    assert out.split("\n")[3].split()[:6] == ["L1", "acme", "hospital", "1", "40.00", "ended"]
    code, out, err = market("leases", "-o", "wide", **alice)
    assert code == 0, err
    assert "project done" in out
    code, out, err = market("leases", "--json", **alice)
    assert [(x["lease_id"], x["active"]) for x in json.loads(out)] == [("L1", False)]
    code, out, err = market("close", "-1", **admin)
    assert code == 2


def test_market_is_a_command_of_suanwang() -> None:
    result = runner.invoke(app, ["market", "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    for command in ("offers", "offer", "buy", "leases", "end", "deposit", "close", "bill"):
        assert command in result.stdout
