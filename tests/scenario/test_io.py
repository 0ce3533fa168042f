"""Reading and writing scenario files: conveniences expand, round trips are lossless."""

import json
from pathlib import Path
from typing import Any

import pytest

from suanwang.model import AcceleratorKind, Precision, RandomFailures, ScriptedFailure, TrustLevel
from suanwang.scenario import (
    ScenarioDoc,
    ScenarioError,
    dump_scenario,
    dumps_scenario,
    load_scenario,
    loads_scenario,
    scenario_from_data,
)


def test_tiny_loads_with_every_convenience_expanded(tiny_path: Path) -> None:
    scenario = load_scenario(tiny_path)
    topology = scenario.topology
    assert list(topology.nodes) == ["gpu-1", "gpu-2", "edge-box"]  # count: 2 expands in order
    gpu = topology.nodes["gpu-2"]
    assert gpu.cpu_cores == 32  # from the profile
    assert gpu.accelerator_count(AcceleratorKind.GPU) == 4
    assert gpu.accelerators[0].peak_gflops[Precision.FP16] == 312_000
    assert topology.nodes["edge-box"].trust_level is TrustLevel.BASIC
    hub = topology.sites["hub-west"]
    assert hub.energy.name == "west-green"
    assert hub.energy.pue == 1.2
    assert dict(hub.labels) == {"province": "Ningxia"}
    assert set(topology.links) == {"user-a--r1", "r1--hub-west"}  # default link ids
    derived = topology.links["r1--hub-west"].latency_ms
    # r1 stands in user-a (Beijing); hub-west is Yinchuan: about 890 km x 1.4 x 5 us/km
    assert 5.5 < derived < 6.8
    assert isinstance(scenario.failures[0], ScriptedFailure)
    assert isinstance(scenario.failures[1], RandomFailures)
    spec = scenario.workload.task_type("infer").spec
    assert spec.service_id == "cs-infer"
    assert spec.task_type == "infer"


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_round_trip_is_lossless(tiny_path: Path, fmt: str) -> None:
    first = load_scenario(tiny_path)
    text = dumps_scenario(first, fmt)  # type: ignore[arg-type]
    second = loads_scenario(text, fmt)  # type: ignore[arg-type]
    assert second == first
    assert dumps_scenario(second, fmt) == text  # type: ignore[arg-type]


def test_dump_writes_the_format_of_the_suffix(tiny_path: Path, tmp_path: Path) -> None:
    scenario = load_scenario(tiny_path)
    for name in ("copy.yaml", "copy.json"):
        dump_scenario(scenario, tmp_path / name)
        assert load_scenario(tmp_path / name) == scenario
    json.loads((tmp_path / "copy.json").read_text())
    assert not list(tmp_path.glob("*.partial"))


def test_named_profile_stays_named_and_inline_stays_inline(tiny_data: dict[str, Any]) -> None:
    tiny_data["sites"][0]["energy"] = {"pue": 1.3, "carbon_g_per_kwh": 600}
    scenario = scenario_from_data(tiny_data)
    dumped = json.loads(dumps_scenario(scenario, "json"))
    assert dumped["sites"][1]["energy"] == "west-green"
    assert dumped["sites"][0]["energy"] == {"pue": 1.3, "carbon_g_per_kwh": 600.0}


def test_entry_fields_override_the_profile(tiny_data: dict[str, Any]) -> None:
    tiny_data["nodes"][0]["cpu_cores"] = 96
    scenario = scenario_from_data(tiny_data)
    assert scenario.topology.nodes["gpu-1"].cpu_cores == 96
    assert scenario.topology.nodes["gpu-1"].mem_gib == 256


def test_errors_from_data_name_the_source(tiny_data: dict[str, Any]) -> None:
    tiny_data["links"][0]["b"] = "ghost"
    with pytest.raises(ScenarioError) as raised:
        scenario_from_data(tiny_data, source="generated")
    assert str(raised.value) == (
        "generated: links[0].b: unknown site or network element (got 'ghost')"
    )


def test_several_problems_are_counted(tiny_data: dict[str, Any]) -> None:
    tiny_data["links"][0]["bandwidth_mbps"] = -1
    tiny_data["links"][1]["bandwidth_mbps"] = -1
    with pytest.raises(ScenarioError, match=r"\[and 1 more problem\]"):
        scenario_from_data(tiny_data)


def test_json_schema_names_every_section() -> None:
    schema = ScenarioDoc.model_json_schema(by_alias=True)
    assert set(schema["required"]) == {"version", "name"}
    for section in ("sites", "nodes", "elements", "links", "services", "workload", "failures"):
        assert section in schema["properties"]
    assert schema["$defs"]["TaskTypeDoc"]["properties"]["class"]["default"] == "warm"


def test_dump_refuses_an_unregistered_named_profile(tiny_path: Path) -> None:
    import dataclasses

    scenario = load_scenario(tiny_path)
    unregistered = dataclasses.replace(scenario, energy_profiles={})
    with pytest.raises(ValueError, match="'west-green' is used by a site but not registered"):
        dumps_scenario(unregistered)
