"""The autoscaling rule: bounds, no flapping, monotone in load, the stabilisation window."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.control.autoscale import Recommendation, ScalePolicy, decide, recommend

LOADS = st.lists(st.floats(0.0, 4.0, allow_nan=False), max_size=12)


@st.composite
def policies(draw: st.DrawFn) -> ScalePolicy:
    low = draw(st.integers(1, 6))
    return ScalePolicy(
        min_replicas=low,
        max_replicas=draw(st.integers(low, 12)),
        target_utilisation=draw(st.floats(0.05, 1.0)),
        tolerance=draw(st.floats(0.0, 0.5)),
        scale_down_window_s=draw(st.floats(0.0, 120.0)),
    )


@settings(max_examples=300, deadline=None)
@given(policies(), st.lists(st.tuples(st.floats(0, 10), LOADS), min_size=1, max_size=20))
def test_desired_is_always_within_bounds(
    policy: ScalePolicy, steps: list[tuple[float, list[float]]]
) -> None:
    history: tuple[Recommendation, ...] = ()
    now_s, current = 0.0, policy.min_replicas
    for step_s, loads in steps:
        now_s += step_s
        decision, history = decide(policy, history, now_s, current, loads)
        assert policy.min_replicas <= decision.desired <= policy.max_replicas
        current = decision.desired


@settings(max_examples=200, deadline=None)
@given(policies(), st.floats(0.0, 2.0, allow_nan=False), st.integers(1, 12))
def test_a_constant_load_settles_and_never_flaps(
    policy: ScalePolicy, load: float, start: int
) -> None:
    # The total load is what the service carries; the replicas share it evenly.
    total = load * start
    history: tuple[Recommendation, ...] = ()
    current, seen = policy.clamp(start), []
    for step in range(40):
        loads = [total / current] * current
        decision, history = decide(policy, history, step * 5.0, current, loads)
        seen.append(decision.desired)
        current = decision.desired
    tail = seen[len(seen) // 2 :]
    # Settled: one value for the whole second half, and no up-and-down at any point.
    assert len(set(tail)) == 1
    ups = [b > a for a, b in itertools.pairwise(seen) if a != b]
    assert all(ups) or not any(ups)


@settings(max_examples=300, deadline=None)
@given(policies(), st.integers(1, 12), LOADS, st.floats(0.0, 2.0))
def test_more_load_never_asks_for_fewer_replicas(
    policy: ScalePolicy, current: int, loads: list[float], extra: float
) -> None:
    history = (Recommendation(0.0, current),)
    heavier = [load + extra for load in loads]
    low, _ = decide(policy, history, 1.0, current, loads)
    high, _ = decide(policy, history, 1.0, current, heavier)
    assert high.desired >= low.desired


def test_the_hpa_rule_scales_up_at_once() -> None:
    policy = ScalePolicy(1, 5, target_utilisation=0.5, scale_down_window_s=30.0)
    decision, _ = decide(policy, (), 0.0, 1, [0.9])
    assert decision.desired == 2  # ceil(0.9 / 0.5)
    assert decision.reason.startswith("up 1 -> 2")
    decision, _ = decide(policy, (), 0.0, 2, [1.0, 1.0])
    assert decision.desired == 4
    decision, _ = decide(policy, (), 0.0, 4, [1.0] * 4)
    assert decision.desired == 5
    assert "clamped to [1, 5]" in decision.reason


def test_scale_down_waits_for_the_window() -> None:
    policy = ScalePolicy(1, 5, target_utilisation=0.5, scale_down_window_s=30.0)
    history: tuple[Recommendation, ...] = ()
    decision, history = decide(policy, history, 0.0, 3, [0.5, 0.5, 0.5])
    assert decision.desired == 3
    decision, history = decide(policy, history, 10.0, 3, [0.1, 0.1, 0.1])
    assert decision.desired == 3
    assert "held by the 30 s window" in decision.reason
    decision, history = decide(policy, history, 29.0, 3, [0.1, 0.1, 0.1])
    assert decision.desired == 3
    decision, history = decide(policy, history, 31.0, 3, [0.1, 0.1, 0.1])
    assert decision.desired == 1
    assert decision.reason.startswith("down 3 -> 1")


def test_within_tolerance_and_unmeasured_hold() -> None:
    policy = ScalePolicy(1, 5, target_utilisation=0.5, tolerance=0.1)
    assert recommend(policy, 2, [0.52, 0.48]) == (2, recommend(policy, 2, [0.52, 0.48])[1])
    assert "within tolerance" in recommend(policy, 2, [0.52, 0.48])[1]
    assert recommend(policy, 3, []) == (3, "no replica measured yet: holding")


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"min_replicas": 0}, "min_replicas"),
        ({"min_replicas": 3, "max_replicas": 2}, "max_replicas"),
        ({"target_utilisation": 0.0}, "target_utilisation"),
        ({"target_utilisation": 1.5}, "target_utilisation"),
        ({"tolerance": -0.1}, "tolerance"),
        ({"scale_down_window_s": float("inf")}, "scale_down_window_s"),
    ],
)
def test_bad_policies_name_the_field(fields: dict[str, float], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        ScalePolicy(**fields)  # type: ignore[arg-type]


def test_a_bad_load_is_refused() -> None:
    with pytest.raises(ValueError, match="load"):
        recommend(ScalePolicy(), 1, [float("nan")])
