"""``suanwang graph place``: a task graph file placed on a scenario's network, in-process."""

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from suanwang.cli.graph import graph_app
from suanwang.cli.main import app as main_app

runner = CliRunner()
app = typer.Typer()
app.add_typer(graph_app, name="graph")


@app.callback()
def _root() -> None:
    """Test root (a group, so that ``graph place`` is a sub-command)."""


GRAPH = """\
id: video-analytics
ingress_site: term-futian
latency_budget_ms: 800
stages:
  - {id: decode, work_gflop: 20, cpu_cores: 2, input_mb: 4}
  - {id: detect, work_gflop: 800, precision: fp16, task_class: hot,
     accelerator: {kind: gpu, count: 1}}
  - {id: track, work_gflop: 5, result_mb: 0.2}
edges:
  - {src: decode, dst: detect, data_mb: 2}
  - {src: detect, dst: track, reduction_ratio: 0.1}
"""


def run(tmp_path: Path, text: str, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "graph.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["graph", "place", "-f", str(path), *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_place_prints_each_stage_and_the_makespan(tmp_path: Path) -> None:
    code, out, err = run(tmp_path, GRAPH)
    assert code == 0, err
    for word in ("decode", "detect", "track", "start ms", "makespan", "budget 800 ms"):
        assert word in out
    assert "MB x hops" in out


def test_json_with_the_exact_optimum(tmp_path: Path) -> None:
    code, out, err = run(tmp_path, GRAPH, "--candidates", "3", "--exact", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert [row["stage"] for row in data["stages"]] == ["decode", "detect", "track"]
    assert data["optimum"]["proven"]
    assert data["optimum"]["gap"] >= -1e-9
    assert data["makespan_ms"] <= 800
    detect, track = data["stages"][1], data["stages"][2]
    assert track["start_ms"] >= detect["finish_ms"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GRAPH.replace("cpu_cores: 2", "cpu_cores: two"), r"stages\[0\]\.cpu_cores: expected a"),
        (GRAPH.replace("cpu_cores: 2", "cores: 2"), r"stages\[0\]: unknown field 'cores'"),
        (GRAPH.replace("kind: gpu", "kind: tpu"), r"stages\[1\]\.accelerator\.kind: expected"),
        (GRAPH + "  - {src: detect, dst: decode}\n", r"edges form a cycle: "),
        (GRAPH.replace("dst: track", "dst: tracker"), r"edges\[1\]\.dst names no stage"),
        (
            GRAPH.replace("latency_budget_ms: 800", "latency_budget_ms: 5"),
            r"exceeds latency_budget",
        ),
        (
            GRAPH.replace("{id: track,", "{id: track, kind: reduce,"),
            r"stages\[2\]\.kind: expected one of \['compute', 'aggregate'\], got 'reduce'",
        ),
        (
            GRAPH.replace("{id: track,", "{id: track, kind: aggregate,"),
            r"stage 'track': an aggregate stage needs reduction_ratio",
        ),
        (
            GRAPH.replace("{id: track,", "{id: track, along_path: yes please,"),
            r"stages\[2\]\.along_path: expected true or false, got 'yes please'",
        ),
        (
            GRAPH.replace("{id: track,", "{id: track, datasets: obs,"),
            r"stages\[2\]\.datasets: expected a list of dataset ids, got 'obs'",
        ),
        (
            GRAPH.replace("{id: track,", "{id: track, datasets: [nowhere],"),
            r"stage 'track': datasets names an unknown dataset, got 'nowhere'",
        ),
        ("[1, 2]", r"graph: expected a mapping"),
        ("id: [", r"graph\.yaml:1: expected the node content"),
    ],
)
def test_bad_graphs_exit_2_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    code, out, err = run(tmp_path, text)
    assert code == 2, out
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


def test_a_traffic_weight_lowers_the_traffic(tmp_path: Path) -> None:
    code, out, err = run(tmp_path, GRAPH, "-o", "json")
    assert code == 0, err
    code, weighted, err = run(tmp_path, GRAPH, "--traffic-weight", "100", "-o", "json")
    assert code == 0, err
    assert json.loads(weighted)["traffic_mb_hops"] < json.loads(out)["traffic_mb_hops"]


def test_exact_is_refused_on_a_large_model(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, GRAPH, "--exact")
    assert code == 2
    assert "--exact is for small graphs" in err


def test_an_along_path_graph_reports_the_traffic_saved(tmp_path: Path) -> None:
    text = GRAPH.replace("latency_budget_ms: 800", "latency_budget_ms: 800\nalong_path: true")
    code, out, err = run(tmp_path, text, "-o", "json")
    assert code == 0, err
    along = json.loads(out)["along_path"]
    assert along["path"][0] == "term-futian"
    assert {row["site"] for row in json.loads(out)["stages"]} <= set(along["path"])
    assert along["saved_mb_hops"] == pytest.approx(
        along["cloud_traffic_mb_hops"] - along["traffic_mb_hops"]
    )


def test_the_example_in_docs_places_within_its_budget() -> None:
    example = Path(__file__).resolve().parents[2] / "docs/examples/video-analytics-graph.yaml"
    result = runner.invoke(
        app, ["graph", "place", "-f", str(example), "-o", "json"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["stages"]) == 5
    assert data["makespan_ms"] <= data["latency_budget_ms"]


def test_the_command_is_registered() -> None:
    result = runner.invoke(main_app, ["graph", "place", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert "--file" in result.stdout
