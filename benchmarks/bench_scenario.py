"""Benchmark: generate, dump and load a large scenario (target: 100,000 nodes in < 10 s, < 2 GB).

Steps, each run in a fresh subprocess (so that ``ru_maxrss`` is the step's own peak) and repeated:

* ``generate``     ``generate_scenario(nodes)`` in memory;
* ``dump-json``    ``dump_scenario`` of a generated scenario to a JSON file (generation untimed);
* ``load-json``    ``load_scenario`` of that file: parse, validate (pydantic), convert, check;
* ``total-json``   generate + dump + load in one process, the figure the target is about;
* ``dump-yaml`` / ``load-yaml``   the same at a smaller size, YAML being several times slower.

``python -m benchmarks.bench_scenario --child STEP --nodes N --file PATH`` runs one measurement
and prints it as a JSON line; the parent collects them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEED = 1
TARGET_NODES = 100_000
TARGETS = {"generate": (2.0, None), "total-json": (10.0, 2000.0)}  # (seconds, peak MB)
CHILD_TIMEOUT_S = 600
_DESCRIPTION = "Generate, dump and load large scenarios; each step in a fresh process."


def _peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def _child(step: str, nodes: int, path: Path) -> dict[str, Any]:
    """One measurement of ``step`` in this (fresh) process."""
    from suanwang.scenario import dump_scenario, load_scenario  # noqa: PLC0415
    from suanwang.scenario.generate import generate_scenario  # noqa: PLC0415

    scenario = generate_scenario(nodes, seed=SEED) if step.startswith("dump") else None
    gc.collect()
    setup_mb = _peak_mb()
    started = time.perf_counter()
    if step == "generate":
        result = generate_scenario(nodes, seed=SEED)
    elif step.startswith("dump"):
        assert scenario is not None
        dump_scenario(scenario, path)
        result = scenario
    elif step.startswith("load"):
        result = load_scenario(path)
    elif step == "total-json":
        scenario = generate_scenario(nodes, seed=SEED)
        dump_scenario(scenario, path)
        result = load_scenario(path)
    else:
        raise ValueError(f"unknown step {step!r}")
    seconds = time.perf_counter() - started
    # Checked after the clock stops: the figures are only worth something for a right result.
    if len(result.topology.nodes) != nodes or (scenario is not None and result != scenario):
        raise AssertionError(f"{step}: wrong result")
    return {
        "seconds": seconds,
        "peak_mb": _peak_mb(),
        "setup_peak_mb": setup_mb,
        "file_mb": path.stat().st_size / 1e6 if path.exists() else None,
    }


def _run_child(step: str, nodes: int, path: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.bench_scenario", "--child", step]
    command += ["--nodes", str(nodes), "--file", str(path)]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"step {step} failed ({done.returncode}): {done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _machine() -> dict[str, Any]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kib = int(meminfo.read_text(encoding="utf-8").split()[1])
        mem_gib = round(total_kib / 2**20, 1)
    import yaml  # noqa: PLC0415

    versions = {name: metadata.version(name) for name in ("numpy", "pydantic", "PyYAML")}
    return {
        "cpu": cpu,
        "nproc": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "mem_gib": mem_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
    }


def _summary(step: str, nodes: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = [r["seconds"] for r in runs]
    peaks = [r["peak_mb"] for r in runs]
    target_s, target_mb = TARGETS.get(step, (None, None)) if nodes == TARGET_NODES else (None, None)
    median_s, max_peak = statistics.median(seconds), max(peaks)
    met = None
    if target_s is not None:
        met = median_s < target_s and (target_mb is None or max_peak < target_mb)
    return {
        "step": step,
        "nodes": nodes,
        "runs": runs,
        "median_s": median_s,
        "min_s": min(seconds),
        "max_s": max(seconds),
        "median_peak_mb": statistics.median(peaks),
        "max_peak_mb": max_peak,
        "setup_peak_mb": statistics.median(r["setup_peak_mb"] for r in runs),
        "file_mb": runs[-1]["file_mb"],
        "target_s": target_s,
        "target_peak_mb": target_mb,
        "target_met": met,
    }


def _table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'step':<11} {'nodes':>9} {'median s':>9} {'min-max s':>13} {'peak MB':>8} "
        f"{'setup MB':>8} {'file MB':>8}  target"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        target = "-"
        if r["target_s"] is not None:
            target = f"< {r['target_s']:g} s"
            if r["target_peak_mb"] is not None:
                target += f", < {r['target_peak_mb']:g} MB"
            target += ": met" if r["target_met"] else ": MISSED"
        file_mb = "-" if r["file_mb"] is None else f"{r['file_mb']:.1f}"
        lines.append(
            f"{r['step']:<11} {r['nodes']:>9,} {r['median_s']:>9.2f} "
            f"{r['min_s']:>6.2f}-{r['max_s']:<6.2f} {r['max_peak_mb']:>8.0f} "
            f"{r['setup_peak_mb']:>8.0f} {file_mb:>8}  {target}"
        )
    return "\n".join(lines)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=_DESCRIPTION,
        epilog="python -m benchmarks also takes --only SUITE; other suites get --runs/--quick.",
    )
    parser.add_argument("--nodes", type=int, default=TARGET_NODES, help="nodes for JSON steps")
    parser.add_argument("--yaml-nodes", type=int, default=10_000, help="nodes for YAML steps")
    parser.add_argument("--runs", type=int, default=5, help="repetitions of each step")
    parser.add_argument("--quick", action="store_true", help="2,000/500 nodes, 1 run (tests)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results", help="result folder")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.nodes, args.yaml_nodes, args.runs = 2_000, 500, 1
    if args.runs < 1 or args.nodes < 1 or args.yaml_nodes < 1:
        parser.error("--runs, --nodes and --yaml-nodes must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the suite (or, with ``--child``, one measurement); 0 on success."""
    args = _parse(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.nodes, args.file)))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work = args.out / f"scenario-{stamp}-files"
    work.mkdir()
    plan = [
        ("generate", args.nodes, "unused.json"),
        ("dump-json", args.nodes, "scenario.json"),
        ("load-json", args.nodes, "scenario.json"),
        ("total-json", args.nodes, "total.json"),
        ("dump-yaml", args.yaml_nodes, "scenario.yaml"),
        ("load-yaml", args.yaml_nodes, "scenario.yaml"),
    ]
    load_before = os.getloadavg()[0]
    results = []
    try:
        for step, nodes, file_name in plan:
            runs = []
            for k in range(args.runs):
                print(f"  {step} ({nodes:,} nodes) run {k + 1}/{args.runs}", file=sys.stderr)
                runs.append(_run_child(step, nodes, work / file_name))
            results.append(_summary(step, nodes, runs))
    finally:
        for leftover in work.iterdir():
            leftover.unlink()
        work.rmdir()
    machine = _machine()
    # Other work on the machine shows in the figures; the load average tells whether there was.
    machine["load_1min"] = {"before": load_before, "after": os.getloadavg()[0]}
    report = {
        "suite": "scenario",
        "when": stamp,
        "command": "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine,
        "seed": SEED,
        "results": results,
    }
    target = args.out / f"scenario-{stamp}.json"
    target.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(_machine_line(machine))
    print(_table(results))
    print(f"results: {target}")
    return 0


def _machine_line(machine: dict[str, Any]) -> str:
    return (
        f"{machine['cpu']}, {machine['nproc']} CPUs, Python {machine['python']}, "
        + ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
        + f", libyaml {'yes' if machine['libyaml'] else 'no'}; load average "
        + "{before:.2f} before, {after:.2f} after".format(**machine["load_1min"])
    )


if __name__ == "__main__":
    raise SystemExit(main())
