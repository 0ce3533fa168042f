"""Streams of one shape superposed into one: the same requests per stream and site, flat memory."""

from __future__ import annotations

import math
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from itertools import islice, pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.model import ArrivalKind, Arrivals, Workload
from suanwang.twin import TwinError
from suanwang.twin.arrivals import Arrival, merged_stream, shape_key, workload_streams

DIURNAL = tuple([0.5] * 12 + [2.0] * 12)


def _until(stream: Iterator[Arrival], until_s: float) -> list[Arrival]:
    out: list[Arrival] = []
    for arrival in stream:  # every stream here is endless and in time order
        if arrival[0] >= until_s:
            return out
        out.append(arrival)
    return out


def _within(count: int, mean: float, sigmas: float = 5.0) -> bool:
    """``count`` is a plausible Poisson draw of ``mean`` (``sigmas`` standard deviations)."""
    return abs(count - mean) <= sigmas * math.sqrt(mean) + 1


def test_poisson_streams_become_one_that_keeps_each_streams_rate_and_sites() -> None:
    streams = (
        Arrivals("a", ArrivalKind.POISSON, 3.0, (("x", 1.0), ("y", 2.0))),
        Arrivals("b", ArrivalKind.POISSON, 0.5, (("y", 1.0),)),
        Arrivals("c", ArrivalKind.POISSON, 1.5, (("x", 1.0), ("z", 1.0))),
    )
    merged = workload_streams(Workload(arrivals=streams), seed=7)
    assert len(merged) == 1
    horizon_s = 4_000.0
    counts = Counter((task, site) for _, task, site in _until(merged[0], horizon_s))
    expected = {
        ("a", "x"): 1.0,
        ("a", "y"): 2.0,
        ("b", "y"): 0.5,
        ("c", "x"): 0.75,
        ("c", "z"): 0.75,
    }
    assert set(counts) == set(expected)
    for mark, rate in expected.items():
        assert _within(counts[mark], rate * horizon_s), (mark, counts[mark])


def test_one_streams_requests_inside_the_merge_are_still_poisson() -> None:
    slow = Arrivals("slow", ArrivalKind.POISSON, 0.2, (("x", 1.0),))
    busy = Arrivals("busy", ArrivalKind.POISSON, 20.0, (("x", 1.0),))
    (stream,) = workload_streams(Workload(arrivals=(slow, busy)), seed=3)
    times = np.array([t for t, task, _ in _until(stream, 50_000.0) if task == "slow"])
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(5.0, rel=0.05)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.05)  # exponential: CV 1
    assert np.all(np.diff(times) >= 0)


def test_diurnal_streams_of_one_shape_merge_and_follow_the_hour() -> None:
    streams = tuple(
        Arrivals(f"u{i}", ArrivalKind.DIURNAL, 0.05, (("x", 1.0),), DIURNAL) for i in range(20)
    )
    (stream,) = workload_streams(Workload(arrivals=streams), seed=1, start_hour=6.0)
    arrivals = _until(stream, 86_400.0)
    # From 06:00: six hours at 0.5, twelve at 2.0, six at 0.5 of 20 x 0.05 = 1 request a second.
    high = sum(1 for t, _, _ in arrivals if 21_600 <= t < 64_800)
    assert _within(high, 2.0 * 43_200)
    assert _within(len(arrivals) - high, 0.5 * 43_200)
    per_user = Counter(task for _, task, _ in arrivals)
    assert len(per_user) == 20
    assert all(_within(n, 0.05 * 86_400 * 1.25) for n in per_user.values())


