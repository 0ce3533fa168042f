"""Profiles as data: loading errors, unknown plugins, the built-ins, and outside plugins.

Outside plugins come in through the ``suanwang.scheduling.plugins`` entry-point group; here the
group is faked by patching ``entry_points`` where the registry looks it up.
"""

from __future__ import annotations

import importlib.metadata
import math
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from suanwang.model import Scenario, TaskSpec
from suanwang.scenario.generate import generate_scenario
from suanwang.scheduling import (
    ENTRY_POINT_GROUP,
    ClusterState,
    Cycle,
    Profile,
    ProfileError,
    Request,
    Scheduler,
    Stage,
    UnknownPluginError,
    builtin_profiles,
    load_profiles,
    plugin_factories,
    resolve_profile,
)
from suanwang.scheduling import registry as registry_module

BUILTIN_NAMES = [
    "nearest",
    "least-loaded",
    "random",
    "round-robin",
    "compute-only",
    "cats-joint",
    "cost",
    "green",
    "east-west",
]

# (YAML text, fragments the ProfileError message must hold: source, profile, field)
BAD_PROFILES = [
    ("p: [nearest]", ("bad.yaml", "profile 'p'", "expected a mapping, got list")),
    ("p: {scores: {nearest: 1}, colour: red}", ("bad.yaml", "profile 'p'", "['colour']")),
    ("p: {filters: node-health, scores: {nearest: 1}}", ("profile 'p'", "filters")),
    ("p: {filters: [node-health, 3], scores: {nearest: 1}}", ("profile 'p'", "filters")),
    ("p: {filters: [node-health]}", ("profile 'p'", "scores")),
    ("p: {scores: {}}", ("profile 'p'", "scores")),
    ("p: {scores: [nearest]}", ("profile 'p'", "scores")),
    ("p: {scores: {nearest: 0}}", ("profile 'p'", "scores.nearest")),
    ("p: {scores: {nearest: -2}}", ("profile 'p'", "scores.nearest")),
    ("p: {scores: {nearest: 'high'}}", ("profile 'p'", "scores.nearest")),
    ("p: {scores: {nearest: true}}", ("profile 'p'", "scores.nearest")),
    ("p: {scores: {nearest: 1}, hysteresis: 1.0}", ("profile 'p'", "hysteresis")),
    ("p: {scores: {nearest: 1}, hysteresis: -0.1}", ("profile 'p'", "hysteresis")),
    ("p: {scores: {nearest: 1}, hysteresis: lots}", ("profile 'p'", "hysteresis")),
    ("p: {scores: {nearest: 1}, args: [random]}", ("profile 'p'", "args")),
    (
        "good: {scores: {nearest: 1}}\nsecond: {scores: {nearest: 1}, hysteresis: 2}",
        ("bad.yaml", "profile 'second'", "hysteresis"),
    ),
    ("[nearest, random]", ("bad.yaml", "mapping of profile names")),
    ("p: {scores: {nearest: 1}", ("bad.yaml", "not valid YAML")),
]


@pytest.mark.parametrize(("text", "fragments"), BAD_PROFILES, ids=[t for t, _ in BAD_PROFILES])
def test_bad_profile_fields_name_profile_and_field(text: str, fragments: tuple[str, ...]) -> None:
    with pytest.raises(ProfileError) as caught:
        load_profiles(text, "bad.yaml")
    message = str(caught.value)
    if "not valid YAML" not in message:  # the YAML parser's own report spans lines
        assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


# Fields the loader accepts but should not: each gives a TypeError or a wrong profile today.
LOOSE_PROFILES = [
    pytest.param(
        "p: {scores: {nearest: 1}, args: {random: 5}}",
        "args",
        id="args-entry-not-a-mapping",
    ),
    pytest.param(
        "p: {scores: {nearest: .nan}}",
        "scores.nearest",
        id="nan-weight",
    ),
    pytest.param(
        "p: {scores: {nearest: .inf}}",
        "scores.nearest",
        id="infinite-weight",
    ),
    pytest.param(
        "p: {scores: {nearest: 1}, affinity: 'false'}",
        "affinity",
        id="affinity-string",
    ),
]


