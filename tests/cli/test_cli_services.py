"""``services list | show | register`` against a real server (metro-edge: cs-ar-render has four
instances; a registered service's instance on a drained node shows the node's state)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from suanwang.cli.main import app

runner = CliRunner()


def cli(*args: str, **env: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "100", **env})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def env(server: tuple[str, Path]) -> dict[str, str]:
    url, data = server
    code, out, err = cli(
        "token", "create", "--role", "admin", "--principal", "catalogue", "--json",
        SUANWANG_DATA_DIR=str(data),
    )  # fmt: skip
    assert code == 0, err
    return {"SUANWANG_URL": url, "SUANWANG_TOKEN": json.loads(out)["token"]}


def test_list_and_show_the_catalogue_with_each_instance_s_node_state(
    env: dict[str, str],
) -> None:
    code, out, err = cli("services", "list", "-o", "json", **env)
    assert code == 0, err
    render = {s["id"]: s for s in json.loads(out)}["cs-ar-render"]
    assert [i["id"] for i in render["instances"]] == [
        "csci-ar-futian-1",
        "csci-ar-futian-2",
        "csci-ar-nanshan-1",
        "csci-ar-stadium-1",
    ]
    code, out, err = cli("services", "list", **env)
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.split()[:1] == ["cs-ar-render"])
    assert row.split()[1:4] == ["4", "4", "ar-vr-frame"]  # instances, on up nodes, task type
    assert "services" in err
    code, out, err = cli("services", "show", "cs-ar-render", **env)
    assert code == 0, err
    assert "csci-ar-stadium-1" in out
    assert "onsite-longgang-stadium-gpu-1" in out
    code, _, err = cli("services", "show", "cs-nowhere", **env)
    assert code == 2
    assert "cs-nowhere" in err


def test_register_a_service_and_see_its_instance_leave_a_drained_node(
    env: dict[str, str], tmp_path: Path
) -> None:
    record = tmp_path / "service.yaml"
    record.write_text(
        "id: cs-cli\nname: from the command line\n"
        "instances:\n  - {id: csci-cli-1, node: edge-futian-mec-1}\n",
        encoding="utf-8",
    )
    code, out, err = cli("services", "register", "-f", str(record), "-o", "json", **env)
    assert code == 0, err
    assert (json.loads(out)["kind"], json.loads(out)["id"]) == ("service", "cs-cli")
    headers = {"Authorization": f"Bearer {env['SUANWANG_TOKEN']}"}
    drained = httpx.post(
        f"{env['SUANWANG_URL']}/v1/nodes/edge-futian-mec-1/drain",
        json={"reason": "the test drains it"},
        headers=headers,
    )
    assert drained.status_code == 200, drained.text
    code, out, err = cli("services", "show", "cs-cli", "-o", "json", **env)
    assert code == 0, err
    assert json.loads(out)["instances"] == [
        {"id": "csci-cli-1", "node_id": "edge-futian-mec-1", "node_state": "draining"}
    ]
    code, out, err = cli("services", "show", "cs-cli", **env)
    assert code == 0, err
    assert "draining" in out
    httpx.post(
        f"{env['SUANWANG_URL']}/v1/nodes/edge-futian-mec-1/up", headers=headers
    ).raise_for_status()
