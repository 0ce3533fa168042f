"""Windowed placement: windows of arrivals placed by the flow, each on what the earlier left."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from suanwang.model import Placement, TaskClass
from suanwang.scheduling import ClusterState, builtin_profiles
from suanwang.scheduling.batch import (
    SlaCheck,
    evaluate,
    forecast_of,
    place_batch,
    place_online,
    place_windowed,
    solve_optimum,
)
from suanwang.scheduling.batch.instances import generate_instance
from suanwang.scheduling.scheduler import ProfilePlugins

CATS = builtin_profiles()["cats-joint"]


def test_one_window_of_everything_without_forecast_is_the_batch_flow() -> None:
    instance = generate_instance(3, shape="mesh", load="at", tasks=120)
    requests = list(instance.requests)
    windowed = place_windowed(
        CATS, ClusterState(instance.topology), requests, window=120, forecast=False
    )
    batch = place_batch(CATS, ClusterState(instance.topology), requests).placements
    assert [p and p.node_id for p in windowed] == [p and p.node_id for p in batch]


def test_windows_hold_what_they_placed_and_never_beat_the_optimum() -> None:
    instance = generate_instance(5, shape="ring-chords", load="over", tasks=150)
    requests = list(instance.requests)
    state = ClusterState(instance.topology)
    placements = place_windowed(CATS, state, requests, window=16)
    placed = [p for p in placements if p is not None]
    assert len(state.reservations) == len(placed) > 0  # every placement holds its reservation
    met = evaluate(instance.topology, requests, placements).sla_met
    optimum = solve_optimum(ClusterState(instance.topology), requests, least_price=False)
    assert optimum.optimal
    assert met <= optimum.sla_met


def test_windows_come_closer_to_the_optimum_than_one_at_a_time_over_capacity() -> None:
    # Summed over seeds and shapes, so that no single lucky instance decides it.
    online = windowed = 0
    for seed, shape in enumerate(("ring-chords", "tree", "mesh", "parallel")):
        instance = generate_instance(40 + seed, shape=shape, load="over", tasks=160)
        requests = list(instance.requests)
        topology = instance.topology
        online += evaluate(
            topology, requests, place_online(CATS, ClusterState(topology), requests)
        ).sla_met
        windowed += evaluate(
            topology, requests, place_windowed(CATS, ClusterState(topology), requests)
        ).sla_met
    assert windowed >= online


def test_a_window_below_one_arrival_is_refused() -> None:
    instance = generate_instance(1, tasks=100)
    with pytest.raises(ValueError, match="at least one arrival"):
        place_windowed(CATS, ClusterState(instance.topology), list(instance.requests), window=0)


def test_plugins_of_another_state_are_refused() -> None:
    instance = generate_instance(1, tasks=100)
    other = ProfilePlugins(CATS, ClusterState(instance.topology))
    with pytest.raises(ValueError, match="another profile or state"):
        place_batch(CATS, ClusterState(instance.topology), list(instance.requests), plugins=other)


def test_the_forecast_keeps_room_for_hot_work_over_capacity() -> None:
    # ring-chords/over/2 of the gap benchmark: big jobs and analytics arrive among 160 small
    # control loops that can use only a few sites; without the forecast the windows fill
    # those sites with the first big tasks, with it they keep them for the controls.
    instance = generate_instance(2, shape="ring-chords", load="over")
    requests = list(instance.requests)
    topology = instance.topology
    plain = place_windowed(CATS, ClusterState(topology), requests, forecast=False)
    ahead = place_windowed(CATS, ClusterState(topology), requests)
    check = SlaCheck(topology)

    def controls(placements: Sequence[Placement | None]) -> int:
        pairs = zip(requests, placements, strict=True)
        return sum(r.spec.task_type == "control" and check(r.spec, p) for r, p in pairs)

    assert controls(ahead) > controls(plain)
    met_ahead = evaluate(topology, requests, ahead).sla_met
    met_plain = evaluate(topology, requests, plain).sla_met
    assert met_ahead >= met_plain + len(requests) // 20  # at least 5 points of the batch


def test_forecast_ids_never_collide_and_hold_nothing_afterwards() -> None:
    instance = generate_instance(5, shape="ring-chords", load="over", tasks=60)
    requests = list(instance.requests)
    hot = next(r for r in requests[:20] if r.spec.task_class is TaskClass.HOT)
    # A task of the second window named as the first forecast copy would be.
    requests[20] = dataclasses.replace(requests[20], task_id=f"forecast~0~{hot.task_id}")
    state = ClusterState(instance.topology)
    placements = place_windowed(CATS, state, requests, window=20)
    placed = {r.task_id for r, p in zip(requests, placements, strict=True) if p is not None}
    assert placed
    assert len(state.reservations) == len(placed)
    assert all(task_id in state.reservations for task_id in placed)


def test_the_first_window_plans_against_its_own_hot_arrivals_copied() -> None:
    # Two windows: the first has no window before it, so its forecast is its own hot
    # arrivals (one window of them: one window of arrivals is still to come), and its plan
    # differs from the bare window's; nothing of the forecast is held afterwards.
    instance = generate_instance(2, shape="ring-chords", load="over")
    requests = list(instance.requests)
    half = len(requests) // 2
    state = ClusterState(instance.topology)
    ahead = place_windowed(CATS, state, requests, window=half)
    bare = place_windowed(CATS, ClusterState(instance.topology), requests, window=half,
                          forecast=False)  # fmt: skip
    assert [p and p.node_id for p in ahead[:half]] != [p and p.node_id for p in bare[:half]]
    assert len(state.reservations) == sum(p is not None for p in ahead)


def test_the_last_window_forecasts_nothing() -> None:
    # One window of everything is the batch's last: no arrival is left to forecast, so the
    # plan is the bare window's.
    instance = generate_instance(2, shape="ring-chords", load="over")
    requests = list(instance.requests)
    whole = len(requests)
    ahead = place_windowed(CATS, ClusterState(instance.topology), requests, window=whole)
    bare = place_windowed(CATS, ClusterState(instance.topology), requests, window=whole,
                          forecast=False)  # fmt: skip
    assert [p and p.node_id for p in ahead] == [p and p.node_id for p in bare]


def test_forecast_copies_repeat_the_previous_window_under_distinct_ids() -> None:
    instance = generate_instance(5, shape="ring-chords", load="over", tasks=40)
    requests = list(instance.requests)
    state = ClusterState(instance.topology)
    ghosts = forecast_of(requests[:10], requests[10:], state, copies=2)
    assert [g.spec for g in ghosts] == [r.spec for r in requests[:10]] * 2
    assert len({g.task_id for g in ghosts} | {r.task_id for r in requests}) == 60
    # a fractional copy repeats that share of the window from its start
    part = forecast_of(requests[:10], requests[10:], state, copies=1.5)
    assert [g.spec for g in part] == [r.spec for r in requests[:10] + requests[:5]]
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match=f"at least 0 and finite, got {bad}"):
            forecast_of(requests[:10], requests[10:], state, copies=bad)
