"""The region hierarchy, data policies, and the checks a task spec makes of its policy fields."""

from __future__ import annotations

import pytest

from suanwang.model import (
    DataPolicy,
    Site,
    TaskSpec,
    Tier,
    Topology,
    TopologyError,
    region_pattern_problem,
    region_within,
)


@pytest.mark.parametrize(
    ("code", "pattern", "inside"),
    [
        ("CN", "CN", True),
        ("CN-GD", "CN", True),
        ("CN-GD-SZ", "CN", True),
        ("CN-GD-SZ", "CN-GD", True),
        ("CN-GD", "CN-G", False),  # a string prefix, not a parent region
        ("CN-G", "CN-G", True),
        ("CN-G-X", "CN-G", True),
        ("CN-GDX", "CN-GD", False),
        ("CN", "CN-GD", False),  # a parent is not inside its child
        ("", "CN", False),
        ("CNX", "CN", False),
    ],
)
def test_region_within_follows_the_segments(code: str, pattern: str, inside: bool) -> None:
    assert region_within(code, pattern) is inside


@pytest.mark.parametrize("pattern", ["", " ", "\t", "CN GD", "CN-", "-CN", "CN--GD", " CN"])
def test_unusable_region_patterns_are_named(pattern: str) -> None:
    assert region_pattern_problem(pattern) is not None
    with pytest.raises(ValueError, match="region pattern"):
        TaskSpec(1.0, residency=("CN", pattern))


def test_usable_region_patterns_pass() -> None:
    for pattern in ("CN", "CN-GD", "CN-GD-SZ", "DE_1"):
        assert region_pattern_problem(pattern) is None
    assert TaskSpec(1.0, residency=("CN-GD",)).residency == ("CN-GD",)


@pytest.mark.parametrize("tag", ["", " ", "two words"])
def test_blank_data_tags_are_refused(tag: str) -> None:
    with pytest.raises(ValueError, match="data tag"):
        TaskSpec(1.0, data_tags=frozenset({tag}))


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf")])
def test_fixed_latency_must_be_finite_and_not_negative(value: float) -> None:
    with pytest.raises(ValueError, match="fixed_latency_ms"):
        TaskSpec(1.0, fixed_latency_ms=value)


def test_a_policy_allows_only_what_all_its_fields_allow() -> None:
    policy = DataPolicy(
        "medical", regions=("CN-GD",), tiers=frozenset({Tier.REGION}), owners=frozenset({"op"})
    )
    assert policy.allows("CN-GD-SZ", Tier.REGION, "op")
    assert not policy.allows("CN-G", Tier.REGION, "op")
    assert not policy.allows("CN-GD", Tier.EDGE, "op")
    assert not policy.allows("CN-GD", Tier.REGION, "clinic")
    assert DataPolicy("open").allows("", Tier.HUB, "anyone")
    assert "regions ['CN-GD']" in policy.describe()
    assert "no restriction" in DataPolicy("open").describe()


def test_a_policy_refuses_blank_fields() -> None:
    with pytest.raises(ValueError, match="region pattern"):
        DataPolicy("medical", regions=("",))
    with pytest.raises(ValueError, match="owner"):
        DataPolicy("medical", owners=frozenset({" "}))
    with pytest.raises(ValueError, match="data tag"):
        DataPolicy("")


def test_policies_travel_with_the_topology_through_updates() -> None:
    policy = DataPolicy("medical", regions=("CN",))
    topology = Topology([Site("a", Tier.EDGE)], data_policies=[policy])
    assert topology.data_policies == {"medical": policy}
    grown = topology.updated(Site("b", Tier.EDGE))
    assert grown.data_policies == {"medical": policy}
    assert grown.removed("b").data_policies == {"medical": policy}
    assert topology != Topology([Site("a", Tier.EDGE)])  # policies are part of equality
    with pytest.raises(TopologyError, match="duplicate data policy"):
        Topology(data_policies=[policy, policy])
