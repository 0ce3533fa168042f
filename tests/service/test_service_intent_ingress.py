"""A region-only intent's users enter at the live sites of its regions, nearest tier first."""

from __future__ import annotations

import pytest

from suanwang.model import Site, Tier, Topology
from suanwang.scenario.intent import read_intent, translate
from suanwang.service.intent_ingress import with_ingress

TOPOLOGY = Topology(
    [
        Site("sz-users", Tier.TERMINAL, region="CN-GD-SZ"),
        Site("gz-users", Tier.TERMINAL, region="CN-GD-GZ"),
        Site("sz-edge", Tier.EDGE, region="CN-GD-SZ"),
        Site("gy-hub", Tier.HUB, region="CN-GZ"),
    ]
)


def _vr(coverage: str, users: int = 30) -> str:
    return (
        f"version: 1\nname: vr\nneed: {{kind: ar-vr, users: {users}}}\n"
        f"coverage: {coverage}\nquality: {{latency_ms: 20}}\n"
    )


def test_replicas_enter_in_turn_at_the_regions_sites_of_the_tier_nearest_users() -> None:
    translation = with_ingress(translate(read_intent(_vr("{regions: [CN-GD]}"))), TOPOLOGY)
    ingress = [spec.ingress_site for spec in translation.specs]
    assert len(ingress) >= 3
    assert ingress[:3] == ["gz-users", "sz-users", "gz-users"]  # terminals, not the edge
    assert translation.derivations[-1].field == "ingress sites"
    assert "terminal" in translation.derivations[-1].rule
    # Only a hub in the region: its users enter there.
    hub = with_ingress(translate(read_intent(_vr("{regions: [CN-GZ]}"))), TOPOLOGY)
    assert {spec.ingress_site for spec in hub.specs} == {"gy-hub"}


def test_named_sites_are_kept_and_a_region_without_sites_is_named() -> None:
    named = translate(read_intent(_vr("{sites: [sz-edge], regions: [CN-GD]}")))
    assert with_ingress(named, TOPOLOGY) is named
    nowhere = translate(read_intent(_vr("{regions: [CN-SH]}")))
    with pytest.raises(ValueError, match=r"coverage\.regions: no site of the live topology"):
        with_ingress(nowhere, TOPOLOGY)
