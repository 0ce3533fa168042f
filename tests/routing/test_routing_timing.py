"""End-to-end network time: round trip plus transfer at the bottleneck (MB = 10^6 bytes)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from suanwang.routing import Path, network_time_ms, transfer_time_ms

INF = math.inf


@pytest.mark.parametrize(
    ("latency", "bottleneck", "data_in", "data_out", "expected"),
    [
        (10.0, 8.0, 1.0, 0.0, 20.0 + 1_000.0),  # 1 MB = 8 Mbit at 8 Mbps: one second
        (1.5, 1_000.0, 2.0, 3.0, 3.0 + 40.0),
        (10.0, 100.0, 0.0, 0.0, 20.0),  # no data, no transfer time
        (0.0, INF, 5.0, 5.0, 0.0),  # same site: no network time at all
        (10.0, INF, 5.0, 5.0, 20.0),
        (0.0, 0.0, 0.0, 0.0, 0.0),  # no data needs no bandwidth
        (5.0, 0.0, 1.0, 0.0, INF),  # data but no bandwidth
        (INF, 100.0, 1.0, 1.0, INF),  # unreachable
        (INF, 0.0, 0.0, 0.0, INF),
    ],
)
def test_formula(
    latency: float, bottleneck: float, data_in: float, data_out: float, expected: float
) -> None:
    result = network_time_ms(latency, bottleneck, data_in, data_out)
    assert isinstance(result, float)
    assert result == pytest.approx(expected)


def test_vectorised_over_candidates() -> None:
    latency = np.array([1.0, 2.0, 0.0, np.inf])
    bottleneck = np.array([80.0, 8.0, np.inf, 0.0])
    result = network_time_ms(latency, bottleneck, 1.0, 0.0)
    assert isinstance(result, np.ndarray)
    np.testing.assert_allclose(result, [2.0 + 100.0, 4.0 + 1_000.0, 0.0, np.inf])
    per_task = network_time_ms(latency[None, :], bottleneck[None, :], np.array([[0.0], [1.0]]))
    assert per_task.shape == (2, 4)
    np.testing.assert_allclose(per_task[0], [2.0, 4.0, 0.0, np.inf])


def test_transfer_time_and_path_round_trip() -> None:
    assert transfer_time_ms(1.0, 8.0) == 1_000.0
    assert transfer_time_ms(0.0, 0.0) == 0.0
    path = Path(("a", "b"), ("ab",), 3.0, 100.0)
    expected = path.round_trip_ms + transfer_time_ms(2.0, path.bottleneck_mbps)
    assert network_time_ms(path.latency_ms, path.bottleneck_mbps, 1.0, 1.0) == expected == 166.0


@pytest.mark.parametrize(
    "args", [(-1.0, 10.0, 1.0, 1.0), (1.0, -10.0, 1.0, 1.0), (1.0, 10.0, -1.0, 0.0)]
)
def test_negative_figures_are_refused(args: tuple[float, float, float, float]) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        network_time_ms(*args)


@pytest.mark.parametrize(
    ("vertices", "segments", "latency", "bottleneck", "message"),
    [
        ((), (), 0.0, INF, "at least one vertex"),
        (("a", "b"), (), 0.0, INF, "needs 1 segments"),
        (("a",), (), 1.0, INF, "latency 0"),
    ],
)
def test_path_invariants(
    vertices: tuple[str, ...],
    segments: tuple[str, ...],
    latency: float,
    bottleneck: float,
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        Path(vertices, segments, latency, bottleneck)
    trivial = Path.trivial("a")
    assert (trivial.hops, trivial.source, trivial.target) == (0, "a", "a")
