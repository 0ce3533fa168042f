"""``suanwang task | node | token | serve`` against a real server on loopback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanwang.cli.main import app

runner = CliRunner()
WIDE = {"COLUMNS": "200"}
TASK = ["--work-gflop", "5", "--cpu-cores", "1", "--ingress", "term-futian"]


def cli(*args: str, **env: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={**WIDE, **env})
    return result.exit_code, result.stdout, result.stderr


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _token(data: Path, *args: str) -> str:
    code, out, err = cli("token", "create", *args, "--json", SUANWANG_DATA_DIR=str(data))
    assert code == 0, err
    token: str = json.loads(out)["token"]
    return token


def test_the_first_token_comes_straight_from_the_database(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'fresh.db'}"
    code, out, _ = cli(
        "token", "create", "--role", "admin", "--database", database, "--create-database"
    )
    assert code == 0
    assert "for admin" in out
    assert "swt_" in out
    code, _, err = cli(
        "token", "create", "--role", "consumer", "--principal", "admin", "--database", database
    )
    assert code == 2
    assert err.startswith("error: principal admin exists")
    code, _, err = cli("token", "create", "--role", "wizard", "--database", database)
    assert code == 2
    assert "wizard" in err


def test_submit_list_get_explain_cancel(server: tuple[str, Path]) -> None:
    url, data = server
    env = {
        "SUANWANG_URL": url,
        "SUANWANG_TOKEN": _token(data, "--role", "consumer", "--tenant", "acme"),
    }
    code, out, err = cli("task", "submit", *TASK, "--key", "k1", "--json", **env)
    assert code == 0, err
    task = json.loads(out)
    assert task["state"] == "scheduled"
    code, out, _ = cli("task", "submit", *TASK, "--key", "k1", "--json", **env)
    assert json.loads(out)["id"] == task["id"]
    assert task["spec"]["long_running"] is False
    code, out, _ = cli("task", "submit", *TASK, "--long-running", "--json", **env)
    assert json.loads(out)["spec"]["long_running"] is True
    code, out, _ = cli(
        "task",
        "submit",
        "--type",
        "video-analytics-frame",
        "--ingress",
        "term-futian",
        "-o",
        "wide",
        **env,
    )
    assert code == 0
    assert "video-analytics-frame" in out
    code, out, _ = cli("task", "list", **env)
    assert code == 0
    assert task["id"] in out
    code, out, _ = cli("task", "list", "--limit", "1", "--json", **env)
    assert len(json.loads(out)["items"]) == 1
    code, out, _ = cli("task", "get", task["id"], **env)
    assert "placed on" in out
    code, out, _ = cli("task", "explain", task["id"], "--node", "hub-nonexistent", **env)
    assert code == 2
    code, out, _ = cli("task", "explain", task["id"], **env)
    assert code == 0
    assert "would go to" in out
    assert "its own hold left out" in out
    assert "why here:" in out
    assert "chosen and runners-up" in out
    code, out, _ = cli("task", "cancel", task["id"], "--json", **env)
    assert json.loads(out)["state"] == "cancelled"
    code, _, err = cli("task", "cancel", task["id"], **env)
    assert code == 2
    assert err.count("\n") == 1
    assert "409" in err


def test_nodes(server: tuple[str, Path]) -> None:
    url, data = server
    env = {
        "SUANWANG_URL": url,
        "SUANWANG_TOKEN": _token(data, "--role", "operator", "--principal", "op1"),
    }
    code, out, _ = cli("node", "list", "--site", "edge-futian", **env)
    assert code == 0
    assert "edge-futian-mec-1" in out
    code, out, _ = cli("node", "list", "--json", **env)
    assert len(json.loads(out)) > 100
    code, out, _ = cli("node", "drain", "edge-futian-mec-1", "--reason", "patching", **env)
    assert code == 0
    assert "draining" in out
    code, out, _ = cli("node", "list", "--state", "draining", "--json", **env)
    assert [n["id"] for n in json.loads(out)] == ["edge-futian-mec-1"]
    code, out, _ = cli("node", "down", "edge-futian-mec-1", "--json", **env)
    assert json.loads(out)["state"] == "down"
    code, out, _ = cli("node", "up", "edge-futian-mec-1", "--json", **env)
    assert json.loads(out) == {"id": "edge-futian-mec-1", "state": "up", "replaced_tasks": 0}
    code, _, err = cli("node", "drain", "no-such-node", **env)
    assert code == 2
    assert "404" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("task", "submit", "--ingress", "term-futian"), "work_gflop"),
        (("task", "submit", "--spec", "{nope"), "--spec"),
        (("task", "get", "no-such-task"), "404"),
        (("task", "list", "--state", "dreaming"), "422"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    server: tuple[str, Path], args: tuple[str, ...], needle: str
) -> None:
    url, data = server
    env = {
        "SUANWANG_URL": url,
        "SUANWANG_TOKEN": _token(data, "--role", "consumer", "--principal", "c2"),
    }
    code, out, err = cli(*args, **env)
    assert code == 2
    assert err.startswith("error:")
    assert err.count("\n") == 1, err
    assert needle in err
    assert out == ""


def test_tokens_missing_bad_and_revoked(server: tuple[str, Path]) -> None:
    url, data = server
    code, _, err = cli("task", "list", "--url", url, SUANWANG_TOKEN="")
    assert (code, "no token" in err) == (2, True)
    code, _, err = cli("task", "list", "--url", url, "--token", "swt_wrong")
    assert (code, "401" in err) == (2, True)
    code, out, _ = cli(
        "token",
        "create",
        "--role",
        "consumer",
        "--principal",
        "c3",
        "--json",
        SUANWANG_DATA_DIR=str(data),
    )
    issued = json.loads(out)
    assert cli("task", "list", "--url", url, "--token", issued["token"])[0] == 0
    code, _, _ = cli("token", "revoke", issued["token_id"], SUANWANG_DATA_DIR=str(data))
    assert code == 0
    assert cli("task", "list", "--url", url, "--token", issued["token"])[0] == 2
    assert cli("token", "revoke", issued["token_id"], SUANWANG_DATA_DIR=str(data))[0] == 2


def test_an_unreachable_server_is_exit_1() -> None:
    code, _, err = cli("task", "list", "--url", f"http://127.0.0.1:{_free_port()}", "--token", "t")
    assert code == 1
    assert err.startswith("error: cannot reach")


def test_serve_refuses_a_bad_scenario_before_starting(tmp_path: Path) -> None:
    code, _, err = cli("serve", "--scenario", "atlantis", "--data-dir", str(tmp_path))
    assert code == 2
    assert "atlantis" in err
    code, _, err = cli("serve", "--profile", "bogus", "--data-dir", str(tmp_path))
    assert code == 2
    assert "bogus" in err
