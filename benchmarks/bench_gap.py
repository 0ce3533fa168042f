"""Gap to the true optimum: SLA satisfaction of every placement method on generated instances.

On instances from ``scheduling.batch.instances`` (ring with chords, tree, mesh, parallel
links; under, at and over capacity), each row places the same batch on a fresh state and is
scored by ``evaluate``; its gap is the optimum's SLA satisfaction minus its own, in
percentage points. The optimum is ``solve_optimum`` over every simple path (SLA count only:
the price stage does not change it). Where the optimum is not proven, the gap is taken to
its proven upper bound and counted as a bound; where a path listing was capped, the
instance is reported and left out of the gap figures.

Rows: every built-in profile online (``Scheduler`` greedy in arrival order), the batch
min-cost flow (``place_batch`` with cats-joint), and any planner named in ``EXTRA_ROWS``
found in ``suanwang.scheduling.batch`` (a windowed planner, for one). The summary says
whether cats-joint is ever below the best single-metric baseline (nearest, compute-only,
least-loaded, random, round-robin) on an instance.

Run: ``.venv/bin/python -m benchmarks.bench_gap [--runs N] [--quick] [--instances N]
[--rows A,B] [--optimum-cache FILE]`` (the instances are seeded, so a cached optimum of an
instance, size and time limit is that instance's optimum).
Results go to ``bench-results/gap-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from suanwang.model import Placement, Topology
from suanwang.scheduling import ClusterState, Request, batch, builtin_profiles
from suanwang.scheduling.batch import evaluate, place_batch, place_online, solve_optimum
from suanwang.scheduling.batch.instances import Instance, generate_instance, instance_suite

ROOT = Path(__file__).resolve().parent.parent
INSTANCES, QUICK_INSTANCES, QUICK_TASKS = 12, 2, 40
TIME_LIMIT_S, QUICK_TIME_LIMIT_S = 120.0, 10.0
BASELINES = ("nearest", "compute-only", "least-loaded", "random", "round-robin")
EXTRA_ROWS = ("place_windowed",)
"""Planners of ``suanwang.scheduling.batch`` to add as rows when they exist, called as
``planner(profile, state, requests)`` and returning placements or an object with them."""

Placements = Sequence[Placement | None]
RowMaker = tuple[str, Callable[[Topology, Sequence[Request]], Placements]]
"""A row: its name and how it places a batch on a fresh state of a topology."""


def default_rows() -> list[RowMaker]:
    """Every built-in profile online, the batch flow, and the extra planners present."""
    profiles = builtin_profiles()
    rows: list[RowMaker] = []
    for name, profile in profiles.items():

        def online(topology: Topology, requests: Sequence[Request], p: Any = profile) -> Placements:
            return place_online(p, ClusterState(topology), requests)

        rows.append((name, online))
    cats = profiles["cats-joint"]

    def flow(topology: Topology, requests: Sequence[Request]) -> Placements:
        return place_batch(cats, ClusterState(topology), requests).placements

    rows.append(("batch-flow", flow))
    for attribute in EXTRA_ROWS:
        planner = getattr(batch, attribute, None)
        if callable(planner):

            def extra(
                topology: Topology, requests: Sequence[Request], f: Any = planner
            ) -> Placements:
                out = f(cats, ClusterState(topology), requests)
                return tuple(getattr(out, "placements", out))

            rows.append((attribute.removeprefix("place_"), extra))
    return rows


def measure(
    instance: Instance,
    rows: Sequence[RowMaker],
    time_limit_s: float,
    known: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One instance: the optimum and every row's SLA count, gap and seconds.

    ``known`` is the instance's optimum from an earlier run (its ``optimum`` entry, with
    ``optimal``): the instances are seeded, so it is reused instead of solved again.
    """
    topology, requests = instance.topology, list(instance.requests)
    if known is None:
        solved = solve_optimum(
            ClusterState(topology), requests, time_limit_s=time_limit_s, least_price=False
        )
        known = {
            "status": solved.status,
            "optimal": solved.optimal,
            "sla_met": solved.sla_met,
            "upper_bound": solved.upper_bound,
            "columns": solved.columns,
            "seconds": solved.seconds,
        }
    reference = known["sla_met"] if known["optimal"] else known["upper_bound"]
    out: dict[str, Any] = {
        "instance": instance.name,
        "nodes": len(topology.nodes),
        "links": len(topology.links),
        "tasks": len(requests),
        "optimum": known,
        "gap_kind": "=" if known["optimal"] else ("<=" if reference is not None else ""),
        "rows": {},
    }
    for name, make in rows:
        started = time.perf_counter()
        placements = make(topology, requests)
        seconds = time.perf_counter() - started
        met = evaluate(topology, requests, placements).sla_met
        gap = None if reference is None else 100.0 * (reference - met) / len(requests)
        if gap is not None and gap < -1e-9:  # a row above a proven bound: the bound is wrong
            raise AssertionError(f"{name} meets {met} SLAs, above the bound {reference}")
        out["rows"][name] = {"sla_met": met, "gap_pp": gap, "seconds": seconds}
    return out


