"""``suanwang graph compare``: single-site against decomposed placement, measured in the twin."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanwang.cli.main import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "docs/examples"


def _compare(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["graph", "compare", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_the_table_compares_the_placements_and_names_each_stage_place() -> None:
    code, out, err = _compare("-f", str(EXAMPLES / "video-analytics-graph.yaml"))
    assert code == 0, err
    for word in ("single-site", "decomposed", "e2e ms", "traffic GB", "where each stage ran"):
        assert word in out
    assert "along the path term-futian" in out


def test_json_and_a_plot_of_the_in_network_example(tmp_path: Path) -> None:
    plot = tmp_path / "compare.png"
    code, out, err = _compare(
        "-f",
        str(EXAMPLES / "allreduce-graph.yaml"),
        "--scenario",
        str(EXAMPLES / "allreduce-scenario.yaml"),
        "--plot",
        str(plot),
        "-o",
        "json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert [row["variant"] for row in data["variants"]] == ["decomposed", "in-network"]
    assert "no single site" in data["single_site_error"]
    decomposed, in_network = data["variants"]
    assert in_network["link_mb"]["spine-border"] < decomposed["link_mb"]["spine-border"]
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert data["plot"] == str(plot)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-f", "/nonexistent/graph.yaml"), "not a readable file"),
        (
            ("-f", str(EXAMPLES / "allreduce-graph.yaml")),  # metro-edge has no site "ops"
            "ops",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    code, out, err = _compare(*args)
    assert code == 2, out
    assert len(err.strip().splitlines()) == 1
    assert message in err
