"""Command-line start-up benchmark: wall time of ``python -m suanwang --help``.

Target (issue 20, item 12): ``suanwang --help`` answers in at most 0.3 s, so that every call of
the command line starts at once (the scheduler, the probes, the twin and the scenario schema
are imported only by the commands that use them).

Each run starts a fresh interpreter as a subprocess (``sys.executable -m suanwang --help``, its
output discarded) and times it from ``Popen`` to exit with ``time.perf_counter``; one unmeasured
run first warms the file cache and the bytecode. The figure is the median of the runs, with
their minimum and maximum.

Run: ``.venv/bin/python -m benchmarks.bench_cli [--runs N] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata

TARGET_S = 0.3
RUNS, QUICK_RUNS = 20, 3
COMMAND = [sys.executable, "-m", "suanwang", "--help"]
TIMEOUT_S = 60.0  # a hung start-up fails the run instead of stalling the suite


def time_once() -> float:
    """Seconds from starting ``python -m suanwang --help`` to its exit (status 0 checked)."""
    started = time.perf_counter()
    completed = subprocess.run(
        COMMAND, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=TIMEOUT_S, check=False
    )
    elapsed_s = time.perf_counter() - started
    if completed.returncode != 0:
        command = " ".join(COMMAND)
        raise RuntimeError(f"{command} exited {completed.returncode}: {completed.stderr!r}")
    return elapsed_s


def main(argv: list[str] | None = None) -> int:
    """Time the runs; print the median, the range and whether the target is met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=RUNS, help="timed starts (median reported)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RUNS} timed starts")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    runs = QUICK_RUNS if args.quick else args.runs
    print(
        f"cli: {runs} starts of `python -m suanwang --help`; Python {platform.python_version()}, "
        f"typer {metadata.version('typer')}, rich {metadata.version('rich')}, "
        f"{os.cpu_count()} CPUs"
    )
    time_once()  # warm-up: file cache and bytecode, not measured
    times_s = [time_once() for _ in range(runs)]
    median_s = statistics.median(times_s)
    print(f"--help answered in {median_s:.3f} s (median; {min(times_s):.3f}-{max(times_s):.3f})")
    met = median_s <= TARGET_S
    # A missed target is a figure to report, as in the other suites, not a failure to run.
    print(f"target <= {TARGET_S} s: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