@pytest.mark.parametrize(("text", "field"), LOOSE_PROFILES)
def test_loose_fields_are_refused(text: str, field: str) -> None:
    with pytest.raises(ProfileError, match=field):
        load_profiles(text, "loose.yaml")


def test_a_valid_profile_with_defaults() -> None:
    profiles = load_profiles(
        "mine:\n  description: '  Mine.  '\n  scores: {end-to-end: 2, cost: 1}\n", "ok.yaml"
    )
    mine = profiles["mine"]
    assert mine == Profile(
        "mine", "Mine.", (), "latency-shortest", {"end-to-end": 2.0, "cost": 1.0}, 0.0, True, {}
    )
    assert load_profiles("", "empty.yaml") == {}


def test_builtins_are_the_documented_set() -> None:
    profiles = builtin_profiles()
    assert list(profiles) == BUILTIN_NAMES
    joint = profiles["cats-joint"]
    assert joint.filters == (
        "node-health",
        "resource-fit",
        "residency",
        "trust",
        "latency-bound",
        "path-bandwidth",
        "latency-budget",
        "price-budget",
    )
    # scarcity and link-fit weighted up, chosen on the gap benchmark (BENCHMARKS.md)
    assert joint.scores == {
        "end-to-end": 1.0,
        "scarcity": 4.0,
        "link-fit": 2.0,
        "cost": 0.25,
        "cats-metric": 0.25,
    }
    assert joint.hysteresis == pytest.approx(0.02)
    assert joint.affinity


def test_resolve_profile_by_name_file_or_error(tmp_path: Path) -> None:
    assert resolve_profile("green") == builtin_profiles()["green"]
    path = tmp_path / "mine.yaml"
    path.write_text("first: {scores: {nearest: 1}}\nsecond: {scores: {cost: 1}}\n", "utf-8")
    assert resolve_profile(str(path)).name == "first"
    (tmp_path / "none.yaml").write_text("", "utf-8")
    with pytest.raises(ProfileError, match="defines no profile"):
        resolve_profile(str(tmp_path / "none.yaml"))
    with pytest.raises(ProfileError, match="cannot read the file"):
        resolve_profile(str(tmp_path / "missing.yaml"))
    with pytest.raises(ProfileError, match="unknown profile 'fastest'; built-ins: nearest, "):
        resolve_profile("fastest")


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("filter", {"filters": ("node-health", "teleport")}),
        ("score", {"scores": {"nearest": 1.0, "teleport": 1.0}}),
        ("route", {"route": "teleport"}),
    ],
)
def test_unknown_plugin_lists_the_known_ones(sw: Any, kind: str, fields: dict[str, Any]) -> None:
    with pytest.raises(UnknownPluginError) as caught:
        sw.scheduler(sw.hand_topology(), **fields)
    message = str(caught.value)
    assert message.startswith("unknown scheduling plugin 'teleport'; known: ")
    known = message.split("known: ")[1].split(", ")
    assert known == sorted(known)
    assert {"node-health", "resource-fit", "latency-shortest", "end-to-end", "random"} <= set(known)
    assert isinstance(caught.value, KeyError)


def test_plugin_at_the_wrong_point_is_a_type_error(sw: Any) -> None:
    with pytest.raises(TypeError, match="plugin 'nearest' cannot serve as a Filter plugin"):
        sw.scheduler(sw.hand_topology(), filters=("nearest",))
    with pytest.raises(TypeError, match="plugin 'trust' cannot serve as a Score plugin"):
        sw.scheduler(sw.hand_topology(), scores={"trust": 1.0})
    with pytest.raises(TypeError, match="cannot serve as a Route plugin"):
        sw.scheduler(sw.hand_topology(), route="resource-fit")


@pytest.fixture(scope="module")
def generated() -> Scenario:
    return generate_scenario(200, seed=11)


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_every_builtin_profile_places_a_simple_task(generated: Scenario, name: str) -> None:
    terminals = [site for site, _ in generated.workload.arrivals[0].ingress]
    assert len(generated.topology.nodes) == 200
    scheduler = Scheduler(builtin_profiles()[name], ClusterState(generated.topology))
    for k, ingress in enumerate(terminals[:5]):
        spec = TaskSpec(2.0, cpu_cores=1.0, mem_gib=1.0, ingress_site=ingress)
        decision = scheduler.schedule(Request(f"{name}-{k}", spec))
        assert decision.status.ok, decision.status.reason
        assert decision.placement is not None
        assert decision.placement.path[0] == ingress
        assert decision.placement.node_id in generated.topology.nodes
    assert len(scheduler.state.reservations) == min(5, len(terminals))


