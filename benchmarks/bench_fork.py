"""Fork benchmark: copying the live plane of a 10,000-node topology with 10,000 running tasks.

A ``LiveNetwork`` is built over the generated 10,000-node topology (``generate_scenario``) with
the agents' dispatch, as the plane builds it, and 10,000 one-core tasks are placed on it
through its controller (they hold reservations, as running tasks do). Then:

* ``fork``: ``fork_network`` (what ``fork_live`` runs on the writer thread): the ledger, the
  marks, the measured state and the active tasks copied (``twin.fork.capture``);
* ``run ahead``: one ``LiveFork.run_ahead`` of that fork with 100 extra tasks, site failures
  of none, and no background, over an hour (for scale; the target is the fork).

Figures are the median and the spread (min to max) of ``--runs`` repetitions; the target is a
fork in 2 s or less.

Run: ``.venv/bin/python -m benchmarks.bench_fork [--runs N] [--quick]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from importlib import metadata

from suanwang.control.ports import ManualClock
from suanwang.execution import AgentDispatch
from suanwang.model import Task, TaskSpec, TaskState, Tier
from suanwang.scenario.generate import generate_scenario
from suanwang.scheduling import resolve_profile
from suanwang.service import LiveNetwork
from suanwang.service.fork import fork_network

NODES = 10_000
TASKS = 10_000
QUICK = 1_000
EXTRA = 100
TARGET_S = 2.0


class _Silent:
    def task_changed(self, task: Task, cause: str) -> None:
        return None


def _live(nodes: int, tasks: int) -> tuple[LiveNetwork, list[TaskSpec]]:
    scenario = generate_scenario(nodes, seed=1)
    terminals = sorted(s.id for s in scenario.topology.sites.values() if s.tier is Tier.TERMINAL)
    live = LiveNetwork.build(
        scenario, resolve_profile("least-loaded"), ManualClock(), _Silent(), dispatch=AgentDispatch
    )
    specs = [
        TaskSpec(
            work_gflop=100.0, cpu_cores=1.0, mem_gib=0.5, ingress_site=terminals[i % len(terminals)]
        )
        for i in range(max(tasks, EXTRA))
    ]
    for i in range(tasks):
        live.controller.submit(f"t{i}", specs[i])
    return live, specs[:EXTRA]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} nodes and tasks")
    args = parser.parse_args(argv)
    nodes = QUICK if args.quick else NODES
    tasks = QUICK if args.quick else TASKS
    built = time.perf_counter()
    live, extra = _live(nodes, tasks)
    placed = sum(
        1
        for t in live.controller.active_ids()
        if (task := live.controller.task(t)) is not None and task.state is TaskState.SCHEDULED
    )
    print(
        f"# {nodes} nodes, {placed} of {tasks} tasks placed "
        f"(set up in {time.perf_counter() - built:.1f} s)"
    )
    forks, runs = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        fork = fork_network(live, 0.0)
        forks.append(time.perf_counter() - start)
        start = time.perf_counter()
        prediction = fork.run_ahead(extra, 3600.0, background=False)
        runs.append(time.perf_counter() - start)
    assert len(fork.state.residents) == placed
    print(f"# run ahead: {prediction.placed} of {EXTRA} extra tasks placed")
    print(f"{'step':<12} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, times in (("fork", forks), ("run ahead", runs)):
        print(f"{name:<12} {statistics.median(times):9.3f} {min(times):7.3f} {max(times):7.3f}")
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("numpy", "scipy"))
    print(f"# Python {platform.python_version()}, {versions}; {args.runs} runs")
    ok = statistics.median(forks) <= TARGET_S
    print(f"# fork target <= {TARGET_S} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
