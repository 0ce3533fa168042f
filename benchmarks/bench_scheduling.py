"""Scheduling benchmark: online placement decisions per second at 1,000 and 10,000 nodes.

On generated topologies (``generate_scenario(nodes, seed)``), requests are drawn from the
scenario's own workload: each request picks an arrival stream with probability proportional to
its rate, then an ingress terminal by the stream's weights, and carries that task type's spec.
Each placed task is released (completed) after a fixed number of later decisions (``--hold``),
so the ledger stays at a steady fill; the first ``--hold`` decisions fill it and are not timed.

For each size and profile the suite reports decisions per second (``schedule`` plus the
releases that fall due, median of ``--runs`` fresh schedulers over the same request stream),
the share of requests placed, and the fill of the ledger at the end. ``cats-joint`` (every
filter on) is the profile with the target, >= 5,000 decisions/s at 10,000 nodes; ``nearest`` and
``random`` (node-health and resource-fit only) run for comparison.

A separate instrumented run wraps every plugin method of the profile (filters, route, scores)
and the ledger's reserve/release with timers, and prints where a decision's time goes. The
cycle's estimates (compute, queueing, network, total) are computed on first use and shared, so
they are charged to the first plugin that asks (resource-fit for compute, latency-budget for the
rest). ``framework`` is what is left: building the cycle, narrowing masks, scaling scores,
selection, the placement record and the diagnosis object.

``--profile`` adds a cProfile of ``cats-joint`` at the largest size (top functions by own time).
``--clock cpu`` times with the process's CPU time instead of the wall clock: on a machine shared
with other work, a comparison of two versions then does not depend on who else was running.

Run: ``.venv/bin/python -m benchmarks.bench_scheduling [--runs N] [--quick] [--profile]
[--sizes 1000,10000,100000] [--clock wall|cpu]``.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import os
import platform
import pstats
import statistics
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import numpy as np

from suanwang.model import Scenario
from suanwang.scenario.generate import generate_scenario
from suanwang.scheduling import (
    ClusterState,
    Request,
    Scheduler,
    builtin_profiles,
    plugin_factories,
)
from suanwang.scheduling.registry import PluginFactory

SEED = 1
SIZES = (1_000, 10_000)
PROFILES = ("cats-joint", "nearest", "random")
TARGET_PROFILE, TARGET_NODES, TARGET_PER_S = "cats-joint", 10_000, 5_000.0
DECISIONS, QUICK_DECISIONS = 4_000, 500
HOLD, QUICK_HOLD = 1_000, 200
PLUGIN_METHODS = ("filter", "route", "path", "score")
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def draw_requests(scenario: Scenario, count: int, seed: int) -> list[Request]:
    """``count`` requests from the scenario's arrival streams, ingress at its terminals."""
    rng = np.random.default_rng(seed)
    workload = scenario.workload
    streams = [a for a in workload.arrivals if a.rate_per_s > 0 and a.ingress]
    rates = np.array([a.rate_per_s for a in streams])
    picks = rng.choice(len(streams), size=count, p=rates / rates.sum())
    specs = {a.task_type: workload.task_type(a.task_type).spec for a in streams}
    ingress: list[tuple[list[str], np.ndarray]] = []
    for stream in streams:
        sites = [site for site, _ in stream.ingress]
        weights = np.array([weight for _, weight in stream.ingress])
        ingress.append((sites, weights / weights.sum()))
    requests = []
    for i, k in enumerate(picks):
        sites, weights = ingress[int(k)]
        site = sites[int(rng.choice(len(sites), p=weights))]
        requests.append(Request(f"r{i}", specs[streams[int(k)].task_type].at(site)))
    return requests


@dataclass
class RunResult:
    """One timed pass over the request stream."""

    seconds: float
    decisions: int
    placed: int
    fill: Mapping[str, float]
    by_type: Mapping[str, tuple[int, int]]

    @property
    def per_s(self) -> float:
        return self.decisions / self.seconds


