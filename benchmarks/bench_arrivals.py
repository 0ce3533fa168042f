"""Memory of the twin's arrival streams: what thousands of one-user streams hold buffered.

Target (speed-at-scale issue): the twin's memory must not grow with the number of arrival
streams (an imported EdgeSimPy dataset has one stream per user). Each run builds a workload of
N streams at one request a second (half Poisson, half diurnal, two ingress sites each), draws
600 x N arrivals (ten simulated minutes) from ``workload_streams`` (which superposes streams of
one shape), and reports the Python memory held afterwards (``tracemalloc``) beyond the workload
description itself, per stream, and the wall time of the drawing. ``--separate`` draws from one
``arrival_stream`` per ``Arrivals`` instead (what the twin did before the streams were merged).

Run: ``.venv/bin/python -m benchmarks.bench_arrivals [--runs N] [--quick] [--streams N,...]``.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import time
import tracemalloc
from collections.abc import Iterator
from importlib import metadata

import numpy as np

from suanwang.model import ArrivalKind, Arrivals, Workload
from suanwang.twin.arrivals import Arrival, arrival_stream, workload_streams

STREAMS: tuple[int, ...] = (1_000, 3_000, 6_000)
QUICK_STREAMS: tuple[int, ...] = (200,)
ARRIVALS_PER_STREAM = 600
DIURNAL = tuple([0.5] * 12 + [2.0] * 12)


def _workload(streams: int) -> Workload:
    arrivals = []
    for i in range(streams):
        kind = ArrivalKind.POISSON if i % 2 == 0 else ArrivalKind.DIURNAL
        multipliers = DIURNAL if kind is ArrivalKind.DIURNAL else None
        ingress = ((f"bs-{i % 97}", 1.0), (f"bs-{(i + 1) % 97}", 1.0))
        arrivals.append(Arrivals(f"app-{i}", kind, 1.0, ingress, multipliers))
    return Workload(arrivals=tuple(arrivals))


def measure(streams: int, seed: int, *, separate: bool = False) -> tuple[float, float]:
    """(MiB held after drawing, wall seconds) for a workload of ``streams`` streams."""
    workload = _workload(streams)
    tracemalloc.start()
    started = time.perf_counter()
    iterators: list[Iterator[Arrival]]
    if separate:
        iterators = [
            arrival_stream(a, np.random.default_rng(seed * 1_000_003 + i))
            for i, a in enumerate(workload.arrivals)
        ]
        for stream in iterators:
            for _ in itertools.islice(stream, ARRIVALS_PER_STREAM):
                pass
    else:
        iterators = workload_streams(workload, seed)
        share = ARRIVALS_PER_STREAM * streams // len(iterators)
        for stream in iterators:
            for _ in itertools.islice(stream, share):
                pass
    wall_s = time.perf_counter() - started
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return held / 2**20, wall_s


def main(argv: list[str] | None = None) -> int:
    """Measure each stream count; print MiB held, KiB per stream and wall time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="repetitions (median reported)")
    parser.add_argument("--quick", action="store_true", help="one small count, one run")
    parser.add_argument("--streams", type=str, help="comma-separated stream counts")
    parser.add_argument("--separate", action="store_true", help="one iterator per stream")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    counts = QUICK_STREAMS if args.quick else STREAMS
    if args.streams:
        counts = tuple(int(part) for part in args.streams.split(","))
    runs = 1 if args.quick else args.runs
    how = "one iterator per stream" if args.separate else "merged by shape"
    print(
        f"arrivals ({how}): {ARRIVALS_PER_STREAM} arrivals a stream, {runs} runs; Python "
        f"{platform.python_version()}, numpy {metadata.version('numpy')}"
    )
    for count in counts:
        figures = [measure(count, seed, separate=args.separate) for seed in range(runs)]
        held = statistics.median(f[0] for f in figures)
        wall = statistics.median(f[1] for f in figures)
        print(
            f"{count:>7,} streams: {held:8.3f} MiB held, {1024 * held / count:7.3f} KiB a stream,"
            f" {wall:6.2f} s to draw (median of {runs})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
