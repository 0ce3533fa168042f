"""The IETF CATS AR/VR example (built-in ``cats-arvr``): only the joint choice meets 20 ms."""

from __future__ import annotations

import dataclasses

import pytest

from suanwang.scenario import load_builtin
from suanwang.scheduling import ClusterState, Request, Scheduler, builtin_profiles

SCENARIO = load_builtin("cats-arvr")
FRAME = SCENARIO.workload.task_type("ar-vr-frame").spec.at("user")


@pytest.mark.parametrize(
    ("profile", "node", "total_ms"),
    [("nearest", "edge-2", 23.4), ("compute-only", "edge-1", 22.4), ("cats-joint", "edge-3", 19.4)],
)
def test_each_profile_picks_the_site_the_draft_predicts(
    profile: str, node: str, total_ms: float
) -> None:
    scheduler = Scheduler(builtin_profiles()[profile], ClusterState(SCENARIO.topology))
    decision = scheduler.schedule(Request("frame", FRAME))
    assert decision.placement is not None
    assert decision.placement.node_id == node
    estimate = decision.placement.estimate
    assert estimate.fixed_ms == pytest.approx(9.4)
    assert estimate.total_ms == pytest.approx(total_ms)


def test_eight_users_are_all_served_at_site_3() -> None:
    scheduler = Scheduler(builtin_profiles()["cats-joint"], ClusterState(SCENARIO.topology))
    nodes = []
    for user in range(8):
        spec = dataclasses.replace(FRAME, affinity_key=f"user-{user}")
        decision = scheduler.schedule(Request(f"frame-{user}", spec))
        assert decision.placement is not None, decision.status.reason
        nodes.append(decision.placement.node_id)
    assert nodes == ["edge-3"] * 8
