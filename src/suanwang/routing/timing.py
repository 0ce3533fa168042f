"""End-to-end network time of a request: propagation round trip plus data transfer.

Units: latency in ms (one-way), bandwidth in Mbps (10^6 bits per second, per direction), data in
MB where **1 MB = 10^6 bytes** (decimal, like the bandwidth), so ``1 MB`` at ``8 Mbps`` takes
exactly one second. The functions are vectorised over numpy arrays (broadcasting), and take plain
floats as well: with scalar arguments only, they return a float.
"""

from __future__ import annotations

from typing import overload

import numpy as np
import numpy.typing as npt

from suanwang.routing._tree import FloatArray

BITS_PER_BYTE = 8.0
MS_PER_S = 1000.0


@overload
def transfer_time_ms(data_mb: float, bandwidth_mbps: float) -> float: ...
@overload
def transfer_time_ms(data_mb: npt.ArrayLike, bandwidth_mbps: npt.ArrayLike) -> FloatArray: ...
def transfer_time_ms(data_mb: npt.ArrayLike, bandwidth_mbps: npt.ArrayLike) -> FloatArray | float:
    """Time to push ``data_mb`` through ``bandwidth_mbps``: ``data_mb * 8 / bandwidth * 1000``.

    No data takes no time whatever the bandwidth; an infinite bandwidth (a path within one
    site) takes no time; a zero bandwidth with data to send takes forever (inf).

    Raises:
        ValueError: A negative data size or bandwidth.
    """
    data = np.asarray(data_mb, dtype=np.float64)
    bandwidth = np.asarray(bandwidth_mbps, dtype=np.float64)
    if np.any(data < 0.0) or np.any(bandwidth < 0.0):
        raise ValueError("data_mb and bandwidth_mbps must not be negative")
    with np.errstate(divide="ignore", invalid="ignore"):
        seconds = data * BITS_PER_BYTE / bandwidth
    result = np.where(data == 0.0, 0.0, seconds * MS_PER_S)
    return float(result) if result.ndim == 0 else result


@overload
def network_time_ms(
    latency_ms: float, bottleneck_mbps: float, data_in_mb: float = 0.0, data_out_mb: float = 0.0
) -> float: ...
@overload
def network_time_ms(
    latency_ms: npt.ArrayLike,
    bottleneck_mbps: npt.ArrayLike,
    data_in_mb: npt.ArrayLike = 0.0,
    data_out_mb: npt.ArrayLike = 0.0,
) -> FloatArray: ...
def network_time_ms(
    latency_ms: npt.ArrayLike,
    bottleneck_mbps: npt.ArrayLike,
    data_in_mb: npt.ArrayLike = 0.0,
    data_out_mb: npt.ArrayLike = 0.0,
) -> FloatArray | float:
    """End-to-end network time of a request in ms.

    ``2 * latency_ms + (data_in_mb + data_out_mb) * 8 / bottleneck_mbps * 1000``: the
    propagation round trip, plus the input sent to the node and the output sent back, each at
    the path's bottleneck bandwidth (links carry their bandwidth in each direction, so the
    same bottleneck holds both ways). Queueing and protocol overheads are not included.

    Args:
        latency_ms: One-way path latency (``ShortestPaths.latency_ms``); inf if unreachable.
        bottleneck_mbps: Least bandwidth along the path (``ShortestPaths.bottleneck_mbps``);
            inf for a path within one site (no transfer time).
        data_in_mb: Input data size, MB = 10^6 bytes.
        data_out_mb: Output data size, MB = 10^6 bytes.

    Returns:
        The time, broadcast over the arguments; a float if they are all scalars.

    Raises:
        ValueError: A negative latency, bandwidth or data size.
    """
    latency = np.asarray(latency_ms, dtype=np.float64)
    if np.any(latency < 0.0):
        raise ValueError("latency_ms must not be negative")
    data = np.asarray(data_in_mb, dtype=np.float64) + np.asarray(data_out_mb, dtype=np.float64)
    if np.any(data < 0.0):
        raise ValueError("data_in_mb and data_out_mb must not be negative")
    result = 2.0 * latency + transfer_time_ms(data, bottleneck_mbps)
    return float(result) if np.ndim(result) == 0 else np.asarray(result, dtype=np.float64)
