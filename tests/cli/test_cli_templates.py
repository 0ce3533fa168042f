"""``template apply | list | show | delete`` against a real server (metro-edge, no agents),
with the example template of ``docs/examples``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from suanwang.cli.main import app

runner = CliRunner()
EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "template-video.yaml"


def cli(*args: str, **env: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "80", **env})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def env(server: tuple[str, Path]) -> dict[str, str]:
    url, data = server
    code, out, err = cli(
        "token", "create", "--role", "consumer", "--principal", "templater", "--tenant", "acme",
        "--json", SUANWANG_DATA_DIR=str(data),
    )  # fmt: skip
    assert code == 0, err
    return {"SUANWANG_URL": url, "SUANWANG_TOKEN": json.loads(out)["token"]}


def test_apply_dry_run_reapply_show_update_and_delete(env: dict[str, str], tmp_path: Path) -> None:
    code, out, err = cli("template", "apply", "-f", str(EXAMPLE), "--dry-run", "--json", **env)
    assert code == 0, err
    dry = json.loads(out)
    assert (dry["applied"], dry["template"]) == (False, None)
    assert dry["diff"]["added"] == ["decode", "detect", "events"]
    code, out, err = cli("template", "list", "--json", **env)
    assert (code, json.loads(out)) == (0, [])  # the dry run applied nothing

    code, out, err = cli("template", "apply", "-f", str(EXAMPLE), **env)
    assert code == 0, err
    assert "applied" in out
    assert all(cell_len(line) <= 80 for line in out.splitlines()), out
    code, out, err = cli("template", "apply", "-f", str(EXAMPLE), "--json", **env)
    assert code == 0, err
    again = json.loads(out)
    assert again["applied"] is False
    assert again["diff"]["unchanged"] == ["decode", "detect", "events"]

    code, out, err = cli("template", "show", "video", **env)
    assert code == 0, err
    assert "video [acme] revision 1:" in out
    assert "video/detect" in out
    code, out, err = cli("template", "show", "video", "--json", **env)
    shown = json.loads(out)
    assert [c["desired"] for c in shown["components"]] == [2, 1, 1]
    assert all(c["ready"] + c["waiting"] == c["desired"] for c in shown["components"])
    code, out, err = cli("template", "list", **env)
    row = next(line for line in out.splitlines() if line.split()[:1] == ["video"])
    assert row.split()[1:2] == ["1"]  # revision
    assert "1 templates" in err

    changed = tmp_path / "video.yaml"
    changed.write_text(EXAMPLE.read_text().replace("    replicas: 2\n", "    replicas: 1\n"))
    code, out, err = cli("template", "apply", "-f", str(changed), "--json", **env)
    assert code == 0, err
    assert json.loads(out)["diff"]["changed"] == ["decode"]

    code, out, err = cli("template", "delete", "video", **env)
    assert code == 0, err
    assert out.split()[-2:] == ["video", "3"]
    code, out, err = cli("deploy", "list", "--json", **env)
    assert (code, json.loads(out)) == (0, [])


def test_a_bad_file_is_named_with_its_line_before_anything_is_sent(
    env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("replicas: 2", "replicas: 0"))
    code, _, err = cli("template", "apply", "-f", str(bad), **env)
    assert code == 2
    assert f"{bad}:11: components.decode.replicas" in " ".join(err.split())
    code, _, err = cli("template", "show", "nothing", **env)
    assert (code, "'nothing' does not exist" in err) == (2, True)
