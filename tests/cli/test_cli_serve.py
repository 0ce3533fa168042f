"""``suanwang serve``: every option from a flag, a variable or its default; a taken port."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from suanwang.cli.main import app

runner = CliRunner()

# Every option of `serve`: (setting, flag, variable's text, flag's text, the value both mean).
# The variable's and the flag's values differ, so that a test can tell which one won.
OPTIONS: list[tuple[str, list[str], str, Any]] = [
    ("host", ["--host", "127.0.0.2"], "127.0.0.3", "127.0.0.2"),
    ("port", ["--port", "9101"], "9102", 9101),
    ("data_dir", ["--data-dir", "flag-dir"], "env-dir", "flag-dir"),
    (
        "database_url",
        ["--database-url", "sqlite:///flag.db"],
        "sqlite:///env.db",
        "sqlite:///flag.db",
    ),
    ("scenario", ["--scenario", "campus"], "cats-arvr", "campus"),
    ("profile", ["--profile", "latency-greedy"], "cost-greedy", "latency-greedy"),
    ("max_body_bytes", ["--max-body-bytes", "4096"], "8192", 4096),
    ("access_log", ["--access-log"], "false", True),
    ("log_format", ["--log-format", "json"], "text", "json"),
    ("docs", ["--docs", "off"], "token", "off"),
    ("tls_cert", ["--tls-cert", "flag.pem"], "env.pem", "flag.pem"),
    ("tls_key", ["--tls-key", "flag.key"], "env.key", "flag.key"),
    ("submit_rate_per_s", ["--submit-rate-per-s", "5"], "7", 5.0),
    ("submit_burst", ["--submit-burst", "3"], "4", 3),
]
ENV_VALUE = {  # what each variable's text reads as
    "port": 9102,
    "max_body_bytes": 8192,
    "access_log": False,
    "submit_rate_per_s": 7.0,
    "submit_burst": 4,
}
DEFAULTS = {
    "host": "127.0.0.1",
    "port": 8080,
    "data_dir": ".suanwang",
    "database_url": "",
    "scenario": "metro-edge",
    "profile": "cats-joint",
    "max_body_bytes": 1 << 20,
    "access_log": False,
    "log_format": "text",
    "docs": "public",
    "tls_cert": None,
    "tls_key": None,
    "submit_rate_per_s": 0.0,
    "submit_burst": 100,
}
# The TLS files go in pairs: each is given with its partner from the same source.
PARTNER = {
    "tls_cert": ("tls_key", "--tls-key", "k.pem"),
    "tls_key": ("tls_cert", "--tls-cert", "c.pem"),
}


def _settings(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    clean = {f"SUANWANG_{name.upper()}": None for name in DEFAULTS}  # the runner's own env
    result = runner.invoke(app, ["serve", "--print-settings", *args], env={**clean, **env})
    assert result.exit_code == 0, result.stderr
    settings: dict[str, Any] = json.loads(result.stdout)
    return settings


def test_the_table_names_every_option_of_serve() -> None:
    from suanwang.cli.serve import serve

    options = set(serve.__annotations__) - {"return", "print_settings"}
    assert options == {name for name, *_ in OPTIONS} == set(DEFAULTS)


@pytest.mark.parametrize(("name", "flag", "env_text", "flag_value"), OPTIONS)
def test_flag_over_variable_over_default(
    name: str, flag: list[str], env_text: str, flag_value: Any
) -> None:
    variable = f"SUANWANG_{name.upper()}"
    partner_env: dict[str, str] = {}
    partner_args: list[str] = []
    if name in PARTNER:
        other, other_flag, other_value = PARTNER[name]
        partner_env = {f"SUANWANG_{other.upper()}": other_value}
        partner_args = [other_flag, other_value]
    else:
        assert _settings([], {})[name] == DEFAULTS[name]
    from_env = _settings([], {variable: env_text, **partner_env})
    assert from_env[name] == ENV_VALUE.get(name, env_text)
    from_flag = _settings([*flag, *partner_args], {variable: env_text, **partner_env})
    assert from_flag[name] == flag_value


@pytest.mark.parametrize(
    ("env", "args", "says"),
    [
        ({"SUANWANG_PORT": "http"}, [], "SUANWANG_PORT"),
        ({"SUANWANG_DOCS": "maybe"}, [], "SUANWANG_DOCS"),
        ({}, ["--docs", "maybe"], "docs"),
        ({}, ["--log-format", "xml"], "log_format"),
        ({}, ["--tls-cert", "only.pem"], "tls_cert and tls_key go together"),
        ({"SUANWANG_SUBMIT_BURST": "0"}, [], "SUANWANG_SUBMIT_BURST"),
    ],
)
def test_a_bad_setting_is_one_line(env: dict[str, str], args: list[str], says: str) -> None:
    result = runner.invoke(app, ["serve", *args], env=env)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert says in result.stderr


def test_a_taken_port_fails_before_anything_is_created(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data = tmp_path / "data"
        done = subprocess.run(
            [sys.executable, "-m", "suanwang", "serve", "--port", str(port)],
            env={"SUANWANG_DATA_DIR": str(data), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr == f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    assert "swt_" not in done.stdout + done.stderr
    assert not data.exists()


def test_a_bad_tls_pair_fails_before_anything_is_created(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate")
    (tmp_path / "key.pem").write_text("not a key")
    result = runner.invoke(
        app,
        ["serve", "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem")],
        env={"SUANWANG_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot load --tls-cert")
    assert not (tmp_path / "data").exists()
