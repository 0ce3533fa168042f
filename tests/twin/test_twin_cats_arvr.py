"""The IETF CATS AR/VR example in the twin: the joint decision meets the motion-to-photon budget."""

from __future__ import annotations

from suanwang.scenario import load_builtin
from suanwang.twin import TwinConfig, run_twin


def test_cats_joint_meets_the_budget_for_twenty_frames_a_second() -> None:
    # 120 s of arrivals at about 20 frames/s, before the scenario's edge-3 failure at 300 s.
    result = run_twin(load_builtin("cats-arvr"), TwinConfig(profile="cats-joint", duration_s=120))
    hot = result.metrics.by_class["hot"]
    assert hot.generated > 2000
    assert hot.completed == hot.generated
    assert hot.sla_met >= 0.99 * hot.generated


def test_nearest_site_misses_the_budget_the_joint_decision_meets() -> None:
    # The nearest site (2) computes in 10 ms: 9.4 fixed + 4 network + 10 compute > 20 ms.
    result = run_twin(load_builtin("cats-arvr"), TwinConfig(profile="nearest", duration_s=20))
    hot = result.metrics.by_class["hot"]
    assert hot.generated > 300
    assert hot.sla_met < 0.5 * hot.generated
