"""Bad scenario files: exit code 2 and one line naming the file, the field and the value."""

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from suanwang.cli.main import app

Data = dict[str, Any]


def _set(*path: str | int, value: Any) -> Callable[[Data], None]:
    def mutate(data: Data) -> None:
        target: Any = data
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return mutate


def _delete(*path: str | int) -> Callable[[Data], None]:
    def mutate(data: Data) -> None:
        target: Any = data
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return mutate


def _append(section: str, entry: Any) -> Callable[[Data], None]:
    return lambda data: data[section].append(entry)


# (case id, mutation, field path expected in the message, text expected in the message)
CASES: list[tuple[str, Callable[[Data], None], str, str]] = [
    ("missing-field", _delete("sites", 0, "tier"), "sites[0].tier", "required field is missing"),
    (
        "wrong-type",
        _set("links", 0, "bandwidth_mbps", value="fast"),
        "links[0].bandwidth_mbps",
        "valid number",
    ),
    ("unknown-site-in-link", _set("links", 0, "a", value="mars"), "links[0].a", "'mars'"),
    (
        "negative-bandwidth",
        _set("links", 0, "bandwidth_mbps", value=-5),
        "links[0].bandwidth_mbps",
        "greater than 0",
    ),
    (
        "duplicate-site-id",
        _set("sites", 1, "id", value="user-a"),
        "sites[1].id",
        "duplicate site id",
    ),
    ("unknown-tier", _set("sites", 0, "tier", value="moon"), "sites[0].tier", "'hub'"),
    ("unknown-top-level-field", _set("sitez", value=[]), "sitez", "unknown field"),
    (
        "unknown-nested-field",
        _set("links", 1, "bandwith_mbps", value=5),
        "links[1].bandwith_mbps",
        "unknown field",
    ),
    ("unsupported-version", _set("version", value=2), "version", "should be 1"),
    ("missing-version", _delete("version"), "version", "required field is missing"),
    (
        "node-at-unknown-site",
        _set("nodes", 1, "site", value="atlantis"),
        "nodes[1].site",
        "unknown site",
    ),
    (
        "unknown-node-profile",
        _set("nodes", 0, "profile", value="cray"),
        "nodes[0].profile",
        "unknown node profile",
    ),
    (
        "unknown-energy-profile",
        _set("sites", 1, "energy", value="coal"),
        "sites[1].energy",
        "unknown energy profile",
    ),
    (
        "pue-below-one",
        _set("energy_profiles", "west-green", "pue", value=0.9),
        "energy_profiles.west-green.pue",
        "greater than or equal to 1",
    ),
    (
        "carbon-profile-23-hours",
        _set("energy_profiles", "west-green", "carbon_profile_g_per_kwh", value=[100] * 23),
        "energy_profiles.west-green.carbon_profile_g_per_kwh",
        "at least 24",
    ),
    (
        "duplicate-node-after-count",
        _append("nodes", {"id": "gpu-2", "site": "user-a"}),
        "nodes[2].id",
        "duplicate node id",
    ),
    (
        "unknown-task-type",
        _set("workload", "arrivals", 0, "task_type", value="mining"),
        "workload.arrivals[0].task_type",
        "unknown task type",
    ),
    (
        "unknown-ingress",
        _set("workload", "arrivals", 0, "ingress", value={"nowhere": 1}),
        "workload.arrivals[0].ingress.nowhere",
        "unknown ingress site",
    ),
    (
        "instance-on-unknown-node",
        _set("services", 0, "instances", 0, "node", value="ghost"),
        "services[0].instances[0].node",
        "unknown node",
    ),
    (
        "unknown-failure-target",
        _set("failures", 0, "target", value="ghost"),
        "failures[0].target",
        "unknown failure target",
    ),
    (
        "loss-ratio-one",
        _set("links", 0, "loss_ratio", value=1.0),
        "links[0].loss_ratio",
        "less than 1",
    ),
    ("slice-above-bandwidth", _set("links", 0, "slice_mbps", value=5000), "links[0]", "slice_mbps"),
    (
        "idle-above-peak-power",
        _set("nodes", 1, "idle_power_w", value=500),
        "nodes[1]",
        "idle_power_w",
    ),
    (
        "latitude-out-of-range",
        _set("sites", 0, "geo", "lat_deg", value=95),
        "sites[0].geo.lat_deg",
        "less than or equal to 90",
    ),
    (
        "diurnal-without-profile",
        _set("workload", "arrivals", 0, "kind", value="diurnal"),
        "workload.arrivals[0]",
        "hourly_multipliers",
    ),
    ("latency-underivable", _delete("sites", 0, "geo"), "links[1].latency_ms", "no geo position"),
    ("self-link", _set("links", 0, "b", value="user-a"), "links[0].b", "itself"),
    ("bad-id-characters", _set("sites", 0, "id", value="user a"), "sites[0].id", "pattern"),
    (
        "empty-residency-pattern",
        _set("workload", "task_types", 0, "residency", value=[""]),
        "workload.task_types[0].residency[0]",
        "must not be empty or blank (got '')",
    ),
    (
        "blank-residency-pattern",
        _set("workload", "task_types", 0, "residency", value=["CN", "  "]),
        "workload.task_types[0].residency[1]",
        "must not be empty or blank (got '  ')",
    ),
    (
        "residency-pattern-with-empty-segment",
        _set("workload", "task_types", 0, "residency", value=["CN--GD"]),
        "workload.task_types[0].residency[0]",
        "non-empty segments joined by '-' (got 'CN--GD')",
    ),
    (
        "data-tag-without-policy",
        _set("workload", "task_types", 0, "data_tags", value=["medical"]),
        "workload.task_types[0].data_tags[0]",
        "data tag without a data policy; declared: none (got 'medical')",
    ),
    (
        "empty-policy-region",
        _set("data_policies", value={"medical": {"regions": [" "]}}),
        "data_policies.medical.regions[0]",
        "must not be empty or blank (got ' ')",
    ),
    (
        "unknown-policy-tier",
        _set("data_policies", value={"medical": {"tiers": ["orbit"]}}),
        "data_policies.medical.tiers[0]",
        "'hub'",
    ),
    (
        "negative-fixed-latency",
        _set("workload", "task_types", 0, "fixed_latency_ms", value=-1),
        "workload.task_types[0].fixed_latency_ms",
        "greater than or equal to 0",
    ),
]


