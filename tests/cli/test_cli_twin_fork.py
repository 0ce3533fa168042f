"""``suanwang twin fork`` against a real server on loopback: what-ifs, at 80 columns."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from suanwang.cli.main import app

runner = CliRunner()
SPEC = '{"work_gflop": 5, "cpu_cores": 1, "ingress_site": "term-futian"}'


def cli(*args: str, **env: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "80", **env})
    return result.exit_code, result.stdout, result.stderr


def _env(server: tuple[str, Path], role: str = "operator") -> dict[str, str]:
    url, data = server
    code, out, err = cli("token", "create", "--role", role, "--json", SUANWANG_DATA_DIR=str(data))
    assert code == 0, err
    return {"SUANWANG_URL": url, "SUANWANG_TOKEN": json.loads(out)["token"]}


def test_a_what_if_prints_the_prediction_within_80_columns(server: tuple[str, Path]) -> None:
    env = _env(server)
    code, out, err = cli(
        "twin", "fork", "--spec", SPEC, "--count", "3", "--horizon", "600", "--at", "20h", **env
    )
    assert code == 0, err
    assert "SLA met" in out
    assert "what-if-2" in out
    assert max(len(line) for line in out.splitlines()) <= 80

    code, out, err = cli("twin", "fork", "--spec", SPEC, "--no-background", "-o", "json", **env)
    assert code == 0, err
    prediction = json.loads(out)
    assert prediction["placed"] == 1
    assert prediction["background"] == 0


def test_a_failed_site_and_bad_options_are_named(server: tuple[str, Path], tmp_path: Path) -> None:
    env = _env(server)
    code, _, err = cli("twin", "fork", "--fail-site", "atlantis", **env)
    assert code == 2
    assert "atlantis" in err
    code, _, err = cli("twin", "fork", "--at", "25h", **env)
    assert code == 2
    assert "--at" in err
    bad = tmp_path / "tasks.json"
    bad.write_text('{"not": "a list"}', encoding="utf-8")
    code, _, err = cli("twin", "fork", "--tasks", str(bad), **env)
    assert code == 2
    assert "JSON list" in err
    tasks = tmp_path / "ok.json"
    tasks.write_text(f"[{SPEC}, {SPEC}]", encoding="utf-8")
    code, out, err = cli(
        "twin", "fork", "--tasks", str(tasks), "--fail-site", "edge-futian", "--json", **env
    )
    assert code == 0, err
    assert set(json.loads(out)["per_task"]) == {"what-if-0", "what-if-1"}
    consumer = _env(server, "consumer")
    code, _, err = cli("twin", "fork", **consumer)
    assert code == 2
    assert "403" in err