def _fill(state: ClusterState) -> dict[str, float]:
    """Share of the cluster's cores, memory, accelerators and busiest link held now."""
    arrays, ledger = state.arrays, state.reservations
    bandwidth = arrays.link_bandwidth_mbps
    accel_total = float(arrays.node_accel_count.sum())
    return {
        "cores": float(ledger.cpu_cores.sum() / arrays.node_cpu_cores.sum()),
        "memory": float(ledger.mem_gib.sum() / arrays.node_mem_gib.sum()),
        "accelerators": float(ledger.accelerators.sum() / accel_total) if accel_total else 0.0,
        "busiest link": float((ledger.link_mbps / bandwidth).max()) if bandwidth.size else 0.0,
    }


def run_online(
    scheduler: Scheduler,
    requests: Sequence[Request],
    hold: int,
    timed_from: int,
    on_start: Callable[[], None] | None = None,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> RunResult:
    """Decide every request in turn; each placed task is released ``hold`` decisions later.

    Only decisions from index ``timed_from`` on (with their releases) are timed, by ``clock``;
    ``on_start`` is called just before the clock starts.
    """
    due: deque[tuple[int, str]] = deque()
    placed = 0
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    schedule, release = scheduler.schedule, scheduler.release
    start = 0.0
    for i, request in enumerate(requests):
        if i == timed_from:
            if on_start is not None:
                on_start()
            start = clock()
        decision = schedule(request)
        if i >= timed_from:
            counts = by_type[request.spec.task_type or "?"]
            counts[0] += 1
            if decision.placement is not None:
                placed += 1
                counts[1] += 1
        if decision.placement is not None:
            due.append((i + hold, request.task_id))
        while due and due[0][0] <= i:
            release(due.popleft()[1])
    seconds = clock() - start
    return RunResult(
        seconds,
        len(requests) - timed_from,
        placed,
        _fill(scheduler.state),
        {name: (total, ok) for name, (total, ok) in by_type.items()},
    )


class Timers:
    """Accumulated seconds and calls per label."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def clear(self) -> None:
        """Forget everything measured so far."""
        self.seconds.clear()
        self.calls.clear()

    def wrap(self, label: str, method: Callable[..., Any]) -> Callable[..., Any]:
        seconds, calls, clock = self.seconds, self.calls, time.perf_counter

        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            begin = clock()
            try:
                return method(*args, **kwargs)
            finally:
                seconds[label] += clock() - begin
                calls[label] += 1

        return timed

    def instrument(self, plugin: object) -> object:
        """Wrap ``plugin``'s point methods (on the instance) with timers; the plugin itself."""
        name = getattr(plugin, "name", type(plugin).__name__)
        for method in PLUGIN_METHODS:
            bound = getattr(plugin, method, None)
            if callable(bound):
                setattr(plugin, method, self.wrap(f"{name}.{method}", bound))
        return plugin

    def factories(self) -> dict[str, PluginFactory]:
        """The registry's factories, each returning an instrumented plugin."""

        def timed_factory(factory: PluginFactory) -> PluginFactory:
            return lambda args, state: self.instrument(factory(args, state))

        return {name: timed_factory(f) for name, f in plugin_factories().items()}


def breakdown(
    scenario: Scenario, profile: str, requests: Sequence[Request], hold: int
) -> tuple[RunResult, list[tuple[str, float, float, int]]]:
    """One instrumented run: (label, ms per decision, share of the total, calls) per plugin."""
    timers = Timers()
    state = ClusterState(scenario.topology)
    scheduler = Scheduler(builtin_profiles()[profile], state, factories=timers.factories())
    ledger = state.reservations
    ledger.reserve = timers.wrap("ledger.reserve", ledger.reserve)  # type: ignore[method-assign]
    ledger.release = timers.wrap("ledger.release", ledger.release)  # type: ignore[method-assign]
    result = run_online(scheduler, requests, hold, timed_from=hold, on_start=timers.clear)
    total = result.seconds
    rows = [
        (label, 1000.0 * s / result.decisions, s / total, timers.calls[label])
        for label, s in sorted(timers.seconds.items(), key=lambda item: -item[1])
    ]
    rest = total - sum(timers.seconds.values())
    rows.append(("framework (the rest)", 1000.0 * rest / result.decisions, rest / total, 0))
    return result, rows


def profile_hot_path(
    scenario: Scenario, profile: str, requests: Sequence[Request], hold: int, top: int = 25
) -> str:
    """cProfile of the timed part of one run: the ``top`` functions by own time."""
    scheduler = Scheduler(builtin_profiles()[profile], ClusterState(scenario.topology))
    profiler = cProfile.Profile()
    run_online(scheduler, requests, hold, timed_from=hold, on_start=profiler.enable)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def _versions() -> str:
    names = ("numpy", "scipy")
    return ", ".join(f"{name} {metadata.version(name)}" for name in names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="repetitions (median reported)")
    parser.add_argument("--quick", action="store_true", help="fewer decisions, one run")
    parser.add_argument("--decisions", type=int, help="timed decisions per run")
    parser.add_argument("--hold", type=int, help="decisions a placed task holds its resources")
    parser.add_argument("--sizes", type=str, help="comma-separated node counts")
    parser.add_argument("--profile", action="store_true", help="cProfile cats-joint at the end")
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="wall", help="wall clock or process CPU time"
    )
    args = parser.parse_args(argv)
    runs = 1 if args.quick else max(1, args.runs)
    decisions = args.decisions or (QUICK_DECISIONS if args.quick else DECISIONS)
    hold = args.hold if args.hold is not None else (QUICK_HOLD if args.quick else HOLD)
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else SIZES
    clock = CLOCKS[args.clock]

    print(
        f"scheduling: online decisions, {decisions:,} timed after {hold:,} untimed, each placed "
        f"task released {hold:,} decisions later; median of {runs} run(s); seed {SEED}; "
        f"{args.clock} clock; "
        f"Python {platform.python_version()}, {_versions()}, {os.cpu_count()} CPUs"
    )
    header = (
        f"{'nodes':>7}  {'profile':<11} {'decisions/s':>11} {'min':>8} {'max':>8}  "
        f"{'placed':>6}  {'fill: cores':>11} {'accel':>6} {'link':>5}  target"
    )
    print(header)
    print("-" * len(header))
    scenarios: dict[int, tuple[Scenario, list[Request]]] = {}
    for nodes in sizes:
        scenario = generate_scenario(nodes, seed=SEED)
        requests = draw_requests(scenario, hold + decisions, seed=SEED)
        scenarios[nodes] = (scenario, requests)
        for name in PROFILES:
            results = []
            for _ in range(runs):
                scheduler = Scheduler(builtin_profiles()[name], ClusterState(scenario.topology))
                results.append(run_online(scheduler, requests, hold, timed_from=hold, clock=clock))
            rates = [r.per_s for r in results]
            median = statistics.median(rates)
            last = results[-1]
            target = ""
            if name == TARGET_PROFILE and nodes == TARGET_NODES:
                ok = median >= TARGET_PER_S
                target = f">= {TARGET_PER_S:,.0f}: {'met' if ok else 'NOT MET'}"
            print(
                f"{nodes:>7,}  {name:<11} {median:>11,.0f} {min(rates):>8,.0f} {max(rates):>8,.0f}"
                f"  {last.placed / last.decisions:>6.1%}  {last.fill['cores']:>11.1%} "
                f"{last.fill['accelerators']:>6.1%} {last.fill['busiest link']:>5.0%}  {target}"
            )
        placed = ", ".join(
            f"{task_type} {ok}/{total}" for task_type, (total, ok) in sorted(last.by_type.items())
        )
        print(f"{'':>7}  placed by task type ({PROFILES[-1]}): {placed}")

    largest = max(sizes)
    scenario, requests = scenarios[largest]
    for name in (TARGET_PROFILE,):
        result, rows = breakdown(scenario, name, requests, hold)
        print(
            f"\nwhere a {name} decision's time goes at {largest:,} nodes "
            f"(instrumented run: {result.per_s:,.0f} decisions/s, "
            f"{result.placed / result.decisions:.1%} placed; by type "
            + ", ".join(f"{t} {ok}/{n}" for t, (n, ok) in sorted(result.by_type.items()))
            + ")"
        )
        print(f"  {'plugin.method':<28} {'ms/decision':>11} {'share':>6} {'calls':>7}")
        for label, ms, share, calls in rows:
            print(f"  {label:<28} {ms:>11.3f} {share:>6.1%} {calls or '':>7}")
    if args.profile:
        print(f"\ncProfile, {TARGET_PROFILE} at {largest:,} nodes (timed decisions only):")
        print(profile_hot_path(scenario, TARGET_PROFILE, requests, hold))
    return 0  # targets are reported, not enforced (a busy shared machine must not fail a run)


if __name__ == "__main__":
    raise SystemExit(main())
