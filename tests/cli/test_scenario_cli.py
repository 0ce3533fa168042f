"""The ``suanwang`` command line over loopback-free, in-process invocations."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanwang import __version__
from suanwang.cli.main import app
from suanwang.scenario import builtin_names, load_scenario

runner = CliRunner()
TINY = Path(__file__).parents[1] / "scenario" / "fixtures" / "tiny.yaml"


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"suanwang {__version__}"


@pytest.mark.parametrize(
    "args",
    [[], ["scenario"], ["scenario", "generate", "--help"], ["scenario", "import", "--help"]],
)
def test_help_is_everywhere(args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"] if args[-1:] != ["--help"] else args)
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def test_list_names_every_builtin() -> None:
    result = runner.invoke(app, ["scenario", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in builtin_names():
        assert name in result.stdout


def test_show_summarises_a_file_as_tables_and_json() -> None:
    result = runner.invoke(app, ["scenario", "show", str(TINY)], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "compute per tier" in result.stdout
    assert "infer" in result.stdout
    data = json.loads(runner.invoke(app, ["scenario", "show", str(TINY), "--json"]).stdout)
    hub = next(tier for tier in data["tiers"] if tier["tier"] == "hub")
    assert hub["nodes"] == 2
    assert hub["accelerators"] == {"gpu": 8}
    assert data["links"] == 2


def test_show_unknown_name_is_one_line_and_exit_2() -> None:
    result = runner.invoke(app, ["scenario", "show", "atlantis"])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "atlantis" in result.stderr
    assert "built-ins:" in result.stderr


def test_validate_several_files_reports_each(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\nsites: [{id: a}]\n", encoding="utf-8")
    result = runner.invoke(app, ["scenario", "validate", str(TINY), str(bad)])
    assert result.exit_code == 2
    assert f"ok: {TINY}" in result.stdout
    assert f"{bad}:3: sites[0].tier: required field is missing" in result.stderr


def test_schema_is_valid_json_schema(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    result = runner.invoke(app, ["scenario", "schema", "-o", str(out)])
    assert result.exit_code == 0
    schema = json.loads(out.read_text())
    assert schema["title"] == "ScenarioDoc"
    assert "links" in schema["properties"]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_generate_writes_a_loadable_file(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"gen{suffix}"
    result = runner.invoke(
        app, ["scenario", "generate", "--nodes", "120", "--seed", "3", "-o", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    assert "120 nodes" in result.stderr
    assert len(load_scenario(out).topology.nodes) == 120


def test_generate_to_stdout_is_yaml() -> None:
    result = runner.invoke(app, ["scenario", "generate", "--nodes", "5"])
    assert result.exit_code == 0
    assert result.stdout.startswith("version: 1\n")


def test_generate_refuses_a_bad_size() -> None:
    result = runner.invoke(app, ["scenario", "generate", "--nodes", "0"])
    assert result.exit_code == 2


def test_import_missing_file_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["scenario", "import", "graphml", str(tmp_path / "none.graphml")])
    assert result.exit_code == 2
    assert "none.graphml" in result.stderr


def test_import_unknown_format_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["scenario", "import", "shapefile", str(TINY)])
    assert result.exit_code == 2
