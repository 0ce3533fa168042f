"""Batch placement benchmark: min-cost flow at scale, the MILP optimum, greedy quality.

Targets (issue "the brain", part 6): batch placement of 100,000 tasks on 10,000 nodes in
<= 2 s; cats-joint greedy within 5 percentage points of the MILP optimum on SLA satisfaction on
small instances.

* ``flow``: ``place_batch`` of 100,000 tasks drawn from ``generate_scenario(10_000)``'s
  workload, median of runs, split into build (class cycles and network), solve (OR-Tools),
  bind (paths and ledger) and repair (online scheduler). Default options, and a single pass
  (one evaluation, one solve, no repair). The online scheduler on the first 2,000 tasks of
  the batch is the baseline (per task, and extrapolated to the batch).
* ``milp``: ``solve_optimum`` of 200 tasks on 50 nodes (metro-edge cut to 50 nodes), median of
  runs, with its status.
* ``quality``: SLA satisfaction of cats-joint (online), the batch flow and the optimum on a few
  seeds of small instances; the gap is the optimum's minus the row's, in percentage points.

Run: ``.venv/bin/python -m benchmarks.bench_batch [--runs N] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Sequence
from importlib import metadata

import numpy as np

from suanwang.model import Topology
from suanwang.scenario import load_builtin
from suanwang.scenario.generate import generate_scenario
from suanwang.scheduling import ClusterState, Request, builtin_profiles
from suanwang.scheduling.batch import (
    FlowOptions,
    draw_batch,
    evaluate,
    place_batch,
    place_online,
    solve_optimum,
)

NODES, TASKS = 10_000, 100_000
QUICK_NODES, QUICK_TASKS = 2_000, 20_000
FLOW_TARGET_S = 2.0
QUALITY_TARGET_PP = 5.0
BASELINE_TASKS = 2_000
SINGLE_PASS = FlowOptions(evaluations=1, rounds=1, repair=False)


def _held_within_capacity(state: ClusterState) -> bool:
    ledger, arrays = state.reservations, state.arrays
    return bool(
        (ledger.cpu_cores <= arrays.node_cpu_cores + 1e-6).all()
        and (ledger.mem_gib <= arrays.node_mem_gib + 1e-6).all()
        and (ledger.accelerators <= arrays.node_accel_count + 1e-6).all()
        and (ledger.link_mbps <= arrays.link_bandwidth_mbps + 1e-6).all()
    )


def _flow(
    topology: Topology, requests: Sequence[Request], profile: str, options: FlowOptions, runs: int
) -> list[str]:
    totals, splits, placed = [], [], 0
    for _ in range(runs):
        state = ClusterState(topology)
        started = time.perf_counter()
        plan = place_batch(builtin_profiles()[profile], state, requests, options=options)
        totals.append(time.perf_counter() - started)
        s = plan.stats
        splits.append((s.build_s, s.solve_s, s.bind_s, s.repair_s))
        placed = plan.placed
        # Checked after the clock stops: figures only count for a right result.
        assert _held_within_capacity(state)
        assert len(state.reservations) == placed
    build, solve, bind, repair = (statistics.median(column) for column in zip(*splits, strict=True))
    median = statistics.median(totals)
    stats = plan.stats
    return [
        profile + (" single pass" if options is SINGLE_PASS else ""),
        f"{median:.2f} ({min(totals):.2f}-{max(totals):.2f})",
        f"{build:.2f} / {solve:.2f} / {bind:.2f} / {repair:.2f}",
        f"{placed:,} ({stats.placed_by_repair:,} repaired)",
        f"{stats.classes:,} / {stats.arcs:,} / {stats.rounds}",
        "yes" if median <= FLOW_TARGET_S else "NO",
    ]


def _online_baseline(topology: Topology, requests: Sequence[Request], total: int) -> str:
    subset = requests[:BASELINE_TASKS]
    started = time.perf_counter()
    place_online(builtin_profiles()["cats-joint"], ClusterState(topology), subset)
    per_task = (time.perf_counter() - started) / len(subset)
    return (
        f"baseline: online cats-joint {1000 * per_task:.2f} ms per task on the first "
        f"{len(subset):,} tasks, about {per_task * total:,.0f} s for all {total:,}"
    )


def metro_50() -> tuple[Topology, object]:
    """metro-edge cut to 50 nodes, spread evenly over its sites (the workload unchanged)."""
    scenario = load_builtin("metro-edge")
    ids = list(scenario.topology.nodes)
    keep = {ids[i] for i in np.linspace(0, len(ids) - 1, 50).round().astype(int)}
    return scenario.topology.removed(*(i for i in ids if i not in keep)), scenario.workload


def _milp(runs: int) -> str:
    topology, workload = metro_50()
    requests = draw_batch(workload, 200, seed=0)  # type: ignore[arg-type]
    seconds, result = [], None
    for _ in range(runs):
        result = solve_optimum(ClusterState(topology), requests, time_limit_s=120.0)
        seconds.append(result.seconds)
    assert result is not None
    return (
        f"milp: 200 tasks x 50 nodes (metro-edge cut to 50): {statistics.median(seconds):.2f} s "
        f"median, {result.status}, {result.variables:,} variables, {result.constraints:,} "
        f"rows, {result.sla_met} of 200 within SLA"
    )


def _quality(seeds: int) -> list[list[str]]:
    rows = []
    small, small_workload = metro_50()
    full = load_builtin("metro-edge")
    campus = load_builtin("campus")
    cases = [
        ("metro-edge/50", small, small_workload, 200),
        ("metro-edge", full.topology, full.workload, 200),
        ("campus", campus.topology, campus.workload, 100),
    ]
    for name, topology, workload, tasks in cases:
        for seed in range(seeds):
            requests = draw_batch(workload, tasks, seed=seed)  # type: ignore[arg-type]
            optimum = solve_optimum(ClusterState(topology), requests, time_limit_s=120.0)
            best = evaluate(topology, requests, optimum.placements).sla_satisfaction
            cats = builtin_profiles()["cats-joint"]
            greedy = evaluate(
                topology, requests, place_online(cats, ClusterState(topology), requests)
            ).sla_satisfaction
            flow = evaluate(
                topology, requests, place_batch(cats, ClusterState(topology), requests).placements
            ).sla_satisfaction
            gap = 100 * (best - greedy)
            rows.append(
                [
                    f"{name} {tasks} tasks seed {seed}",
                    optimum.status,
                    f"{100 * best:.1f}",
                    f"{100 * greedy:.1f}",
                    f"{100 * flow:.1f}",
                    f"{gap:+.1f}",
                    f"{100 * (best - flow):+.1f}",
                    "yes" if gap <= QUALITY_TARGET_PP + 1e-9 else "NO",
                ]
            )
    return rows


def _print(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, ["-" * w for w in widths], *rows]:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="repetitions (median reported)")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_TASKS:,} tasks on {QUICK_NODES:,} nodes"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    runs = 1 if args.quick else args.runs
    nodes, tasks = (QUICK_NODES, QUICK_TASKS) if args.quick else (NODES, TASKS)
    print(
        f"batch: {runs} runs; Python {platform.python_version()}, ortools "
        f"{metadata.version('ortools')}, scipy {metadata.version('scipy')}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}"
    )
    scenario = generate_scenario(nodes, seed=1)
    requests = draw_batch(scenario.workload, tasks, seed=0)
    flow_rows = [
        _flow(scenario.topology, requests, "cats-joint", FlowOptions(), runs),
        _flow(scenario.topology, requests, "cats-joint", SINGLE_PASS, runs),
        _flow(scenario.topology, requests, "least-loaded", FlowOptions(), runs),
    ]
    print(f"flow: {tasks:,} tasks on {nodes:,} nodes (generate_scenario seed 1, batch seed 0)")
    _print(
        [
            "profile",
            "median s (min-max)",
            "build / solve / bind / repair s",
            "placed",
            "classes / arcs / solves",
            f"<= {FLOW_TARGET_S:g} s",
        ],
        flow_rows,
    )
    print(_online_baseline(scenario.topology, requests, tasks))
    print(_milp(runs))
    print("quality: SLA satisfaction %, gap = optimum - row in percentage points")
    _print(
        ["instance", "milp", "optimum", "cats-joint", "batch-flow", "gap", "flow gap", "<= 5"],
        _quality(2 if args.quick else 4),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
