"""``task submit --type``: "did you mean" from the server's catalogue, a custom scenario's too."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

from typer.testing import CliRunner

from suanwang.cli.main import app

runner = CliRunner()


def test_a_custom_live_scenario_s_types_are_the_hints(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    url, data = server
    made = runner.invoke(
        app,
        ["token", "create", "--role", "admin", "--principal", "cat", "--json"],
        env={"SUANWANG_DATA_DIR": str(data)},
    )
    env = {"SUANWANG_URL": url, "SUANWANG_TOKEN": json.loads(made.stdout)["token"]}
    text = (files("suanwang") / "scenarios" / "cats-arvr.yaml").read_text(encoding="utf-8")
    custom = tmp_path / "holo.yaml"
    custom.write_text(text.replace("ar-vr-frame", "holo-call-frame"), encoding="utf-8")
    loaded = runner.invoke(app, ["scenario", "load", str(custom), "--json"], env=env)
    assert loaded.exit_code == 0, loaded.stderr
    result = runner.invoke(app, ["task", "submit", "--type", "holo-cal-frame"], env=env)
    assert result.exit_code == 2
    assert "did you mean 'holo-call-frame'" in result.stderr
