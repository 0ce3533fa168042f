"""``deploy create | list | show | delete`` against a real server (metro-edge, no agents)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from suanwang.cli.main import app

runner = CliRunner()

TEMPLATE = ("--work-gflop", "5", "--cpu-cores", "1", "--mem-gib", "0.5", "--ingress", "term-futian")


def cli(*args: str, **env: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "80", **env})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def env(server: tuple[str, Path]) -> dict[str, str]:
    url, data = server
    code, out, err = cli(
        "token", "create", "--role", "consumer", "--principal", "deployer", "--tenant", "acme",
        "--json", SUANWANG_DATA_DIR=str(data),
    )  # fmt: skip
    assert code == 0, err
    return {"SUANWANG_URL": url, "SUANWANG_TOKEN": json.loads(out)["token"]}


def test_create_list_show_and_delete(env: dict[str, str]) -> None:
    create = ("deploy", "create", "web", *TEMPLATE, "--min", "2", "--max", "4")
    code, out, err = cli(*create, "--target", "0.5", "--json", **env)
    assert code == 0, err
    made = json.loads(out)
    assert (made["name"], made["desired"], made["current"]) == ("web", 2, 2)
    sites = {r["site_id"] for r in made["replicas"]}
    assert len(sites) == 2  # spread: one replica per site

    code, out, err = cli("deploy", "list", **env)
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.split()[:1] == ["web"])
    assert row.split()[1:6] == ["2", "2", "2", "4", "0.50"]  # current desired min max target
    assert "1 deployments" in err
    assert all(cell_len(line) <= 80 for line in out.splitlines())

    code, out, err = cli("deploy", "show", "web", **env)
    assert code == 0, err
    assert "web [acme]: 2 of 2 replica(s), 2..4, target 0.50" in out
    for replica in made["replicas"]:
        assert replica["task_id"] in out
        assert replica["node_id"] in out
    assert "last decision:" in out
    assert all(cell_len(line) <= 80 for line in out.splitlines()), out
    code, out, err = cli("deploy", "show", "web", "-o", "wide", **env)
    assert code == 0, err
    assert all(replica["site_id"] in out for replica in made["replicas"])

    # create again: the policy is replaced, the replicas carry on
    code, out, err = cli("deploy", "create", "web", *TEMPLATE, "--min", "3", "--max", "4", **env)
    assert code == 0, err
    code, out, err = cli("deploy", "show", "web", "--json", **env)
    shown = json.loads(out)
    assert (shown["min_replicas"], shown["current"]) == (3, 3)
    assert {r["task_id"] for r in made["replicas"]} <= {r["task_id"] for r in shown["replicas"]}

    code, out, err = cli("deploy", "delete", "web", **env)
    assert code == 0, err
    assert out.split()[-2:] == ["web", "3"]
    code, out, err = cli("deploy", "list", "--json", **env)
    assert (code, json.loads(out)) == (0, [])
    code, _, err = cli("deploy", "show", "web", **env)
    assert (code, "'web' does not exist" in err) == (2, True)


def test_a_deployment_of_a_tenant_s_artefact_names_it(env: dict[str, str]) -> None:
    code, _, err = cli("deploy", "create", "svc", *TEMPLATE, "--artefact", "0" * 64, **env)
    assert code == 2  # refused: the tenant has no such artefact
    assert "body.template.artefact" in err


def test_bad_input_names_the_value(env: dict[str, str]) -> None:
    code, _, err = cli("deploy", "create", "Web_1", *TEMPLATE, **env)
    assert (code, "'Web_1'" in err) == (2, True)
    code, _, err = cli("deploy", "create", "web", *TEMPLATE, "--min", "3", "--max", "2", **env)
    assert (code, "--max 2 is below --min 3" in err) == (2, True)
    code, _, err = cli("deploy", "create", "web", "--template", "[1]", **env)
    assert (code, "--template must be a JSON object" in err) == (2, True)
    code, _, err = cli("deploy", "create", "web", *TEMPLATE, "--entry", "a.b", **env)
    assert (code, "needs --artefact" in err) == (2, True)
    code, _, err = cli("deploy", "create", "web", *TEMPLATE, "--artefact", "xyz", **env)
    assert (code, "'xyz'" in err) == (2, True)
    code, _, err = cli("deploy", "delete", "nothing-here", **env)
    assert (code, "nothing-here" in err) == (2, True)
