"""Digital twin benchmark: simulated tasks per wall-clock second, and memory over a long run.

Targets (issue "digital twin"): >= 100,000 simulated tasks per wall second on an east-west
shaped network of 1,000 nodes with the cats-joint profile, >= 20,000 at 10,000 nodes; a
1,000,000-task run with its peak memory.

* ``throughput``: ``generate_scenario(nodes)`` (the east-west shape: eight hubs, regions, edges,
  on-site boxes, terminals) with its own workload, run by the twin until ``TASKS`` tasks have
  been generated; wall time of the whole run (arrivals, decisions, runs, failures none, drain)
  over the tasks generated; median of runs. ``nearest`` (the cheapest profile) is the same run
  with a lighter brain: the gap between the two is the price of the joint decision.
* ``million``: 1,000,000 tasks on 1,000 nodes with cats-joint; resident memory when 100,000,
  500,000 and 1,000,000 tasks have been generated, and the peak (memory stays flat: metrics are
  bounded aggregates and finished tasks are not kept).

Run: ``.venv/bin/python -m benchmarks.bench_twin [--runs N] [--quick] [--skip-million]``.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
from collections.abc import Sequence
from importlib import metadata

import psutil

from suanwang.model import Scenario
from suanwang.scenario.generate import generate_scenario
from suanwang.twin import TwinConfig, run_twin

TASKS = {1_000: 20_000, 10_000: 10_000}
QUICK_TASKS = {1_000: 1_000}
TARGET_PER_S = {1_000: 100_000, 10_000: 20_000}
MILLION = 1_000_000
LONG_S = 30 * 86_400.0  # simulated time enough for any task count here; arrivals stop at max


def _config(profile: str, tasks: int) -> TwinConfig:
    return TwinConfig(
        profile=profile, duration_s=LONG_S, seed=1, start_hour=20, max_tasks=tasks, buckets=100
    )


def _throughput(scenario: Scenario, nodes: int, tasks: int, runs: int) -> list[list[str]]:
    rows = []
    for profile in ("cats-joint", "nearest"):
        rates, completed = [], 0
        for _ in range(runs):
            result = run_twin(scenario, _config(profile, tasks))
            rates.append(result.generated / result.wall_s)
            completed = sum(s.completed for s in result.metrics.by_class.values())
        median = statistics.median(rates)
        target = TARGET_PER_S[nodes] if profile == "cats-joint" else None
        rows.append(
            [
                f"{nodes:,}",
                profile,
                f"{tasks:,}",
                f"{median:,.0f} ({min(rates):,.0f}-{max(rates):,.0f})",
                f"{completed:,}",
                "-" if target is None else ("yes" if median >= target else f"NO ({target:,})"),
            ]
        )
    return rows


def _million(tasks: int) -> str:
    scenario = generate_scenario(1_000, seed=0)
    process = psutil.Process()
    marks = sorted({tasks // 10, tasks // 2, tasks})
    seen: dict[int, float] = {}

    def progress(_: float, generated: int) -> None:
        for mark in marks:
            if generated >= mark and mark not in seen:
                seen[mark] = process.memory_info().rss / 2**20

    # A duration the tasks fill (so that the memory marks fall every few hundred tasks).
    rate_per_s = sum(a.rate_per_s for a in scenario.workload.arrivals)
    config = TwinConfig(
        profile="cats-joint",
        duration_s=1.5 * tasks / rate_per_s,
        seed=1,
        start_hour=20,
        max_tasks=tasks,
        buckets=2_000,
    )
    result = run_twin(scenario, config, progress)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    trail = ", ".join(f"{mark:,}: {mib:,.0f} MiB" for mark, mib in sorted(seen.items()))
    return (
        f"million: {result.generated:,} tasks on 1,000 nodes (cats-joint) in "
        f"{result.wall_s:,.0f} s wall ({result.generated / result.wall_s:,.0f} tasks/s), "
        f"{result.end_s / 3600:,.1f} h "
        f"simulated; resident memory at {trail}; peak {peak_mib:,.0f} MiB"
    )


def _table(rows: Sequence[Sequence[str]]) -> None:
    header = ["nodes", "profile", "tasks", "tasks / wall s (min-max)", "completed", "target met"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the twin benchmark; exit status 0 (targets are reported, not enforced)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_twin")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-million", action="store_true")
    args = parser.parse_args(argv)
    print(
        f"python {platform.python_version()}, numpy {metadata.version('numpy')}, "
        f"scipy {metadata.version('scipy')}, {psutil.cpu_count()} cores"
    )
    counts = QUICK_TASKS if args.quick else TASKS
    rows = []
    runs = 1 if args.quick else args.runs
    for nodes, tasks in counts.items():
        rows += _throughput(generate_scenario(nodes, seed=0), nodes, tasks, runs)
    _table(rows)
    if not args.skip_million:
        print(_million(10_000 if args.quick else MILLION), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
