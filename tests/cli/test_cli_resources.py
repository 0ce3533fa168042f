"""``site``, ``link``, ``audit``, ``principal`` and ``scenario load`` against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from suanwang.cli.main import app
from suanwang.cli.resources import since_seconds

runner = CliRunner()


def cli(*args: str, **env: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "80", **env})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def env(server: tuple[str, Path]) -> dict[str, str]:
    url, data = server
    code, out, err = cli(
        "token",
        "create",
        "--role",
        "admin",
        "--principal",
        "resources",
        "--json",
        SUANWANG_DATA_DIR=str(data),
    )
    assert code == 0, err
    return {"SUANWANG_URL": url, "SUANWANG_TOKEN": json.loads(out)["token"]}


def test_site_list_matches_the_live_topology(env: dict[str, str]) -> None:
    code, out, err = cli("site", "list", "--json", **env)
    assert code == 0, err
    sites = json.loads(out)
    assert sites
    assert all({"id", "tier", "nodes", "region"} <= set(s) for s in sites)
    code, out, _ = cli("site", "list", "--tier", sites[0]["tier"], "--json", **env)
    assert code == 0
    assert {s["tier"] for s in json.loads(out)} == {sites[0]["tier"]}
    _, table, counted = cli("site", "list", **env)
    assert sites[0]["id"] in table
    assert f"{len(sites):,} sites" in counted


def test_link_list_and_its_state_filter(env: dict[str, str]) -> None:
    code, out, err = cli("link", "list", "--json", **env)
    assert code == 0, err
    links = json.loads(out)
    assert links
    assert {link["state"] for link in links} <= {"up", "down"}
    _, down, _ = cli("link", "list", "--state", "down", "--json", **env)
    assert all(link["state"] == "down" for link in json.loads(down))


def test_principal_create_then_list_and_audit(env: dict[str, str]) -> None:
    code, out, err = cli(
        "principal",
        "create",
        "ops-bot",
        "--tenant",
        "acme",
        "--role",
        "operator",
        "--json",
        **env,
    )
    assert code == 0, err
    assert json.loads(out)[0]["roles"] == ["operator"]
    _, listed, _ = cli("principal", "list", "--tenant", "acme", "--json", **env)
    assert [p["id"] for p in json.loads(listed)] == ["ops-bot"]
    code, _, err = cli("principal", "create", "bad", "--tenant", "acme", "--role", "wizard", **env)
    assert code == 2
    assert err.count("\n") == 1, err
    _, audit, _ = cli("audit", "list", "--since", "10m", "--json", **env)
    assert any(e["target"] == "principal:ops-bot" for e in json.loads(audit))
    _, future, _ = cli("audit", "list", "--since", "2999-01-01T00:00:00Z", "--json", **env)
    assert json.loads(future) == []


def test_audit_needs_an_admin(server: tuple[str, Path]) -> None:
    url, data = server
    _, out, _ = cli(
        "token",
        "create",
        "--role",
        "consumer",
        "--principal",
        "someone",
        "--json",
        SUANWANG_DATA_DIR=str(data),
    )
    token = json.loads(out)["token"]
    code, _, err = cli("audit", "list", SUANWANG_URL=url, SUANWANG_TOKEN=token)
    assert code == 2, err


def test_since_reads_durations_and_iso_times() -> None:
    assert since_seconds("90s", 1000.0) == 910.0
    assert since_seconds("2h", 10_000.0) == 10_000.0 - 7200.0
    assert since_seconds("1970-01-01T00:01:00Z", 0.0) == 60.0
    with pytest.raises(typer.Exit) as refused:
        since_seconds("yesterday", 0.0)
    assert refused.value.exit_code == 2


def test_scenario_load_by_name_and_by_file(env: dict[str, str], tmp_path: Path) -> None:
    code, out, err = cli("scenario", "load", "cats-arvr", "--json", **env)
    assert code == 0, err
    assert json.loads(out)["live"] == "cats-arvr"
    _, sites, _ = cli("site", "list", "--json", **env)
    assert len(json.loads(sites)) < 20
    generated = tmp_path / "small.json"
    code, _, err = cli("scenario", "generate", "--nodes", "40", "--seed", "2", "-o", str(generated))
    assert code == 0, err
    code, out, err = cli("scenario", "load", str(generated), "--json", **env)
    assert code == 0, err
    assert json.loads(out)["nodes"] == 40
    code, _, err = cli("scenario", "load", "no-such-scenario", **env)
    assert code == 2, err
