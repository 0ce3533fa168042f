"""``suanwang config`` and contexts: precedence flag > env > context > default, bad files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from suanwang.cli.main import app

runner = CliRunner()
UNSET: dict[str, str | None] = {
    "SUANWANG_URL": None,
    "SUANWANG_TOKEN": None,
    "SUANWANG_CA_FILE": None,
    "SUANWANG_CONTEXT": None,
    "COLUMNS": "80",
}
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers


def cli(config: Path, *args: str, **env: str | None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={**UNSET, "SUANWANG_CONFIG": str(config), **env})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def token(server: tuple[str, Path]) -> str:
    _, data = server
    result = runner.invoke(
        app,
        ["token", "create", "--role", "admin", "--principal", "ctx", "--json"],
        env={"SUANWANG_DATA_DIR": str(data)},
    )
    assert result.exit_code == 0, result.stderr
    made: str = json.loads(result.stdout)["token"]
    return made


@pytest.fixture
def config(tmp_path: Path, server: tuple[str, Path], token: str) -> Path:
    """A config whose current context ``live`` reaches the server with a token file."""
    path = tmp_path / "conf" / "config.yaml"
    path.parent.mkdir()
    (path.parent / "live.token").write_text(token + "\n", encoding="utf-8")
    code, out, err = cli(
        path, "config", "set-context", "live", "--server", server[0], "--token-file", "live.token"
    )
    assert code == 0, err
    assert "(current)" in out
    return path


def test_set_context_writes_the_file_owner_only_and_the_first_is_current(config: Path) -> None:
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert data["current-context"] == "live"
    assert data["contexts"]["live"]["token_file"] == "live.token"
    assert not list(config.parent.glob(".config-*"))  # no temporary file left
    code, out, _ = cli(config, "config", "current-context")
    assert (code, out.strip()) == (0, "live")


def test_a_command_reaches_the_server_through_the_current_context(config: Path) -> None:
    code, out, err = cli(config, "node", "list", "-o", "json")
    assert code == 0, err
    assert len(json.loads(out)) > 0


def test_env_beats_the_context_and_the_flag_beats_env(
    config: Path, server: tuple[str, Path]
) -> None:
    code, _, err = cli(config, "site", "list", SUANWANG_URL=NOWHERE)
    assert code == 1
    assert "cannot reach http://127.0.0.1:9" in err
    code, _, err = cli(config, "site", "list", "--url", server[0], SUANWANG_URL=NOWHERE)
    assert code == 0, err
    code, _, err = cli(config, "site", "list", SUANWANG_TOKEN="not-a-token")
    assert code == 2
    assert "401" in err


def test_context_flag_and_use_context_switch(config: Path, server: tuple[str, Path]) -> None:
    code, _, err = cli(config, "config", "set-context", "off", "--server", NOWHERE)
    assert code == 0, err
    code, out, _ = cli(config, "config", "get-contexts", "-o", "yaml")
    rows = {row["name"]: row for row in yaml.safe_load(out)}
    assert rows["live"]["current"]
    assert not rows["off"]["current"]
    assert rows["live"]["token"] == "file"
    # "off" names no token: the token still comes from nowhere, so the command says so
    code, _, err = cli(config, "--context", "off", "site", "list")
    assert code == 2
    assert "no token" in err
    code, _, err = cli(config, "--context", "off", "site", "list", "--token", "x")
    assert code == 1
    assert "cannot reach http://127.0.0.1:9" in err
    code, _, _ = cli(config, "config", "use-context", "off")
    assert code == 0
    code, out, _ = cli(config, "config", "current-context")
    assert out.strip() == "off"
    code, _, err = cli(config, "site", "list", SUANWANG_CONTEXT="live")
    assert code == 0, err
    code, _, err = cli(config, "config", "use-context", "gone")
    assert code == 2
    assert "no context named 'gone'" in err
    code, _, err = cli(config, "--context", "gone", "site", "list")
    assert code == 2
    assert f"config {config}: no context named 'gone' (contexts: live, off)" in err


def test_get_contexts_never_prints_an_inline_token(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    code, _, _ = cli(path, "config", "set-context", "a", "--server", NOWHERE, "--token", "s3cret")
    assert code == 0
    for option in ([], ["-o", "json"], ["-o", "yaml"]):
        code, out, _ = cli(path, "config", "get-contexts", *option)
        assert code == 0
        assert "s3cret" not in out
        assert "inline" in out


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("contexts: [a, b]\n", "contexts: a mapping of context names"),
        ("contexts:\n  a:\n    sever: http://x\n", "contexts.a.sever: unknown field"),
        ("contexts:\n  a:\n    server: 8080\n", "contexts.a.server: a string, got int"),
        ("current-context: b\ncontexts:\n  a: {}\n", "current-context: no context named 'b'"),
        ("contexts:\n  a: {token: t, token_file: f}\n", "contexts.a: give token or token_file"),
        ("contexts: {a: [\n", "not YAML"),
        ("current-context: a\ncontexts:\n  a: {token_file: gone.token}\n", "token_file: cannot"),
    ],
)
def test_a_bad_config_is_one_line_naming_the_file_and_field(
    tmp_path: Path, text: str, said: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, err = cli(path, "site", "list")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: config {path}: ")
    assert said in err


def test_no_config_file_leaves_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "none.yaml"
    code, _, err = cli(path, "site", "list", "--token", "x", "--url", NOWHERE)
    assert code == 1
    assert "cannot reach" in err
    code, _, err = cli(path, "config", "current-context")
    assert code == 2
    assert "no current-context" in err
    assert not path.exists()
