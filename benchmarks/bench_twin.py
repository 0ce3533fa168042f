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
* ``slice`` (``twin.slices``, ``decide="slice"``): the same runs in slice mode at each of
  ``SLICES_MS``, first on the exact rows' arrivals (same seed and task count: the trade-off in
  completed tasks and SLAs met), then over ``SLICE_TASKS`` tasks (throughput).
* ``--day``: a full simulated day of the built-in ``east-west`` at its workload's own rates in
  slice mode (target: <= 60 s of wall time).
* ``--long N``: N tasks on 1,000 nodes in slice mode, resident memory at a tenth, half and all
  of them (target: flat over 10,000,000).

Run: ``.venv/bin/python -m benchmarks.bench_twin [--runs N] [--quick] [--skip-million]
[--skip-exact] [--skip-rows] [--day] [--long N]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import resource
import statistics
from collections.abc import Sequence
from importlib import metadata

import psutil

from suanwang.model import Scenario
from suanwang.scenario.builtin import load_builtin
from suanwang.scenario.generate import generate_scenario
from suanwang.twin import TwinConfig, run_twin

TASKS = {1_000: 20_000, 10_000: 10_000}
QUICK_TASKS = {1_000: 1_000}
TARGET_PER_S = {1_000: 100_000, 10_000: 20_000}
MILLION = 1_000_000
LONG_S = 30 * 86_400.0  # simulated time enough for any task count here; arrivals stop at max
SLICES_MS = (1_000.0, 60_000.0)
SLICE_TASKS = {1_000: 200_000, 10_000: 200_000}
QUICK_SLICE_TASKS = {1_000: 20_000}
DAY_TARGET_S = 60.0


def _config(profile: str, tasks: int, slice_ms: float | None = None) -> TwinConfig:
    config = TwinConfig(
        profile=profile, duration_s=LONG_S, seed=1, start_hour=20, max_tasks=tasks, buckets=100
    )
    if slice_ms is None:
        return config
    return dataclasses.replace(config, decide="slice", slice_ms=slice_ms)


def _slice_rows(
    scenario: Scenario, nodes: int, tasks: int, runs: int, *, target: bool
) -> list[list[str]]:
    """Slice mode at each slice length: speed, completed and SLAs met."""
    rows = []
    for slice_ms in SLICES_MS:
        rates, completed, met = [], 0, 0
        for _ in range(runs):
            result = run_twin(scenario, _config("cats-joint", tasks, slice_ms))
            rates.append(result.generated / result.wall_s)
            completed = sum(s.completed for s in result.metrics.by_class.values())
            met = sum(s.sla_met for s in result.metrics.by_class.values())
        median = statistics.median(rates)
        goal = TARGET_PER_S[nodes] if target else None
        rows.append(
            [
                f"{nodes:,}",
                f"cats-joint, slice {slice_ms / 1000:g} s",
                f"{tasks:,}",
                f"{median:,.0f} ({min(rates):,.0f}-{max(rates):,.0f})",
                f"{completed:,}",
                f"{met:,}",
                "-" if goal is None else ("yes" if median >= goal else f"NO ({goal:,})"),
            ]
        )
    return rows


def _day(slice_ms: float) -> str:
    """A full simulated day of east-west at its own rates, in slice mode."""
    scenario = load_builtin("east-west")
    config = TwinConfig(seed=1, start_hour=0, decide="slice", slice_ms=slice_ms, buckets=24)
    result = run_twin(scenario, config)
    stats = result.metrics.by_class.values()
    completed, met = sum(s.completed for s in stats), sum(s.sla_met for s in stats)
    verdict = "met" if result.wall_s <= DAY_TARGET_S else "NOT met"
    return (
        f"day: east-west, 24 h at its own rates, slice {slice_ms / 1000:g} s: "
        f"{result.generated:,} tasks ({completed:,} completed, {met:,} within SLA, "
        f"{result.metrics.node_failures + result.metrics.link_failures} failures) in "
        f"{result.wall_s:,.1f} s wall ({result.generated / result.wall_s:,.0f} tasks/s); "
        f"target {DAY_TARGET_S:g} s {verdict}"
    )


