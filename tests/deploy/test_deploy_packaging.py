"""Dockerfile, compose file and systemd units: images, settings and commands the CLI accepts."""

from __future__ import annotations

import json
import re
import shlex
import tomllib

import pytest
import yaml
from deploy_support import DEPLOY, ROOT
from typer.testing import CliRunner

from suanwang.bootstrap import Settings
from suanwang.cli.main import app

SERVICES = {"postgres", "init", "server", "agent-1", "agent-2", "prometheus", "grafana"}
# Variables the agent command reads (its --controller and --token options), and the enrolment
# script's own.
AGENT_VARIABLES = {"SUANWANG_URL", "SUANWANG_TOKEN", "SUANWANG_CA_FILE"}
ENROL_VARIABLES = {"SUANWANG_AGENT_NODES", "SUANWANG_AGENT_TENANT"}
SETTINGS = {f"SUANWANG_{name.upper()}" for name in Settings.model_fields}


def _compose() -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def _flags(help_text: str) -> set[str]:
    return set(re.findall(r"--[a-z][a-z0-9-]*", help_text))


def _check_command(words: list[str]) -> None:
    """A suanwang command line: a known command whose options its --help lists."""
    assert words[0].endswith("suanwang"), words
    command = words[1]
    assert command in {"serve", "agent"}, words
    named = words[1:3] if words[2:3] == ["enroll"] else words[1:2]
    given = {w.split("=")[0] for w in words[1 + len(named) :] if w.startswith("--")}
    assert given <= _flags(_cli(*named, "--help")), words
    if command == "serve":
        printed = json.loads(_cli(*words[1:], "--print-settings"))
        assert printed["host"] == "0.0.0.0"


def test_the_dockerfile_runs_the_server_as_a_user_with_a_health_check() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"^USER suanwang$", text, re.M)
    assert "/health" in text.split("HEALTHCHECK", 1)[1].split("\n\n")[0]
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (.+)$", text, re.M).group(1))  # type: ignore[union-attr]
    cmd = json.loads(re.search(r"^CMD (.+)$", text, re.M).group(1))  # type: ignore[union-attr]
    _check_command([*entrypoint, *cmd])
    for name in re.findall(r"\b(SUANWANG_[A-Z0-9_]+)=", text):
        assert name in SETTINGS, name
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignored
    assert "!src/" in ignored


def test_compose_has_every_service_with_an_image_or_a_build() -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    assert set(services) == SERVICES
    for name, service in services.items():
        assert "image" in service or "build" in service, name
    assert services["server"]["build"]["dockerfile"] == "Dockerfile"
    assert (DEPLOY / services["server"]["build"]["context"] / "Dockerfile").is_file()
    assert "postgresql://" in services["server"]["environment"]["SUANWANG_DATABASE_URL"]


def test_compose_uses_only_real_settings() -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    for name, service in services.items():
        for variable in service.get("environment", {}):
            if variable.startswith("SUANWANG_"):
                assert variable in SETTINGS | ENROL_VARIABLES, f"{name}: {variable}"


def test_compose_commands_are_real_commands() -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    _check_command(["suanwang", *services["server"]["command"]])
    for name in ("agent-1", "agent-2"):
        (line,) = services[name]["command"]
        enrol, run = (shlex.split(part) for part in line.replace("$$", "$").split(" && "))
        _check_command(enrol)  # enrols at the first start, then runs from its credentials
        assert run[0] == "exec"
        _check_command(run[1:])
    # Mounted files exist.
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), source


def test_the_enrolment_script_uses_real_options() -> None:
    script = (DEPLOY / "enrol.sh").read_text()
    token_flags = _flags(_cli("token", "create", "--help"))
    for line in re.findall(
        r"^\s*(?:token|suanwang token create)[^\n]*(?:\\\n[^\n]*)*", script, re.M
    ):
        if "()" in line:
            continue
        used = set(re.findall(r"--[a-z][a-z0-9-]*", line))
        assert used <= token_flags, line
    enrol_flags = _flags(_cli("agent", "enrol-token", "--help"))
    for line in re.findall(r"^\s*suanwang agent enrol-token[^\n]*(?:\\\n[^\n]*)*", script, re.M):
        assert set(re.findall(r"--[a-z][a-z0-9-]*", line)) <= enrol_flags, line
    assert "--print-key-id" in _flags(_cli("agent", "--help"))


@pytest.mark.parametrize("unit", ["suanwang.service", "suanwang-agent@.service"])
def test_systemd_units_run_real_commands(unit: str) -> None:
    text = (DEPLOY / "systemd" / unit).read_text()
    assert re.search(r"^EnvironmentFile=/etc/suanwang/", text, re.M)
    (exec_start,) = re.findall(r"^ExecStart=(.+)$", text, re.M)
    words = shlex.split(exec_start.replace("%i", "edge-1"))
    if unit.startswith("suanwang-agent"):
        assert "--node" in words
    _check_command(words)


def test_the_examples_of_environment_files_name_real_settings() -> None:
    for example in (DEPLOY / "systemd").glob("*.env.example"):
        for line in example.read_text().splitlines():
            if line and not line.startswith("#"):
                name = line.split("=", 1)[0]
                assert name in SETTINGS | AGENT_VARIABLES, f"{example.name}: {name}"


def test_the_license_is_apache_2() -> None:
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