# --- an outside plugin package, installed through a (fake) entry point ----------------------


class MinCores:
    """Outside filter: nodes with at least ``cores`` CPU cores."""

    name = "min-cores"
    stage: ClassVar[Stage] = Stage.PRE_ROUTE

    def __init__(self, args: Mapping[str, Any]) -> None:
        self.cores = float(args.get("cores", 1))

    def filter(self, cycle: Cycle) -> np.ndarray:
        return cycle.state.arrays.node_cpu_cores >= self.cores

    def explain(self, cycle: Cycle, node: int) -> str:
        have = cycle.state.arrays.node_cpu_cores[node]
        return f"has {have:g} cores, the profile wants {self.cores:g}"


class MostCores:
    """Outside score: more cores is better."""

    name = "most-cores"
    higher_is_better: ClassVar[bool] = True

    def score(self, cycle: Cycle) -> np.ndarray:
        return np.asarray(cycle.state.arrays.node_cpu_cores, dtype=np.float64)


def _fake_package(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    module = types.ModuleType("suanwang_fake_plugins")
    module.make_min_cores = lambda args, state: MinCores(args)  # type: ignore[attr-defined]
    module.make_most_cores = lambda args, state: MostCores()  # type: ignore[attr-defined]
    module.make_impostor = lambda args, state: "not a plugin"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "suanwang_fake_plugins", module)
    entries = [
        importlib.metadata.EntryPoint(name, f"suanwang_fake_plugins:{target}", ENTRY_POINT_GROUP)
        for name, target in (
            ("min-cores", "make_min_cores"),
            ("most-cores", "make_most_cores"),
            ("nearest", "make_impostor"),  # in-tree names win over outside ones
        )
    ]
    asked: list[str] = []

    def fake_entry_points(**kwargs: Any) -> list[importlib.metadata.EntryPoint]:
        asked.append(kwargs.get("group", ""))
        return entries if kwargs.get("group") == ENTRY_POINT_GROUP else []

    monkeypatch.setattr(registry_module, "entry_points", fake_entry_points)
    return asked


def test_outside_plugins_from_entry_points_are_usable_in_a_profile(
    sw: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _fake_package(monkeypatch)
    profile = load_profiles(
        "big-iron:\n"
        "  filters: [resource-fit, min-cores]\n"
        "  scores: {most-cores: 2, nearest: 1}\n"
        "  args: {min-cores: {cores: 32}}\n",
        "outside.yaml",
    )["big-iron"]
    scheduler = Scheduler(profile, ClusterState(sw.hand_topology()))
    assert asked == [ENTRY_POINT_GROUP]
    decision = scheduler.schedule(Request("t1", TaskSpec(1.0, ingress_site="U")))
    assert decision.placement is not None
    assert decision.placement.node_id == "hub-big"  # 64 cores: most-cores outweighs nearest
    verdict = decision.diagnosis.why_not("edge-cpu")
    assert (verdict.plugin, verdict.reason) == ("min-cores", "has 8 cores, the profile wants 32")
    assert decision.diagnosis.rejected_by == {"min-cores": 4}


def test_in_tree_names_win_and_outside_names_are_listed(
    sw: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_package(monkeypatch)
    factories = plugin_factories()
    assert {"min-cores", "most-cores"} <= set(factories)
    assert factories["nearest"] is registry_module.IN_TREE["nearest"]
    scheduler = sw.scheduler(sw.hand_topology(), scores={"nearest": 1.0})
    placement = scheduler.schedule(Request("t1", TaskSpec(1.0, ingress_site="U"))).placement
    assert placement is not None
    assert placement.node_id == "edge-cpu"
    with pytest.raises(UnknownPluginError, match="min-cores, most-cores"):
        sw.scheduler(sw.hand_topology(), filters=("mystery",))


def test_profile_weights_are_finite_for_every_builtin() -> None:
    for profile in builtin_profiles().values():
        assert all(math.isfinite(w) and w > 0 for w in profile.scores.values())
        assert 0.0 <= profile.hysteresis < 1.0
