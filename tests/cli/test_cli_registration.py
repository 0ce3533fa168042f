"""``node register | retire``, ``site register``, ``link register`` against a real server."""

from __future__ import annotations

import json
from pathlib import Path

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
        "token", "create", "--role", "admin", "--principal", "registrar", "--json",
        SUANWANG_DATA_DIR=str(data),
    )  # fmt: skip
    assert code == 0, err
    return {"SUANWANG_URL": url, "SUANWANG_TOKEN": json.loads(out)["token"]}


def test_register_a_site_a_link_and_a_node_then_retire_the_node(
    env: dict[str, str], tmp_path: Path
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("id: edge-cli\ntier: edge\nregion: cn-south\n", encoding="utf-8")
    link = tmp_path / "link.json"
    link.write_text(
        json.dumps({"a": "term-futian", "b": "edge-cli", "bandwidth_mbps": 1000, "latency_ms": 1}),
        encoding="utf-8",
    )
    node = tmp_path / "node.yaml"
    node.write_text(
        "id: edge-cli-1\nsite: edge-cli\ncpu_cores: 8\nmem_gib: 32\n"
        "cpu_peak_gflops: {fp64: 500, fp32: 1000}\n",
        encoding="utf-8",
    )
    code, out, err = cli("site", "register", "-f", str(site), **env)
    assert code == 0, err
    assert "edge-cli" in out
    assert "site" in out
    code, out, err = cli("link", "register", "-f", str(link), "-o", "json", **env)
    assert code == 0, err
    assert json.loads(out)["id"] == "term-futian--edge-cli"
    code, out, err = cli(
        "node", "register", "-f", str(node), "--enrol-ttl", "600", "-o", "yaml", **env
    )
    assert code == 0, err
    assert "swe_" in out
    assert "version:" in out
    code, out, err = cli("node", "list", "--json", **env)
    assert "edge-cli-1" in {n["id"] for n in json.loads(out)}
    code, out, err = cli("node", "retire", "edge-cli-1", "--reason", "test over", **env)
    assert code == 0, err
    assert "retired" in out
    code, out, err = cli("node", "retire", "edge-cli-1", **env)
    assert code == 2
    assert "retired already" in err


def test_a_record_that_does_not_fit_exits_2_naming_the_field(
    env: dict[str, str], tmp_path: Path
) -> None:
    node = tmp_path / "bad.yaml"
    node.write_text("id: bad-1\nsite: nowhere\ncpu_cores: 8\nmem_gib: 32\n", encoding="utf-8")
    code, _, err = cli("node", "register", "-f", str(node), **env)
    assert code == 2
    assert "site" in err
    assert "nowhere" in err
    listed = tmp_path / "list.yaml"
    listed.write_text("- id: a\n", encoding="utf-8")
    code, _, err = cli("node", "register", "-f", str(listed), **env)
    assert code == 2
    assert "one record" in err
