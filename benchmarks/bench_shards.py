"""Sharded scheduling: scheduler shards by region under a coordinator against one scheduler.

``generate_scenario(nodes, seed=0)`` (100,000 nodes; ``--quick``: 10,000) played by the twin's
sharded mode (``twin.shards.run_shards``, cats-joint, from 20:00, seed 1) twice per run on the
same arrivals: cut into one shard per region under the coordinator (at most ``--max-shards``
shards asked per task), and as one shard holding the whole network. Per mode: coordinator
decisions a wall second (``place`` alone) and the whole run's tasks a wall second, the share of
arrivals placed, the share placed within their SLA, the mean estimated end-to-end latency and
the mean cost of a placed task, the share placed beyond the home shard, the mean shards asked,
and the setup time (cut, states, schedulers, the coordinator's latency table). Medians of the
runs, min-max beside; the modes alternate within a run. Every shard runs in this one process
in turn: the decision rate is one core's, not several machines'.

Run: ``.venv/bin/python -m benchmarks.bench_shards [--runs N] [--quick] [--nodes N]
[--tasks N] [--max-shards K]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
from collections.abc import Callable, Sequence
from importlib import metadata

from suanwang.scenario.generate import generate_scenario
from suanwang.twin.shards import ShardRunConfig, ShardRunResult, run_shards

NODES, QUICK_NODES = 100_000, 10_000
TASKS, QUICK_TASKS = 10_000, 2_000
LONG_S = 30 * 86_400.0  # more simulated time than any task count here needs; arrivals stop


def _figure(
    results: list[ShardRunResult], read: Callable[[ShardRunResult], float], fmt: str
) -> str:
    values = [read(r) for r in results]
    median = statistics.median(values)
    return f"{median:{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def _rows(mode: str, results: list[ShardRunResult]) -> list[str]:
    def pct(part: Callable[[ShardRunResult], float]) -> Callable[[ShardRunResult], float]:
        return lambda r: 100.0 * part(r) / r.tasks

    return [
        mode,
        f"{results[0].shards}",
        f"{results[0].tasks:,}",
        _figure(results, lambda r: r.decisions_per_s, ",.0f"),
        _figure(results, lambda r: r.tasks / r.wall_s, ",.0f"),
        _figure(results, pct(lambda r: r.placed), ".2f"),
        _figure(results, pct(lambda r: r.sla_met), ".2f"),
        _figure(results, lambda r: r.mean_latency_ms, ".2f"),
        _figure(results, lambda r: 1e6 * r.cost_sum / max(r.placed, 1), ".2f"),
        _figure(results, pct(lambda r: r.beyond_home), ".2f"),
        _figure(results, lambda r: r.asked_sum / r.tasks, ".2f"),
        _figure(results, lambda r: r.setup_wall_s, ".1f"),
    ]


def _table(rows: Sequence[Sequence[str]]) -> None:
    header = [
        "mode", "shards", "tasks", "decisions/s", "run tasks/s", "placed %", "SLA met %",
        "latency ms", "cost/task x1e-6", "beyond home %", "shards asked", "setup s",
    ]  # fmt: skip
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sharded-scheduling benchmark; exit status 0 (figures reported, no target)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_shards")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--nodes", type=int, default=None)
    parser.add_argument("--tasks", type=int, default=None)
    parser.add_argument("--max-shards", type=int, default=3)
    parser.add_argument("--profile", default="cats-joint")
    args = parser.parse_args(argv)
    nodes = args.nodes or (QUICK_NODES if args.quick else NODES)
    tasks = args.tasks or (QUICK_TASKS if args.quick else TASKS)
    runs = 1 if args.quick else args.runs
    print(
        f"python {platform.python_version()}, numpy {metadata.version('numpy')}, "
        f"scipy {metadata.version('scipy')}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    scenario = generate_scenario(nodes, seed=0)
    config = ShardRunConfig(
        profile=args.profile,
        max_shards=args.max_shards,
        max_tasks=tasks,
        duration_s=LONG_S,
        seed=1,
        start_hour=20.0,
    )
    results: dict[bool, list[ShardRunResult]] = {True: [], False: []}
    for run in range(runs):
        order = (True, False) if run % 2 == 0 else (False, True)
        for sharded in order:
            result = run_shards(scenario, dataclasses.replace(config, sharded=sharded))
            results[sharded].append(result)
            print(
                f"run {run + 1} {'sharded' if sharded else 'unsharded'}: "
                f"{result.decisions_per_s:,.0f} decisions/s, {result.placed:,} placed",
                flush=True,
            )
    print(f"{nodes:,} nodes, {args.profile}, at most {args.max_shards} shards asked per task")
    _table([_rows("sharded", results[True]), _rows("unsharded", results[False])])
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