def _run(path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["scenario", "validate", str(path)])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("mutate", "field", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_yaml_file_gives_exit_2_and_one_line(
    tmp_path: Path, tiny_data: Data, mutate: Callable[[Data], None], field: str, needle: str
) -> None:
    mutate(tiny_data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny_data, sort_keys=False), encoding="utf-8")
    code, out, err = _run(path)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert f"{path}:" in line
    assert re.search(rf"{re.escape(str(path))}:\d+: ", line), "YAML errors carry a line number"
    assert f": {field}" in line
    assert needle in line
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("mutate", "field", "needle"), [c[1:] for c in CASES[:8]], ids=[c[0] for c in CASES[:8]]
)
def test_bad_json_file_gives_exit_2_and_one_line(
    tmp_path: Path, tiny_data: Data, mutate: Callable[[Data], None], field: str, needle: str
) -> None:
    mutate(tiny_data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(tiny_data), encoding="utf-8")
    code, _, err = _run(path)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert f"{path}: {field}" in err
    assert needle in err


def test_line_number_points_at_the_field(tmp_path: Path, tiny_path: Path) -> None:
    text = tiny_path.read_text(encoding="utf-8")
    lines = text.splitlines()
    target = next(i for i, line in enumerate(lines, 1) if "bandwidth_mbps: 1000," in line)
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("bandwidth_mbps: 1000,", "bandwidth_mbps: -1,"), encoding="utf-8")
    _, _, err = _run(path)
    assert f"{path}:{target}: links[0].bandwidth_mbps" in err


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("syntax.yaml", "version: 1\nname: [unclosed\n", "not valid YAML"),
        ("syntax.json", '{"version": 1,', "not valid JSON"),
        ("empty.yaml", "", "an empty document"),
        ("list.yaml", "- 1\n- 2\n", "expected a mapping"),
        ("scenario.txt", "version: 1", "unknown file type"),
    ],
)
def test_unparseable_files(tmp_path: Path, name: str, content: str, needle: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    code, _, err = _run(path)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert str(path) in err
    assert needle in err


def test_missing_file(tmp_path: Path) -> None:
    code, _, err = _run(tmp_path / "absent.yaml")
    assert code == 2
    assert "absent.yaml" in err
    assert "cannot read the file" in err


def test_a_real_process_prints_no_traceback(tmp_path: Path, tiny_data: Data) -> None:
    tiny_data["links"][0]["a"] = "mars"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny_data), encoding="utf-8")
    process = subprocess.run(
        [sys.executable, "-m", "suanwang", "scenario", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 2
    assert process.stdout == ""
    assert process.stderr.count("\n") == 1
    assert "links[0].a: unknown site or network element (got 'mars')" in process.stderr