def summarise(results: Sequence[dict[str, Any]], names: Sequence[str]) -> list[dict[str, Any]]:
    """Median and max gap per row over the instances with a reference."""
    summary = []
    for name in names:
        gaps = [r["rows"][name]["gap_pp"] for r in results if r["rows"][name]["gap_pp"] is not None]
        bounded = sum(1 for r in results if r["gap_kind"] == "<=")
        summary.append(
            {
                "row": name,
                "median_gap_pp": statistics.median(gaps) if gaps else None,
                "max_gap_pp": max(gaps) if gaps else None,
                "instances": len(gaps),
                "bounded_instances": bounded,
                "median_seconds": statistics.median(r["rows"][name]["seconds"] for r in results),
            }
        )
    return summary


def cats_below_baseline(results: Sequence[dict[str, Any]]) -> list[str]:
    """Instances where cats-joint meets fewer SLAs than the best single-metric baseline."""
    below = []
    for r in results:
        rows = r["rows"]
        best = max((rows[b]["sla_met"] for b in BASELINES if b in rows), default=-1)
        if "cats-joint" in rows and rows["cats-joint"]["sla_met"] < best:
            below.append(f"{r['instance']} ({rows['cats-joint']['sla_met']} < {best})")
    return below


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, ["-" * w for w in widths], *rows]:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells))


def _pp(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=1, help="suites of instances, new seeds each")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_INSTANCES} instances of {QUICK_TASKS} tasks"
    )
    parser.add_argument("--instances", type=int, default=INSTANCES, help="instances per run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first instance")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results", help="result folder")
    parser.add_argument(
        "--rows", default="", help="comma-separated rows to run (default: every row)"
    )
    parser.add_argument(
        "--optimum-cache",
        type=Path,
        default=None,
        help="JSON file of optima by instance name: read where present, written with new ones",
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.instances < 1:
        parser.error("--runs and --instances must be at least 1")
    if args.quick:
        instances = [
            generate_instance(args.seed + i, shape=shape, load="at", tasks=QUICK_TASKS)
            for i, shape in enumerate(("parallel", "ring-chords")[:QUICK_INSTANCES])
        ]
        limit = QUICK_TIME_LIMIT_S
    else:
        instances = [
            inst
            for run in range(args.runs)
            for inst in instance_suite(args.instances, seed=args.seed + run * 1000)
        ]
        limit = TIME_LIMIT_S
    rows = default_rows()
    if args.rows:
        wanted = [name.strip() for name in args.rows.split(",") if name.strip()]
        unknown = sorted(set(wanted) - {name for name, _ in rows})
        if unknown:
            parser.error(f"--rows names unknown rows {unknown}; rows are {[n for n, _ in rows]}")
        rows = [row for row in rows if row[0] in wanted]
    names = [name for name, _ in rows]
    print(f"gap: {len(instances)} instances, rows {', '.join(names)}")
    cache_path: Path | None = args.optimum_cache
    cache: dict[str, Any] = {}
    if cache_path is not None and cache_path.exists():
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    results = []
    for instance in instances:
        key = f"{instance.name}/{len(instance.requests)}/{limit:g}s"  # instance, size, limit
        result = measure(instance, rows, limit, cache.get(key))
        if cache_path is not None and key not in cache:
            cache[key] = result["optimum"]
            cache_path.write_text(json.dumps(cache, indent=2) + "\n", encoding="utf-8")
        results.append(result)
        opt = result["optimum"]
        print(
            f"  {instance.name}: {result['nodes']} nodes, {result['links']} links, "
            f"{result['tasks']} tasks; optimum {opt['status']} {opt['sla_met']} "
            f"(bound {opt['upper_bound']}), {opt['columns']:,} columns, {opt['seconds']:.1f} s",
            flush=True,
        )
    summary = summarise(results, names)
    print("gap to the optimum, percentage points of the batch (<= where only a bound is known)")
    _print_table(
        ["row", "median gap", "max gap", "instances", "of them bounded", "median s"],
        [
            [s["row"], _pp(s["median_gap_pp"]), _pp(s["max_gap_pp"]), str(s["instances"]),
             str(s["bounded_instances"]), f"{s['median_seconds']:.2f}"]
            for s in summary
        ],
    )  # fmt: skip
    below = cats_below_baseline(results)
    print(
        "cats-joint below the best single-metric baseline: "
        + (f"on {len(below)} of {len(results)}: {'; '.join(below)}" if below else "never")
    )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = args.out / f"gap-{stamp}.json"
    report = {"suite": "gap", "quick": args.quick, "instances": results, "summary": summary,
              "cats_below_baseline": below}  # fmt: skip
    target.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"results: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
