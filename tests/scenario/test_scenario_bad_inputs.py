"""Every kind of bad scenario file: one error line, exit 2, within 5 s and 500 MB.

Time and Python-heap peak are measured per kind in-process; a real process validating all the
files at once shows that no traceback escapes and bounds its resident memory (its own VmHWM:
``ru_maxrss`` would carry the forking test process's peak over ``exec``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from bad_scenarios import BAD, MINI, Bad
from typer.testing import CliRunner

from suanwang.cli.main import app
from suanwang.scenario import ScenarioError, loads_scenario
from suanwang.scenario.limits import ScenarioLimits

LIMIT_S = 5.0
LIMIT_BYTES = 500 * 1024 * 1024


def test_the_table_holds_enough_distinct_kinds() -> None:
    assert len({bad.kind for bad in BAD}) == len(BAD) >= 30
    loads_scenario(MINI, "yaml")  # each kind breaks a scenario that is valid


@pytest.mark.parametrize("bad", BAD, ids=[bad.kind for bad in BAD])
def test_each_kind_gives_one_line_and_exit_2_quickly(tmp_path: Path, bad: Bad) -> None:
    path = bad.write(tmp_path)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = CliRunner().invoke(app, ["scenario", "validate", str(path)])
        elapsed_s = time.perf_counter() - started
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}")
    assert bad.needle in lines[0]
    assert len(lines[0]) < 500, "values in errors are shortened"
    assert elapsed_s < LIMIT_S
    assert peak_bytes < LIMIT_BYTES


# Runs the command line and writes the process's own resident peak (KiB) to argv[1] at exit.
_PEAK_WRAPPER = """
import atexit, pathlib, sys
def _peak(path=sys.argv[1]):
    status = pathlib.Path("/proc/self/status").read_text().splitlines()
    pathlib.Path(path).write_text(next(s for s in status if s.startswith("VmHWM")).split()[1])
atexit.register(_peak)
sys.argv = ["suanwang", *sys.argv[2:]]
from suanwang.cli.main import main
main()
"""


def test_a_real_process_refuses_every_kind_without_a_traceback(tmp_path: Path) -> None:
    paths = [bad.write(tmp_path) for bad in BAD]
    peak = tmp_path / "peak-kib"
    command = [sys.executable, "-c", _PEAK_WRAPPER, str(peak), "scenario", "validate"]
    process = subprocess.run(
        [*command, *map(str, paths)], capture_output=True, text=True, timeout=120, check=False
    )
    assert process.returncode == 2
    assert process.stdout == ""
    text = process.stderr
    assert "Traceback" not in text
    lines = text.splitlines()
    assert len(lines) == len(BAD), text
    for line, path, bad in zip(lines, paths, BAD, strict=True):
        assert line.startswith(f"error: {path}"), line
        assert bad.needle in line, line
    assert 0 < int(peak.read_text()) * 1024 < LIMIT_BYTES


def test_the_limits_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUANWANG_SCENARIO_MAX_BYTES", "100")
    monkeypatch.setenv("SUANWANG_SCENARIO_MAX_DEPTH", "8")
    limits = ScenarioLimits()
    assert (limits.max_bytes, limits.max_depth) == (100, 8)
    with pytest.raises(ScenarioError, match="larger than the limit of 100 bytes"):
        loads_scenario(MINI, "yaml", limits=limits)


def test_json_may_be_larger_than_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUANWANG_SCENARIO_MAX_YAML_BYTES", "100")
    limits = ScenarioLimits()
    with pytest.raises(ScenarioError, match="YAML text larger than the limit of 100 bytes"):
        loads_scenario(MINI, "yaml", limits=limits)
    as_json = json.dumps(yaml.safe_load(MINI))
    assert len(as_json) > 100
    loads_scenario(as_json, "json", limits=limits)


def test_aliases_within_the_bound_still_load() -> None:
    text = MINI.replace(
        "  - {id: s, tier: hub}\n  - {id: u, tier: edge}\n",
        "  - {id: s, tier: hub, geo: &g {lat_deg: 1.0, lon_deg: 2.0}}\n"
        "  - {id: u, tier: edge, geo: *g}\n",
    )
    scenario = loads_scenario(text, "yaml")
    assert len(scenario.topology.sites) == 2
    with pytest.raises(ScenarioError, match="aliases expand"):
        loads_scenario(text, "yaml", limits=ScenarioLimits(max_alias_nodes=1))


def test_line_numbers_come_from_the_one_parse() -> None:
    text = MINI.replace("bandwidth_mbps: 100", "bandwidth_mbps: -1")
    with pytest.raises(ScenarioError) as caught:
        loads_scenario(text, "yaml", source="s.yaml")
    assert str(caught.value).startswith("s.yaml:9: links[0].bandwidth_mbps:")


def test_an_unwritable_output_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "out.yaml"
    folder.mkdir()
    result = CliRunner().invoke(app, ["scenario", "generate", "-n", "5", "-o", str(folder)])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot write the file" in result.stderr
    assert os.listdir(tmp_path) == ["out.yaml"], "no partial file is left"
