"""``suanwang intent apply | list | show | withdraw`` against a real server on loopback, with the
shipped example intent on the default scenario, at 80 columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanwang.cli.main import app

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "intent-futian-vr.yaml"


def cli(*args: str, **env: str) -> tuple[int, str, str]:
    """``suanwang ARGS`` at 80 columns: exit code, stdout, stderr."""
    result = runner.invoke(app, list(args), env={"COLUMNS": "80", **env})
    return result.exit_code, result.stdout, result.stderr


def _env(server: tuple[str, Path], principal: str, tenant: str) -> dict[str, str]:
    url, data = server
    code, out, err = cli(
        "token", "create", "--role", "consumer", "--principal", principal, "--tenant", tenant,
        "--json", SUANWANG_DATA_DIR=str(data),
    )  # fmt: skip
    assert code == 0, err
    return {"SUANWANG_URL": url, "SUANWANG_TOKEN": json.loads(out)["token"]}


@pytest.fixture(scope="module")
def alice(server: tuple[str, Path]) -> dict[str, str]:
    return _env(server, "alice", "acme")


@pytest.fixture(scope="module")
def bob(server: tuple[str, Path]) -> dict[str, str]:
    return _env(server, "bob", "globex")


def _narrow(out: str) -> bool:
    return max(len(line) for line in out.splitlines()) <= 80


def _intent_file(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "intent.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_the_example_is_dry_run_then_applied_listed_and_shown(alice: dict[str, str]) -> None:
    code, out, err = cli("intent", "apply", "-f", str(EXAMPLE), "--dry-run", **alice)
    assert code == 0, err
    assert "translation" in out
    assert "predicted SLA met" in out
    assert "dry run: nothing placed" in out
    assert _narrow(out)
    code, out, err = cli("intent", "apply", "-f", str(EXAMPLE), "--dry-run", "--json", **alice)
    assert code == 0, err
    plan = json.loads(out)
    assert (plan["replicas"], plan["intent"], plan["prediction"]["placed"]) == (3, None, 3)
    rules = {d["field"]: d["rule"] for d in plan["derivations"]}
    assert rules["budget per task"] == "budget 0.001 / 3 replicas"

    code, out, err = cli("intent", "apply", "-f", str(EXAMPLE), **alice)
    assert code == 0, err
    assert _narrow(out)
    applied_line = next(line for line in out.splitlines() if line.startswith("intent "))
    intent_id = applied_line.split()[1]
    assert applied_line == f"intent {intent_id} applied: met"

    code, out, err = cli("intent", "list", **alice)
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.split()[:1] == [intent_id])
    assert row.split()[1:] == ["futian-vr", "met", "3"]
    code, out, err = cli("intent", "show", intent_id[:10], **alice)
    assert code == 0, err
    assert _narrow(out)
    assert "history" in out
    assert "ar-vr: users 20" in out
    assert "predicted SLA met" in out  # the stored prediction, to set against the measured
    assert "predicted sites" in out
    code, out, err = cli("intent", "show", intent_id, "-o", "json", **alice)
    assert code == 0, err
    shown = json.loads(out)
    assert [t["state"] for t in shown["tasks"]] == ["scheduled"] * 3
    assert all(t["id"] in cli("intent", "show", intent_id, **alice)[1] for t in shown["tasks"])
    assert shown["history"][0]["reason"].startswith("applied: 3 tasks submitted live")
    assert shown["assurance"]["predicted"] == plan["prediction"]["sla_met_fraction"]
    assert len(shown["prediction"]["sites"]) == 3


def test_a_refused_intent_prints_its_conflicts_and_exits_3(
    alice: dict[str, str], tmp_path: Path
) -> None:
    tight = _intent_file(tmp_path, "latency_ms: 5", "latency_ms: 0.1")

    code, out, err = cli("intent", "apply", "-f", str(tight), **alice)

    assert code == 3
    assert "latency-reach" in out
    assert "quality.latency_ms vs coverage" in err
    assert _narrow(out)
    code, out, _ = cli("intent", "apply", "-f", str(tight), "--json", **alice)
    assert code == 3
    assert [c["kind"] for c in json.loads(out)["conflicts"]] == ["latency-reach"]


def test_a_bad_file_is_one_line_naming_file_line_field_and_value(
    alice: dict[str, str], tmp_path: Path
) -> None:
    bad = _intent_file(tmp_path, "users: 20", "users: -5")

    code, out, err = cli("intent", "apply", "-f", str(bad), **alice)

    assert code == 2
    assert out == ""
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1) if "need:" in text)
    assert f"{bad}:{line}: need.users:" in err
    assert "(got -5)" in err
    code, _, err = cli("intent", "apply", "-f", str(tmp_path / "none.yaml"), **alice)
    assert code == 2
    assert "none.yaml" in err


def test_withdraw_cancels_the_tasks_and_another_tenant_sees_nothing(
    alice: dict[str, str], bob: dict[str, str]
) -> None:
    code, out, err = cli("intent", "apply", "-f", str(EXAMPLE), "--json", **alice)
    assert code == 0, err
    intent = json.loads(out)["intent"]
    code, _, err = cli("intent", "show", intent["id"], **bob)
    assert code == 2
    assert "404" in err
    code, _, err = cli("intent", "withdraw", intent["id"], **bob)
    assert code == 2
    code, out, _ = cli("intent", "list", "--json", **bob)
    assert json.loads(out) == []

    code, out, err = cli("intent", "withdraw", intent["id"], **alice)

    assert code == 0, err
    assert "withdrawn" in out
    assert "3 live task(s) cancelled" in out
    code, out, err = cli("intent", "show", intent["id"], "--json", **alice)
    assert code == 0, err
    shown = json.loads(out)
    assert shown["status"] == "withdrawn"
    assert {t["state"] for t in shown["tasks"]} == {"cancelled"}
