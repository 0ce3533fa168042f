"""``graph run | list | show | cancel`` against a real server (metro-edge, no agents)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.cells import cell_len
from typer.testing import CliRunner

from suanwang.cli.main import app

runner = CliRunner()

GRAPH: dict[str, Any] = {
    "id": "video-analytics",
    "ingress_site": "term-futian",
    "stages": [
        {"id": "decode", "work_gflop": 20, "cpu_cores": 2, "input_mb": 4},
        {"id": "detect", "work_gflop": 800, "cpu_cores": 4},
        {"id": "track", "work_gflop": 5, "result_mb": 0.2},
    ],
    "edges": [
        {"src": "decode", "dst": "detect", "data_mb": 2},
        {"src": "detect", "dst": "track", "reduction_ratio": 0.1},
    ],
}


def cli(*args: str, **env: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "80", **env})
    return result.exit_code, result.stdout, result.stderr


def _fits(out: str) -> bool:
    return all(cell_len(line) <= 80 for line in out.splitlines())


@pytest.fixture(scope="module")
def env(server: tuple[str, Path]) -> dict[str, str]:
    url, data = server
    code, out, err = cli(
        "token", "create", "--role", "consumer", "--principal", "grapher", "--tenant", "acme",
        "--json", SUANWANG_DATA_DIR=str(data),
    )  # fmt: skip
    assert code == 0, err
    return {"SUANWANG_URL": url, "SUANWANG_TOKEN": json.loads(out)["token"]}


def _file(tmp_path: Path, graph: dict[str, Any]) -> str:
    path = tmp_path / "graph.yaml"
    path.write_text(yaml.safe_dump(graph), encoding="utf-8")
    return str(path)


def test_a_dry_run_prints_the_placement(env: dict[str, str], tmp_path: Path) -> None:
    code, out, err = cli("graph", "run", "-f", _file(tmp_path, GRAPH), "--dry-run", **env)
    assert code == 0, err
    assert "video-analytics-" in out
    assert "planned" in out
    for stage in ("decode", "detect", "track"):
        assert stage in out
    assert "estimated" in out
    assert _fits(out), out
    code, out, err = cli("graph", "list", "--json", **env)
    assert code == 0, err
    assert json.loads(out) == []


def test_run_list_show_and_cancel(env: dict[str, str], tmp_path: Path) -> None:
    code, out, err = cli("graph", "run", "-f", _file(tmp_path, GRAPH), "--json", **env)
    assert code == 0, err
    made = json.loads(out)
    run_id = made["id"]
    assert made["state"] == "running"
    first = made["stages"][0]
    assert first["task_id"] is not None

    code, out, err = cli("graph", "list", **env)
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.split()[:1] == [run_id])
    assert row.split()[1:3] == ["running", "0/3"]
    assert "1 graphs" in err
    assert _fits(out), out

    code, out, err = cli("graph", "show", run_id, **env)
    assert code == 0, err
    assert f"{run_id} [acme]: running" in out
    assert first["node_id"] in out
    assert "waiting" in out
    assert _fits(out), out
    code, out, err = cli("graph", "show", run_id, "-o", "wide", **env)
    assert code == 0, err
    assert first["task_id"] in out

    code, out, err = cli("graph", "cancel", run_id, "--json", **env)
    assert code == 0, err
    assert json.loads(out)["state"] == "cancelled"
    code, out, err = cli("graph", "cancel", run_id, **env)
    assert code == 2
    assert "already cancelled" in err


def test_a_refusal_and_a_bad_file_exit_2_naming_what(env: dict[str, str], tmp_path: Path) -> None:
    huge = {**GRAPH, "stages": [*GRAPH["stages"][:2], {"id": "track", "work_gflop": 1,
            "cpu_cores": 100_000}]}  # fmt: skip
    code, _, err = cli("graph", "run", "-f", _file(tmp_path, huge), **env)
    assert code == 2
    assert "'track'" in err
    listed = tmp_path / "list.yaml"
    listed.write_text("- not a graph\n", encoding="utf-8")
    code, _, err = cli("graph", "run", "-f", str(listed), **env)
    assert code == 2
    assert "expected a mapping" in err
    code, _, err = cli("graph", "run", "-f", str(tmp_path / "missing.yaml"), **env)
    assert code == 2
    assert "missing.yaml" in err


def test_graph_place_reads_the_file_graph_run_takes(tmp_path: Path) -> None:
    coded = {**GRAPH, "stages": [{**GRAPH["stages"][0], "artefact": "a" * 64,
             "entry": "pipeline:decode", "inputs": ["b" * 64]}, *GRAPH["stages"][1:]]}  # fmt: skip
    code, out, err = cli("graph", "place", "-f", _file(tmp_path, coded), "--json")
    assert code == 0, err
    assert [s["stage"] for s in json.loads(out)["stages"]] == ["decode", "detect", "track"]
    typo = {**GRAPH, "stages": [{**GRAPH["stages"][0], "artifact": "a" * 64}]}
    code, _, err = cli("graph", "place", "-f", _file(tmp_path, typo))
    assert code == 2
    assert "artifact" in err
