"""Metering: each event once, duplicates dropped, conflicts refused, late usage adjusted."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.market import Dimension, Ingest, Meter, UsageConflictError, UsageEvent


def _event(run: str, quantity: float = 10.0, ended_s: float = 5.0, **kw: object) -> UsageEvent:
    return UsageEvent(run, "t", "p", Dimension.CORE_SECONDS, quantity, ended_s, **kw)  # type: ignore[arg-type]


def test_an_event_is_metered_once_and_a_replay_changes_nothing() -> None:
    meter = Meter(period_s=60.0)
    assert meter.ingest(_event("r1")) is Ingest.ACCEPTED
    assert meter.ingest(_event("r1")) is Ingest.DUPLICATE
    (line,) = meter.lines(0)
    assert line.quantity == 10.0
    assert line.keys == ["r1/core-s"]
    assert meter.events == 1


def test_the_same_key_with_other_figures_is_refused() -> None:
    meter = Meter(period_s=60.0)
    meter.ingest(_event("r1"))
    with pytest.raises(UsageConflictError, match="r1/core-s"):
        meter.ingest(_event("r1", quantity=11.0))
    assert next(iter(meter.lines(0))).quantity == 10.0


def test_detail_is_part_of_the_key() -> None:
    meter = Meter(period_s=60.0)
    gpu = UsageEvent("r1", "t", "p", Dimension.ACCELERATOR_SECONDS, 3.0, 1.0, detail="gpu")
    npu = UsageEvent("r1", "t", "p", Dimension.ACCELERATOR_SECONDS, 2.0, 1.0, detail="npu")
    assert (meter.ingest(gpu), meter.ingest(npu)) == (Ingest.ACCEPTED, Ingest.ACCEPTED)
    assert gpu.key == "r1/accelerator-s/gpu"


def test_usage_after_its_period_closed_goes_to_the_next_open_one_as_late() -> None:
    meter = Meter(period_s=60.0)
    meter.ingest(_event("r1", ended_s=10.0))
    closed = meter.close(0)
    assert [line.quantity for line in closed] == [10.0]
    assert meter.ingest(_event("r2", ended_s=20.0, quantity=4.0)) is Ingest.LATE
    assert [line.quantity for line in closed] == [10.0]  # the issued period is untouched
    (late,) = meter.lines(1)
    assert late.late
    assert late.quantity == 4.0
    with pytest.raises(ValueError, match="already closed"):
        meter.close(0)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (_event("r1", quantity=-1.0), "quantity"),
        (_event("r1", quantity=math.nan), "quantity"),
        (_event("r1", ended_s=math.inf), "ended_s"),
        (_event(""), "run_id"),
    ],
)
def test_malformed_events_are_refused_naming_the_field(event: UsageEvent, field: str) -> None:
    meter = Meter(period_s=60.0)
    with pytest.raises(ValueError, match=field):
        meter.ingest(event)
    assert meter.events == 0


def test_a_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="period_s"):
        Meter(period_s=0.0)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 100), st.floats(0, 500)),
        max_size=60,
    ),
    st.lists(st.integers(0, 59), max_size=60),
)
def test_every_event_is_billed_exactly_once_however_often_it_is_replayed(
    runs: list[tuple[int, int, float]], replay: list[int]
) -> None:
    meter = Meter(period_s=100.0)
    accepted: dict[str, UsageEvent] = {}
    for run, quantity, ended_s in runs:
        event = _event(f"r{run}", quantity=float(quantity), ended_s=ended_s)
        try:
            meter.ingest(event)
            accepted.setdefault(event.key, event)
        except UsageConflictError:
            assert accepted[event.key] != event
    if accepted:
        events = list(accepted.values())
        for index in replay:  # replays of accepted events, in any order
            assert meter.ingest(events[index % len(events)]) is Ingest.DUPLICATE
    distinct = {key: event.quantity for key, event in accepted.items()}
    keys = [key for period in range(6) for line in meter.lines(period) for key in line.keys]
    assert sorted(keys) == sorted(distinct)
    total = sum(line.quantity for period in range(6) for line in meter.lines(period))
    assert total == pytest.approx(sum(distinct.values()))
