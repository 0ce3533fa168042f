"""The twin on EdgeSimPy-format datasets, side by side with EdgeSimPy's measured run times.

Target (speed-at-scale issue): on datasets of EdgeSimPy's three scaled sizes (100 users / 25
servers, 1,000 / 200, 3,000 / 512), the twin's loop takes at most what EdgeSimPy 1.1.0 took
for 600 one-second steps on this machine type (0.70 s, 14.0 s, 51.1 s: ``EDGESIMPY_S``), with
each user sending one request a second, and its memory does not grow with the number of
arrival streams (one per user). EdgeSimPy itself is not needed: the datasets come from
``generate_edgesimpy`` (seeded, built as EdgeSimPy's scaled datasets are), are written as
EdgeSimPy JSON and read back with ``import_edgesimpy`` (what ``suanwang scenario import
edgesimpy`` does).

For each size and profile the twin runs 600 simulated seconds in a fresh process: ``nearest``
(resource fit only, no SLA filter: the closest to EdgeSimPy's first-fit; every request runs on
its service's placed instance either way) and ``cats-joint``. Reported: tasks, the loop's wall
time (``TwinResult.wall_s``: the run without the import), its ratio to EdgeSimPy's, the peak
resident memory of the run itself (the peak is reset after the import) and the share of
requests completed. Where the twin has a time-slice mode (``TwinConfig.decide``) each profile
also runs with ``decide="slice"``.

Run: ``.venv/bin/python -m benchmarks.bench_edgesimpy [--runs N] [--quick] [--sizes 100x25,...]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from suanwang.scenario.importers import import_edgesimpy
from suanwang.scenario.importers.edgesimpy_gen import (
    REFERENCE_SIZES,
    generate_edgesimpy,
    write_edgesimpy,
)
from suanwang.twin import TwinConfig, run_twin

EDGESIMPY_S = {(100, 25): 0.70, (1_000, 200): 14.0, (3_000, 512): 51.1}
"""EdgeSimPy 1.1.0's run time for 600 steps on these sizes (speed-at-scale issue)."""

DURATION_S = 600.0
QUICK_SIZE, QUICK_DURATION_S = (20, 5), 60.0
PROFILES = ("nearest", "cats-joint")
SEED = 1


def _decides() -> tuple[str, ...]:
    """``online``, plus ``slice`` where the twin has a time-slice mode."""
    names = {f.name for f in dataclasses.fields(TwinConfig)}
    return ("online", "slice") if "decide" in names else ("online",)


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak resident set of this process (Linux ``clear_refs`` 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def _peak_rss_mib() -> float:
    """Peak resident memory since the last reset (``VmHWM``), else since the start."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(dataset: Path, profile: str, decide: str, duration_s: float) -> dict[str, Any]:
    """Import ``dataset`` and run the twin once; what ``main`` reports of the run."""
    started = time.perf_counter()
    scenario = import_edgesimpy(dataset)
    import_s = time.perf_counter() - started
    options: dict[str, Any] = {"decide": decide} if decide != "online" else {}
    config = TwinConfig(profile=profile, duration_s=duration_s, seed=SEED, **options)
    gc.collect()
    reset = _reset_peak_rss()
    result = run_twin(scenario, config)
    completed = sum(s.completed for s in result.metrics.by_class.values())
    met = sum(s.sla_met for s in result.metrics.by_class.values())
    return {
        "import_s": import_s,
        "loop_s": result.wall_s,
        "tasks": result.generated,
        "completed": completed,
        "sla_met": met,
        "streams": len(scenario.workload.arrivals),
        "peak_rss_mib": _peak_rss_mib(),
        "peak_is_the_runs": reset,
    }


def _child(dataset: Path, profile: str, decide: str, duration_s: float) -> dict[str, Any]:
    """``run_one`` in a fresh interpreter, so each run's peak memory is its own."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.bench_edgesimpy", "--child", str(dataset)),
            *(profile, decide, str(duration_s)),
        ],
        capture_output=True,
        text=True,
        timeout=3_600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"run of {dataset.name} ({profile}, {decide}) failed: {done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _sizes(text: str | None, quick: bool) -> list[tuple[int, int]]:
    if quick:
        return [QUICK_SIZE]
    if not text:
        return list(REFERENCE_SIZES)
    sizes = []
    for part in text.split(","):
        users, _, servers = part.partition("x")
        sizes.append((int(users), int(servers)))
    return sizes


def main(argv: list[str] | None = None) -> int:
    """Generate, import and run each size; print the table (exit 0 when a target is missed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=1, help="repetitions (median reported)")
    parser.add_argument("--quick", action="store_true", help="one small dataset, 60 s, in-process")
    parser.add_argument("--sizes", type=str, help="USERSxSERVERS,... (default the three)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        dataset, profile, decide, duration = args.child
        print(json.dumps(run_one(Path(dataset), profile, decide, float(duration))))
        return 0
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    runs = 1 if args.quick else args.runs
    duration_s = QUICK_DURATION_S if args.quick else DURATION_S
    print(
        f"edgesimpy: {duration_s:g} simulated s at 1 request/user/s, seed {SEED}, {runs} runs;"
        f" Python {platform.python_version()}, numpy {metadata.version('numpy')}"
    )
    print(
        "| users / servers | profile | decide | tasks | loop s (median; min-max) | EdgeSimPy s"
        " | ratio | peak RSS MiB | completed | SLA met | import s |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for users, servers in _sizes(args.sizes, args.quick):
            dataset = Path(folder) / f"edgesimpy-{users}-{servers}.json"
            write_edgesimpy(dataset, generate_edgesimpy(users, servers, seed=SEED))
            for profile in PROFILES:
                for decide in _decides():
                    figures = [
                        run_one(dataset, profile, decide, duration_s)
                        if args.quick
                        else _child(dataset, profile, decide, duration_s)
                        for _ in range(runs)
                    ]
                    print(_row(users, servers, profile, decide, figures), flush=True)
    return 0


def _row(users: int, servers: int, profile: str, decide: str, figures: list[dict[str, Any]]) -> str:
    loops = [f["loop_s"] for f in figures]
    loop_s = statistics.median(loops)
    last = figures[-1]
    reference = EDGESIMPY_S.get((users, servers))
    ratio = f"{loop_s / reference:.2f}x" if reference else "-"
    tasks = max(last["tasks"], 1)
    return (
        f"| {users:,} / {servers:,} | {profile} | {decide} | {last['tasks']:,} |"
        f" {loop_s:.2f} ({min(loops):.2f}-{max(loops):.2f}) |"
        f" {reference if reference else '-'} | {ratio} | {last['peak_rss_mib']:.0f} |"
        f" {last['completed'] / tasks:.1%} | {last['sla_met'] / tasks:.1%} |"
        f" {statistics.median(f['import_s'] for f in figures):.1f} |"
    )


if __name__ == "__main__":
    raise SystemExit(main())