def test_streams_of_different_shapes_and_traces_are_not_merged() -> None:
    streams = (
        Arrivals("p", ArrivalKind.POISSON, 1.0, (("x", 1.0),)),
        Arrivals("d", ArrivalKind.DIURNAL, 1.0, (("x", 1.0),), DIURNAL),
        Arrivals("d2", ArrivalKind.DIURNAL, 1.0, (("x", 1.0),), tuple(reversed(DIURNAL))),
        Arrivals("q", ArrivalKind.POISSON, 1.0, (("y", 1.0),)),
        Arrivals("b", ArrivalKind.BURST, 1.0, (("x", 1.0),), None, 60.0, 5.0, 3.0),
        Arrivals("t", ArrivalKind.TRACE, trace_file="a.csv", ingress=(("x", 1.0),)),
        Arrivals("t", ArrivalKind.TRACE, trace_file="a.csv", ingress=(("x", 1.0),)),
    )
    assert len(workload_streams(Workload(arrivals=streams), seed=0)) == 6
    assert shape_key(streams[0]) == shape_key(streams[3])
    assert shape_key(streams[1]) != shape_key(streams[2])


def test_the_same_seed_gives_the_same_requests_and_another_seed_others() -> None:
    streams = tuple(Arrivals(f"u{i}", ArrivalKind.POISSON, 1.0, (("x", 1.0),)) for i in range(9))
    workload = Workload(arrivals=streams)
    first = list(islice(workload_streams(workload, seed=5)[0], 500))
    assert first == list(islice(workload_streams(workload, seed=5)[0], 500))
    assert first != list(islice(workload_streams(workload, seed=6)[0], 500))


def test_a_stream_without_ingress_and_mixed_shapes_are_refused() -> None:
    lost = Arrivals("lost", ArrivalKind.POISSON, 1.0, ())
    with pytest.raises(TwinError, match="'lost' name no ingress"):
        next(workload_streams(Workload(arrivals=(lost,)), seed=0)[0])
    mixed = (
        Arrivals("p", ArrivalKind.POISSON, 1.0, (("x", 1.0),)),
        Arrivals("d", ArrivalKind.DIURNAL, 1.0, (("x", 1.0),), DIURNAL),
    )
    with pytest.raises(ValueError, match="one shape"):
        next(merged_stream(mixed, np.random.default_rng(0)))


def _held_bytes(streams: int) -> int:
    workload = Workload(
        arrivals=tuple(
            Arrivals(f"u{i}", ArrivalKind.POISSON, 1.0, ((f"s{i % 50}", 1.0), ("hub", 1.0)))
            for i in range(streams)
        )
    )
    tracemalloc.start()
    merged = workload_streams(workload, seed=0)
    for stream in merged:
        for _ in islice(stream, 60 * streams):  # a minute of every user's requests
            pass
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return held


def test_memory_held_does_not_grow_with_the_number_of_streams() -> None:
    small, large = _held_bytes(200), _held_bytes(2_000)
    # One iterator per stream held ~27 KiB each; merged, what is left per stream is its two
    # marks (a few bytes each), so 1,800 more streams stay far below even 1 KiB each.
    assert (large - small) / 1_800 < 256


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0.0, 5.0),
            st.lists(st.floats(0.1, 10.0), min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=12,
    ),
    st.integers(0, 2**32 - 1),
)
def test_merged_counts_match_every_streams_rate_and_weights(
    spec: list[tuple[float, list[float]]], seed: int
) -> None:
    streams = tuple(
        Arrivals(f"t{i}", ArrivalKind.POISSON, rate, tuple((f"s{j}", w) for j, w in enumerate(ws)))
        for i, (rate, ws) in enumerate(spec)
    )
    horizon_s = 400.0
    (stream,) = workload_streams(Workload(arrivals=streams), seed=seed)
    arrivals = _until(stream, horizon_s)
    assert all(a[0] <= b[0] for a, b in pairwise(arrivals))
    counts = Counter((task, site) for _, task, site in arrivals)
    for i, (rate, weights) in enumerate(spec):
        for j, weight in enumerate(weights):
            mean = rate * weight / sum(weights) * horizon_s
            assert _within(counts[(f"t{i}", f"s{j}")], mean, sigmas=6.0)
