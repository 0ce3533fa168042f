"""The IETF CATS AR/VR example (built-in ``cats-arvr``): only the joint choice meets 20 ms.

Site 1 computes a frame in 4 ms behind a 9 ms round trip, site 2 in 10 ms behind 4 ms, site 3
in 5 ms behind 5 ms; 9.4 ms are spent in the headset. Each site is one 8-core box.
"""

from __future__ import annotations

import dataclasses

import pytest

from suanwang.model import TaskSpec
from suanwang.scenario.builtin import load_builtin
from suanwang.scheduling import ClusterState, Request, Scheduler, builtin_profiles
from suanwang.twin import TwinConfig, run_twin


def _frame() -> TaskSpec:
    scenario = load_builtin("cats-arvr")
    return scenario.workload.task_type("ar-vr-frame").spec.at("user")


def _scheduler(profile: str) -> Scheduler:
    scenario = load_builtin("cats-arvr")
    return Scheduler(builtin_profiles()[profile], ClusterState(scenario.topology))


@pytest.mark.parametrize(
    ("profile", "node", "total_ms"),
    [("nearest", "edge-2", 23.4), ("compute-only", "edge-1", 22.4), ("cats-joint", "edge-3", 19.4)],
)
def test_each_profile_picks_the_site_its_metric_prefers(
    profile: str, node: str, total_ms: float
) -> None:
    placement = _scheduler(profile).schedule(Request("frame", _frame())).placement
    assert placement is not None
    assert placement.node_id == node
    assert placement.estimate.total_ms == pytest.approx(total_ms)
    assert placement.estimate.fixed_ms == pytest.approx(9.4)


def test_eight_simultaneous_users_are_all_served_at_site_3() -> None:
    scheduler = _scheduler("cats-joint")
    for user in range(8):
        placement = scheduler.schedule(Request(f"user-{user}", _frame())).placement
        assert placement is not None, f"user {user} was refused"
        assert placement.node_id == "edge-3"
        assert placement.estimate.queueing_ms == 0.0
        assert placement.estimate.total_ms <= 20.0
    ninth = scheduler.schedule(Request("user-8", _frame()))
    assert ninth.placement is None  # site 3 is full; the others cannot meet 20 ms
    assert "latency-bound: 2" in ninth.status.reason


def test_the_twin_at_20_frames_a_second_meets_motion_to_photon() -> None:
    scenario = load_builtin("cats-arvr")
    result = run_twin(
        scenario, TwinConfig(duration_s=60.0, seed=3, scenario_failures=False)
    )
    stats = result.metrics.by_type["ar-vr-frame"]
    assert stats.generated > 600  # about 20 a second
    assert stats.sla_met / stats.generated >= 0.99
    assert stats.estimate_error_pct.quantile(0.95) < 1.0  # the estimate is what happens


def test_a_frame_with_more_fixed_latency_has_no_site_left() -> None:
    late = dataclasses.replace(_frame(), fixed_latency_ms=15.0)
    decision = _scheduler("cats-joint").schedule(Request("late", late))
    assert decision.placement is None
    assert decision.status.code == "unresolvable"
