"""At 80 columns no table command cuts an id or a number; ``-o``; id prefixes; exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from suanwang.cli.main import app

runner = CliRunner()
NARROW = {"COLUMNS": "80"}  # what rich assumes for any pipe
TASK = ["--work-gflop", "5", "--cpu-cores", "1", "--ingress", "term-futian"]
ELLIPSIS = "…"


def cli(*args: str, **env: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={**NARROW, **env})
    return result.exit_code, result.stdout, result.stderr


def _token(data: Path, *args: str) -> str:
    code, out, err = cli("token", "create", *args, "--json", SUANWANG_DATA_DIR=str(data))
    assert code == 0, err
    token: str = json.loads(out)["token"]
    return token


def assert_nothing_cut(out: str, whole: list[str]) -> None:
    """No cell ends in an ellipsis, and every id and number in ``whole`` is printed in full."""
    assert ELLIPSIS not in out, out
    for value in whole:
        assert value in out, f"{value!r} not whole in:\n{out}"


@pytest.fixture(scope="module")
def env(server: tuple[str, Path]) -> dict[str, str]:
    url, data = server
    return {
        "SUANWANG_URL": url,
        "SUANWANG_TOKEN": _token(data, "--role", "admin", "--principal", "narrow"),
        "SUANWANG_DATA_DIR": str(data),
    }


@pytest.fixture(scope="module")
def task_id(env: dict[str, str]) -> str:
    code, out, err = cli("task", "submit", *TASK, "--json", **env)
    assert code == 0, err
    found: str = json.loads(out)["id"]
    return found


SERVER_COMMANDS = [
    ("task", "list"),
    ("task", "list", "-o", "wide"),
    ("task", "get", "{id}"),
    ("task", "explain", "{id}"),
    ("task", "explain", "{id}", "-o", "wide"),
    ("node", "list"),
    ("node", "list", "-o", "wide"),
    ("node", "list", "--site", "edge-futian"),
    ("node", "drain", "edge-futian-mec-2"),
    ("node", "up", "edge-futian-mec-2"),
    ("token", "list"),
    ("site", "list"),
    ("site", "list", "-o", "wide"),
    ("link", "list"),
    ("link", "list", "-o", "wide"),
    ("audit", "list"),
    ("audit", "list", "--since", "1h"),
    ("principal", "list"),
    ("principal", "list", "-o", "wide"),
]


@pytest.mark.parametrize("command", SERVER_COMMANDS, ids=" ".join)
def test_server_tables_keep_ids_and_numbers_whole(
    env: dict[str, str], task_id: str, command: tuple[str, ...]
) -> None:
    args = [arg.replace("{id}", task_id) for arg in command]
    code, out, err = cli(*args, **env)
    assert code == 0, err
    whole = [task_id] if command[:2] in {("task", "list"), ("task", "get")} else []
    if command[:2] == ("node", "list"):
        _, listed, _ = cli(*[arg for arg in args if arg not in {"-o", "wide"}], "--json", **env)
        nodes = json.loads(listed)
        whole += [n["id"] for n in nodes] + [str(n["cpu_cores"]) for n in nodes]
    if command[:2] in {("site", "list"), ("link", "list"), ("principal", "list")}:
        _, listed, _ = cli(*command[:2], "--json", **env)
        whole += [item["id"] for item in json.loads(listed)]
    assert_nothing_cut(out, whole)


BUILTIN_COMMANDS = [
    ("scenario", "list"),
    ("scenario", "show", "metro-edge"),
    ("scenario", "show", "east-west"),
    ("plan", "cats-arvr", "--compare", "-n", "1"),
    ("plan", "cats-arvr", "--compare", "-n", "1", "-o", "wide"),
    ("plan", "metro-edge", "-n", "20"),
    ("twin", "run", "cats-arvr", "-d", "2", "-o", "{out}"),
    ("twin", "run", "cats-arvr", "-d", "2", "-o", "{out}", "--format", "wide"),
    ("twin", "compare", "cats-arvr", "-d", "2", "-o", "{out}"),
    ("twin", "compare", "cats-arvr", "-d", "2", "-o", "{out}", "--format", "wide"),
    ("measure", "--quick", "--runs", "1", "--no-gpu"),
]


@pytest.mark.parametrize("command", BUILTIN_COMMANDS, ids=" ".join)
def test_builtin_tables_keep_ids_and_numbers_whole(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    args = [arg.replace("{out}", str(tmp_path / "out")) for arg in command]
    code, out, err = cli(*args)
    assert code == 0, err
    assert_nothing_cut(out, [])


FITTED_COMMANDS = [
    (("plan", "cats-arvr", "--compare", "-n", "1"), ["objective", "carbon g", "scarcity+"]),
    (("plan", "metro-edge", "-n", "20"), ["objective", "carbon g"]),
    (("twin", "run", "east-west", "-d", "2", "-o", "{out}"), ["p50 ms", "p99 ms"]),
    (
        ("twin", "compare", "east-west", "-d", "2", "-o", "{out}"),
        ["warm", "p50   p95   p99", "GB×hops"],
    ),
]


@pytest.mark.parametrize(
    ("command", "moved"), FITTED_COMMANDS, ids=[" ".join(c[:3]) for c, _ in FITTED_COMMANDS]
)
def test_plan_and_twin_fit_80_columns_and_wide_adds_the_rest(
    tmp_path: Path, command: tuple[str, ...], moved: list[str]
) -> None:
    args = [arg.replace("{out}", str(tmp_path / "out")) for arg in command]
    code, out, err = cli(*args)
    assert code == 0, err
    widest = max(len(line.rstrip()) for line in out.splitlines())
    assert widest <= 80, out
    for header in moved:
        assert header not in out, f"{header!r} in the default table:\n{out}"
    option = ["-o", "wide"] if command[0] == "plan" else ["--format", "wide", "--overwrite"]
    code, out, err = cli(*args, *option)
    assert code == 0, err
    assert_nothing_cut(out, [])
    for header in moved:
        assert header in out, f"{header!r} not in the wide table:\n{out}"


@pytest.mark.parametrize("command", ["plan", "twin"])
def test_format_json_and_json_print_the_same(tmp_path: Path, command: str) -> None:
    if command == "plan":
        args, option = ["plan", "cats-arvr", "-n", "1"], ["-o", "json"]
    else:
        args = ["twin", "compare", "cats-arvr", "-d", "1", "-p", "nearest", "--overwrite"]
        args += ["-o", str(tmp_path / "out")]
        option = ["--format", "json"]
    code, by_flag, err = cli(*args, "--json")
    assert code == 0, err
    code, by_option, err = cli(*args, *option)
    assert code == 0, err
    first, second = json.loads(by_flag), json.loads(by_option)
    assert sorted(first) == sorted(second)  # timings differ between runs; the shape does not
    assert [sorted(row) for row in first["rows"]] == [sorted(row) for row in second["rows"]]


@pytest.mark.parametrize(
    "args",
    [["plan", "cats-arvr", "-n", "1"], ["scenario", "list"], ["scenario", "show", "campus"]],
    ids=" ".join,
)
def test_o_yaml_of_builtin_commands_is_the_json(args: list[str]) -> None:
    code, as_yaml, err = cli(*args, "-o", "yaml")
    assert code == 0, err
    _, as_json, _ = cli(*args, "-o", "json")
    first, second = yaml.safe_load(as_yaml), json.loads(as_json)
    if args[0] == "plan":  # solve times differ between runs; the rows and their order do not
        assert [r["name"] for r in first["rows"]] == [r["name"] for r in second["rows"]]
    else:
        assert first == second


def test_json_and_o_json_print_the_same(env: dict[str, str], task_id: str) -> None:
    _, by_flag, _ = cli("task", "get", task_id, "--json", **env)
    _, by_option, _ = cli("task", "get", task_id, "-o", "json", **env)
    assert json.loads(by_flag) == json.loads(by_option)
    assert json.loads(by_flag)["id"] == task_id


@pytest.mark.parametrize(
    "command",
    [("task", "get", "{id}"), ("node", "list"), ("site", "list"), ("principal", "list")],
    ids=" ".join,
)
def test_o_yaml_prints_what_o_json_prints(
    env: dict[str, str], task_id: str, command: tuple[str, ...]
) -> None:
    args = [arg.replace("{id}", task_id) for arg in command]
    code, as_yaml, err = cli(*args, "-o", "yaml", **env)
    assert code == 0, err
    assert err == ""  # no count on stderr: the output is data
    _, as_json, _ = cli(*args, "-o", "json", **env)
    assert yaml.safe_load(as_yaml) == json.loads(as_json)


@pytest.mark.parametrize("command", [("node", "list"), ("site", "list")], ids=" ".join)
@pytest.mark.parametrize("wide", [False, True], ids=["table", "wide"])
def test_totals_rows_sum_the_columns_whole_at_80(
    env: dict[str, str], command: tuple[str, ...], wide: bool
) -> None:
    _, listed, _ = cli(*command, "--json", **env)
    items = json.loads(listed)
    code, out, err = cli(*command, *(["-o", "wide"] if wide else []), **env)
    assert code == 0, err
    total = next(line for line in out.splitlines() if line.strip().startswith("total"))
    if command[0] == "node":
        sums = [sum(n["cpu_cores"] for n in items), sum(n["mem_gib"] for n in items)]
        devices = sum(a["count"] for n in items for a in n["accelerators"])
        expected = [f"{sums[0]:,}", f"{sums[1]:,g}", f"{devices:,} devices"]
    else:
        expected = [f"{sum(s['nodes'] for s in items):,}"]
    for value in expected:
        assert value in total, f"{value!r} not whole in {total!r}"
    assert_nothing_cut(out, expected)


def test_scenario_show_ends_its_tier_table_in_totals() -> None:
    code, out, err = cli("scenario", "show", "east-west")
    assert code == 0, err
    assert_nothing_cut(out, ["total", "3,640", "413,880"])
    code, out, _ = cli("scenario", "show", "east-west", "-o", "yaml")
    assert sum(tier["nodes"] for tier in yaml.safe_load(out)["tiers"]) == 3640


def test_times_are_iso_8601(env: dict[str, str], task_id: str) -> None:
    _, out, _ = cli("task", "get", task_id, **env)
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", out), out


def test_a_unique_prefix_names_the_task(env: dict[str, str], task_id: str) -> None:
    code, out, err = cli("task", "get", task_id[:10], "--json", **env)
    assert code == 0, err
    assert json.loads(out)["id"] == task_id


def test_an_ambiguous_prefix_is_exit_2_naming_the_matches(env: dict[str, str]) -> None:
    ids = []
    for _ in range(20):  # 20 random hex ids: two share a first digit (pigeonhole over 16)
        _, out, _ = cli("task", "submit", *TASK, "--json", **env)
        ids.append(json.loads(out)["id"])
    first = next(d for d in "0123456789abcdef" if sum(i.startswith(d) for i in ids) >= 2)
    code, out, err = cli("task", "get", first, **env)
    assert code == 2
    assert err.count("\n") == 1, err
    assert "ambiguous" in err
    assert next(i for i in ids if i.startswith(first)) in err or "more" in err
    assert out == ""


def test_a_rejected_task_is_exit_3_with_a_close_site(env: dict[str, str]) -> None:
    args = ["--work-gflop", "5", "--cpu-cores", "1", "--ingress", "term-futin"]
    code, out, err = cli("task", "submit", *args, **env)
    assert code == 3
    assert "rejected" in out
    assert err.startswith("error: rejected: unknown ingress site 'term-futin'")
    assert "did you mean 'term-futian'" in err


def test_an_unknown_type_gets_the_close_catalogue_names(env: dict[str, str]) -> None:
    code, _, err = cli("task", "submit", "--type", "video-analytics-fram", **env)
    assert code == 2
    assert err.count("\n") == 1, err
    assert "did you mean 'video-analytics-frame'" in err


def test_node_list_reads_every_page(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, _ = cli("node", "list", "--json", **env)
    nodes = json.loads(out)
    assert len(nodes) > 300
    # pages of 100: the listing is read in several calls, and none is lost or repeated
    monkeypatch.setattr("suanwang.cli.client.PAGE_ITEMS", 100)
    code, out, _ = cli("node", "list", "--json", **env)
    assert code == 0
    assert [n["id"] for n in json.loads(out)] == [n["id"] for n in nodes]
    _, _, counted = cli("node", "list", **env)
    assert counted.strip() == f"{len(nodes):,} nodes"


def test_scenario_validate_takes_built_in_names() -> None:
    code, out, err = cli("scenario", "validate", "east-west", "metro-edge")
    assert code == 0, err
    assert out.startswith("ok: east-west (126 sites, 3640 nodes")
    code, _, err = cli("scenario", "validate", "atlantis")
    assert code == 2
    assert "built-ins" in err
