"""``suanwang agent enroll | enrol-token`` and ``agent --credentials``: bad input is one line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from suanwang.cli.main import app
from suanwang.storage import open_store


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_enroll_does_nothing_when_already_enrolled(tmp_path: Path) -> None:
    credentials = tmp_path / "edge-1.json"
    credentials.write_text("{}", encoding="utf-8")
    code, out = _run(
        "agent", "enroll", "--server", "http://127.0.0.1:9", "--enrol-token", "swe_x",
        "--node", "edge-1", "--credentials", str(credentials),
    )  # fmt: skip
    assert code == 0, out
    assert "already enrolled" in out


def test_an_agent_needs_a_node_or_credentials(tmp_path: Path) -> None:
    code, out = _run("agent", "--token", "swt_x")
    assert code == 2
    assert "--node (or --credentials) is required" in out
    bad = tmp_path / "bad.json"
    bad.write_text('{"node_id": "edge-1"}', encoding="utf-8")
    code, out = _run("agent", "--credentials", str(bad))
    assert code == 2
    assert "not a credentials file" in out


def test_enrol_token_is_made_on_the_database_and_shown_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    open_store(url).close()
    code, out = _run(
        "agent", "enrol-token", "--node", "edge-1", "--tenant", "acme", "--ttl", "60",
        "--json", "--database", url,
    )  # fmt: skip
    assert code == 0, out
    made = json.loads(out)
    assert made["token"].startswith("swe_")
    assert made["node_id"] == "edge-1"
    with open_store(url) as stores:
        actions = [e.action for e in stores.audit.list()]
    assert actions == ["enrol-token.create"]
