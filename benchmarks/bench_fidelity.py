"""Estimate fidelity: the scheduler's end-to-end estimate against what the twin measures.

For every completed run the twin records |estimate - measured| / measured of the end-to-end
time (``ClassStats.estimate_error_pct``: the estimate is the placement's, made when it was
placed, the time already waited in the queue included; the measurement is submission to result,
with the task's fixed latency). Queued tasks also compare the wait the controller predicted when
they joined the queue with the wait that happened (``wait_error_ms``).

Every built-in scenario runs with cats-joint at two loads: ``moderate`` (the scenario's own
workload) and ``heavy`` (its arrival rates times 30: links and edge nodes
saturate, tasks queue). Targets (issue "the brain closes its loop"): median error <= 10 % and
p95 <= 25 %, per scenario and load.

Run: ``.venv/bin/python -m benchmarks.bench_fidelity [--runs N] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from suanwang.scenario.builtin import builtin_names, load_builtin
from suanwang.twin import TwinConfig, run_twin
from suanwang.twin.metrics import Histogram

ROOT = Path(__file__).resolve().parent.parent
LOADS = {"moderate": 1.0, "heavy": 30.0}
DURATION_S, QUICK_DURATION_S = 10.0, 1.0
TARGET_MEDIAN_PCT, TARGET_P95_PCT = 10.0, 25.0


def measure(name: str, scale: float, duration_s: float, seed: int) -> dict[str, Any]:
    """One twin run: error quantiles over every completed run, and per class."""
    config = TwinConfig(duration_s=duration_s, rate_scale=scale, seed=seed, scenario_failures=False)
    started = time.perf_counter()
    result = run_twin(load_builtin(name), config)
    errors, waits = Histogram(), Histogram()
    per_class: dict[str, Any] = {}
    queued = under = 0
    for task_class, stats in result.metrics.by_class.items():
        errors.merge(stats.estimate_error_pct)
        waits.merge(stats.wait_error_ms)
        queued += stats.queued
        under += stats.underestimated
        if stats.completed:
            per_class[str(task_class)] = {
                "completed": stats.completed,
                "error_p50_pct": stats.estimate_error_pct.quantile(0.5),
                "error_p95_pct": stats.estimate_error_pct.quantile(0.95),
            }
    return {
        "scenario": name,
        "scale": scale,
        "completed": errors.count,
        "error_p50_pct": errors.quantile(0.5),
        "error_p95_pct": errors.quantile(0.95),
        "underestimated": under,
        "queued": queued,
        "wait_error_p50_ms": waits.quantile(0.5),
        "wait_error_p95_ms": waits.quantile(0.95),
        "by_class": per_class,
        "wall_s": time.perf_counter() - started,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run every scenario at both loads; print a table; exit 0 (targets are reported)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_fidelity")
    parser.add_argument("--runs", type=int, default=1, help="seeds per scenario and load")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    args = parser.parse_args(argv)
    duration_s = QUICK_DURATION_S if args.quick else DURATION_S
    names = ["cats-arvr"] if args.quick else builtin_names()
    results = []
    print(f"{'scenario':26s} {'load':9s} {'runs':>8s} {'p50 %':>7s} {'p95 %':>7s} {'queued':>7s}")
    for name in names:
        for load, scale in LOADS.items():
            runs = [measure(name, scale, duration_s, seed) for seed in range(args.runs)]
            results.extend(runs)
            p50 = statistics.median(r["error_p50_pct"] for r in runs)
            p95 = statistics.median(r["error_p95_pct"] for r in runs)
            met = p50 <= TARGET_MEDIAN_PCT and p95 <= TARGET_P95_PCT
            completed = sum(r["completed"] for r in runs)
            queued = sum(r["queued"] for r in runs)
            print(
                f"{name:26s} {load:9s} {completed:8d} {p50:7.2f} {p95:7.2f} {queued:7d}"
                f"  {'met' if met else 'MISSED'}",
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"fidelity-{stamp}.json"
    path.write_text(json.dumps({"suite": "fidelity", "quick": args.quick, "runs": results}))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
