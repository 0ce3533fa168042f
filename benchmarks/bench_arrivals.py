"""Memory of the twin's arrival streams: what thousands of one-user streams hold buffered.

Target (speed-at-scale issue): the twin's memory must not grow with the number of arrival
streams beyond a small, bounded amount per stream (an imported EdgeSimPy dataset has one
stream per user). Each run builds N streams at one request a second (half Poisson, half
diurnal, two ingress sites each), draws 600 arrivals from every one (ten simulated minutes)
and reports the Python memory held afterwards (``tracemalloc``), per stream, and the wall
time of the drawing.

Run: ``.venv/bin/python -m benchmarks.bench_arrivals [--runs N] [--quick] [--streams N,...]``.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import time
import tracemalloc
from importlib import metadata

import numpy as np

from suanwang.model import ArrivalKind, Arrivals
from suanwang.twin.arrivals import arrival_stream

STREAMS: tuple[int, ...] = (1_000, 3_000, 6_000)
QUICK_STREAMS: tuple[int, ...] = (200,)
ARRIVALS_PER_STREAM = 600
DIURNAL = tuple([0.5] * 12 + [2.0] * 12)


def measure(streams: int, seed: int) -> tuple[float, float]:
    """(MiB held after drawing, wall seconds) for ``streams`` streams."""
    tracemalloc.start()
    started = time.perf_counter()
    iterators = []
    for i in range(streams):
        kind = ArrivalKind.POISSON if i % 2 == 0 else ArrivalKind.DIURNAL
        multipliers = DIURNAL if kind is ArrivalKind.DIURNAL else ()
        arrivals = Arrivals("job", kind, 1.0, (("a", 1.0), ("b", 1.0)), multipliers)
        iterators.append(arrival_stream(arrivals, np.random.default_rng(seed * 1_000_003 + i)))
    for stream in iterators:
        for _ in itertools.islice(stream, ARRIVALS_PER_STREAM):
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
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    counts = QUICK_STREAMS if args.quick else STREAMS
    if args.streams:
        counts = tuple(int(part) for part in args.streams.split(","))
    runs = 1 if args.quick else args.runs
    print(
        f"arrivals: {ARRIVALS_PER_STREAM} arrivals drawn per stream, {runs} runs; Python "
        f"{platform.python_version()}, numpy {metadata.version('numpy')}"
    )
    for count in counts:
        figures = [measure(count, seed) for seed in range(runs)]
        held = statistics.median(f[0] for f in figures)
        wall = statistics.median(f[1] for f in figures)
        print(
            f"{count:>7,} streams: {held:8.1f} MiB held, {1024 * held / count:6.1f} KiB a stream,"
            f" {wall:6.2f} s to draw (median of {runs})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