def _long(tasks: int, slice_ms: float) -> str:
    """Resident memory over a long slice-mode run on 1,000 nodes."""
    scenario = generate_scenario(1_000, seed=0)
    process = psutil.Process()
    marks = sorted({tasks // 10, tasks // 2, tasks})
    seen: dict[int, float] = {}

    def progress(_: float, generated: int) -> None:
        for mark in marks:
            if generated >= mark and mark not in seen:
                seen[mark] = process.memory_info().rss / 2**20

    rate_per_s = sum(a.rate_per_s for a in scenario.workload.arrivals)
    config = TwinConfig(
        duration_s=1.5 * tasks / rate_per_s,
        seed=1,
        start_hour=20,
        max_tasks=tasks,
        buckets=2_000,
        decide="slice",
        slice_ms=slice_ms,
    )
    result = run_twin(scenario, config, progress)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    trail = ", ".join(f"{mark:,}: {mib:,.0f} MiB" for mark, mib in sorted(seen.items()))
    return (
        f"long: {result.generated:,} tasks on 1,000 nodes (cats-joint, slice "
        f"{slice_ms / 1000:g} s) in {result.wall_s:,.0f} s wall "
        f"({result.generated / result.wall_s:,.0f} tasks/s), {result.end_s / 3600:,.1f} h "
        f"simulated; resident memory at {trail}; peak {peak_mib:,.0f} MiB"
    )


def _throughput(scenario: Scenario, nodes: int, tasks: int, runs: int) -> list[list[str]]:
    rows = []
    for profile in ("cats-joint", "nearest"):
        rates, completed, met = [], 0, 0
        for _ in range(runs):
            result = run_twin(scenario, _config(profile, tasks))
            rates.append(result.generated / result.wall_s)
            completed = sum(s.completed for s in result.metrics.by_class.values())
            met = sum(s.sla_met for s in result.metrics.by_class.values())
        median = statistics.median(rates)
        target = TARGET_PER_S[nodes] if profile == "cats-joint" else None
        rows.append(
            [
                f"{nodes:,}",
                profile,
                f"{tasks:,}",
                f"{median:,.0f} ({min(rates):,.0f}-{max(rates):,.0f})",
                f"{completed:,}",
                f"{met:,}",
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
    header = [
        "nodes",
        "profile",
        "tasks",
        "tasks / wall s (min-max)",
        "completed",
        "SLA met",
        "target met",
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the twin benchmark; exit status 0 (targets are reported, not enforced)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_twin")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument("--skip-exact", action="store_true", help="slice mode rows only")
    parser.add_argument("--skip-rows", action="store_true", help="no throughput table")
    parser.add_argument("--day", action="store_true", help="a full day of east-west, sliced")
    parser.add_argument("--long", type=int, default=0, help="tasks of the sliced memory run")
    args = parser.parse_args(argv)
    print(
        f"python {platform.python_version()}, numpy {metadata.version('numpy')}, "
        f"scipy {metadata.version('scipy')}, {psutil.cpu_count()} cores"
    )
    counts = QUICK_TASKS if args.quick else TASKS
    rows = []
    runs = 1 if args.quick else args.runs
    slice_counts = QUICK_SLICE_TASKS if args.quick else SLICE_TASKS
    for nodes, tasks in {} if args.skip_rows else counts.items():
        scenario = generate_scenario(nodes, seed=0)
        if not args.skip_exact:
            rows += _throughput(scenario, nodes, tasks, runs)
        rows += _slice_rows(scenario, nodes, tasks, runs, target=False)  # the exact rows' arrivals
        rows += _slice_rows(scenario, nodes, slice_counts[nodes], runs, target=True)
    if rows:
        _table(rows)
    if args.day:
        print(_day(SLICES_MS[-1]), flush=True)
    if args.long:
        print(_long(args.long, SLICES_MS[-1]), flush=True)
    if not (args.skip_million or args.skip_exact):
        print(_million(10_000 if args.quick else MILLION), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
