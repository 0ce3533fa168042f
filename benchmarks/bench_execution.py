"""Execution benchmark: dispatch overhead through suanwang versus raw Ray; the local engine.

Target (issue 7): running 1,000 tiny tasks through suanwang costs at most 20 % more than
running the same tasks on raw Ray with the same pinning, on the same 1 head + 3 worker
cluster on loopback.

* ``ray``: a ``LocalRayCluster`` of four Ray nodes (1 CPU each), each standing for one node
  of a four-node topology. Raw Ray: ``run_pinned`` (the remote function the engine uses) as a
  Ray task with ``NodeAffinitySchedulingStrategy(soft=False)``, nodes in turn, all submitted,
  then all fetched. suanwang: the ``Controller`` with the round-robin profile and a
  ``RayEngine`` — per task a scheduling decision with its reservation, the engine's dispatch,
  the completion report through the engine's gatherer and the controller's bookkeeping — until
  every task is COMPLETED; once submitting one task at a time (``Controller.submit``, the
  lock taken per task), once in rounds of ``ROUND`` (``Controller.submit_batch``: a round
  decided under one lock hold and submitted to Ray back to back). The engine reports ends in
  batches either way (``execution.ray_batch``). To show where the difference goes, the
  engine alone (placements made beforehand, a counter as receiver) and the decisions alone
  (schedule + release, no engine) are timed too. Raw, suanwang (both ways) and engine-alone
  runs alternate after a warm-up of each; medians of runs.
* ``local``: a ``LocalEngine`` with one worker per CPU under the same controller: tiny tasks
  per second; and 1 GFLOP matmul tasks, GFLOPS achieved next to one in-process matmul.

Run: ``.venv/bin/python -m benchmarks.bench_execution [--runs N] [--quick] [--skip-ray]``
(``--quick``, the smoke run, leaves the Ray cluster out).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import statistics
import threading
import time
from importlib import metadata
from typing import Any

import numpy as np

from suanwang.control.controller import Controller
from suanwang.control.ports import ExecutionEngine, SystemClock
from suanwang.execution import LocalEngine, LocalRayCluster, RayEngine, Work
from suanwang.execution.ray_engine import run_pinned
from suanwang.model import Task, TaskSpec, TaskState, Topology
from suanwang.scenario import loads_scenario
from suanwang.scheduling import ClusterState, Request, Scheduler, builtin_profiles

TASKS, QUICK_TASKS = 1_000, 200
ROUND = 100
"""Submissions a round in the batched runs (``Controller.submit_batch``)."""
TARGET_RATIO = 0.20
TINY = TaskSpec(work_gflop=1e-5, task_type="matmul", ingress_site="users")
HEAVY_GFLOP = 1.0
WAIT_S = 300.0
FOUR = """
version: 1
name: four
sites:
  - {id: users, tier: terminal, geo: {lat_deg: 31.2, lon_deg: 121.5}}
  - {id: edge, tier: edge, region: CN-SH, geo: {lat_deg: 31.3, lon_deg: 121.4}}
  - {id: cloud, tier: region, region: CN-SH, geo: {lat_deg: 31.1, lon_deg: 121.6}}
nodes:
  - {id: e1, site: edge, cpu_cores: 2000, mem_gib: 4000, cpu_peak_gflops: {fp32: 400}}
  - {id: e2, site: edge, cpu_cores: 2000, mem_gib: 4000, cpu_peak_gflops: {fp32: 300}}
  - {id: c1, site: cloud, cpu_cores: 2000, mem_gib: 4000, cpu_peak_gflops: {fp32: 800}}
  - {id: c2, site: cloud, cpu_cores: 2000, mem_gib: 4000, cpu_peak_gflops: {fp32: 600}}
links:
  - {id: u-e, a: users, b: edge, bandwidth_mbps: 100000, latency_ms: 1}
  - {id: e-c, a: edge, b: cloud, bandwidth_mbps: 100000, latency_ms: 4}
"""


class _Done:
    """Controller listener: counts completed tasks; a bounded wait for a count."""

    def __init__(self) -> None:
        self.completed = 0
        self.failed = 0
        self._changed = threading.Condition()

    def task_changed(self, task: Task, cause: str) -> None:
        if cause in ("completed", "failed"):
            with self._changed:
                self.completed += cause == "completed"
                self.failed += cause == "failed"
                self._changed.notify_all()

    def wait(self, total: int) -> None:
        """Until ``total`` tasks have ended since the start."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.completed + self.failed >= total, WAIT_S):
                raise TimeoutError(f"{self.completed} of {total} tasks done in {WAIT_S:g} s")
        if self.failed:
            raise RuntimeError(f"{self.failed} tasks failed")


class _Driver:
    """One controller over one engine, used for every run (a live deployment's shape)."""

    def __init__(self, topology: Topology, engine: ExecutionEngine, lock: Any) -> None:
        self.done = _Done()
        scheduler = Scheduler(builtin_profiles()["round-robin"], ClusterState(topology))
        self.controller = Controller(scheduler, engine, SystemClock(), listener=self.done)
        self.lock = lock
        self.submitted = 0

    def run(self, spec: TaskSpec, tasks: int, round_size: int = 1) -> float:
        """Seconds from the first submission until ``tasks`` more tasks have completed.

        ``round_size`` 1 submits one task a lock hold; more submits rounds of that many.
        """
        started = time.perf_counter()
        for first in range(0, tasks, round_size):
            count = min(round_size, tasks - first)
            ids = [f"t{self.submitted + i}" for i in range(count)]
            with self.lock:  # one decision, or one round, at a time; reports come in between
                if round_size == 1:
                    self.controller.submit(ids[0], spec)
                else:
                    self.controller.submit_batch([(task_id, spec, "") for task_id in ids])
            self.submitted += count
        self.done.wait(self.submitted)
        return time.perf_counter() - started


def _raw_ray(ray: Any, node_ids: list[str], tasks: int) -> float:
    """Seconds to run the same tasks on raw Ray, pinned the same way, nodes in turn."""
    strategies = importlib.import_module("ray.util.scheduling_strategies")
    remote = ray.remote(run_pinned)
    pinned = [
        remote.options(
            num_cpus=1, scheduling_strategy=strategies.NodeAffinitySchedulingStrategy(n, soft=False)
        )
        for n in node_ids
    ]
    started = time.perf_counter()
    refs = [
        pinned[i % len(pinned)].remote("matmul", Work(TINY.work_gflop, task_id=str(i)), False)
        for i in range(tasks)
    ]
    ray.get(refs)
    return time.perf_counter() - started


class _Count:
    """Receiver of an engine's reports: counts ends."""

    def __init__(self) -> None:
        self.finished = 0
        self._changed = threading.Condition()

    def task_started(self, task_id: str) -> None:
        return None

    def task_finished(self, task_id: str, ok: bool, reason: str) -> None:
        with self._changed:
            self.finished += 1
            self._changed.notify_all()

    def wait(self, total: int) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.finished >= total, WAIT_S):
                raise TimeoutError(f"{self.finished} of {total} runs ended in {WAIT_S:g} s")


def _engine_alone(topology: Topology, engine: RayEngine, count: _Count, tasks: int) -> float:
    """Seconds for the engine alone: placements made beforehand, a counter as receiver."""
    scheduler = Scheduler(builtin_profiles()["round-robin"], ClusterState(topology))
    placed = []
    for i in range(tasks):
        task_id = f"e{count.finished + i}"
        decision = scheduler.schedule(Request(task_id, TINY))
        scheduler.release(task_id)
        assert decision.placement is not None
        task = Task.submit(task_id, TINY, "", 0.0)
        placed.append(task.transition(TaskState.SCHEDULED, 0.0, "placed", decision.placement))
    total = count.finished + tasks
    started = time.perf_counter()
    for task in placed:
        engine.start(task)
    count.wait(total)
    return time.perf_counter() - started


def _decisions_s(topology: Topology, tasks: int) -> float:
    scheduler = Scheduler(builtin_profiles()["round-robin"], ClusterState(topology))
    started = time.perf_counter()
    for i in range(tasks):
        scheduler.schedule(Request(f"d{i}", TINY))
        scheduler.release(f"d{i}")
    return time.perf_counter() - started


def _ray_suite(topology: Topology, tasks: int, runs: int) -> None:
    nodes = list(topology.nodes)
    with LocalRayCluster([[n] for n in nodes], cpus_per_node=1, object_store_mb=80) as cluster:
        cluster.connect()
        ray = importlib.import_module("ray")
        ray_nodes = [cluster.node_map[n] for n in nodes]
        lock = threading.RLock()
        engine, bare, count = RayEngine(lock=lock), RayEngine(), _Count()
        bare.attach(count)
        try:
            driver = _Driver(topology, engine, lock)
            _raw_ray(ray, ray_nodes, tasks)  # warm-up: worker processes on every node
            driver.run(TINY, tasks)
            driver.run(TINY, tasks, ROUND)
            _engine_alone(topology, bare, count, tasks)
            raw, ours, rounds, alone = [], [], [], []
            for _ in range(runs):
                raw.append(_raw_ray(ray, ray_nodes, tasks))
                ours.append(driver.run(TINY, tasks))
                rounds.append(driver.run(TINY, tasks, ROUND))
                alone.append(_engine_alone(topology, bare, count, tasks))
            pinned_right = all(r.ran_on == cluster.node_map[r.node_id] for r in engine.records())
        finally:
            engine.close()
            bare.close()
    decide = _decisions_s(topology, tasks)
    raw_s = statistics.median(raw)
    print(f"ray: {tasks:,} tiny tasks (matmul 1e-5 GFLOP), 1 head + 3 workers on loopback")
    print(
        f"  raw Ray, pinned        {raw_s:6.3f} s  {1e3 * raw_s / tasks:6.3f} ms/task  {_span(raw)}"
    )
    for name, times in (("one at a time", ours), (f"rounds of {ROUND}", rounds)):
        ours_s = statistics.median(times)
        ratio = ours_s / raw_s - 1.0
        per_task = f"{1e3 * ours_s / tasks:6.3f} ms/task"
        print(f"  through suanwang, {name}")
        print(f"                         {ours_s:6.3f} s  {per_task}  {_span(times)}")
        print(
            f"    overhead             {1e3 * (ours_s - raw_s) / tasks:6.3f} ms/task  "
            f"{100 * ratio:+.1f} %  (target <= {100 * TARGET_RATIO:.0f} %: "
            f"{'met' if ratio <= TARGET_RATIO else 'NOT met'})"
        )
    alone_s = statistics.median(alone)
    print(
        f"  engine alone           {alone_s:6.3f} s  {1e3 * alone_s / tasks:6.3f} ms/task  "
        f"{_span(alone)}  ({100 * (alone_s / raw_s - 1):+.1f} %: pre-placed, no controller)"
    )
    print(
        f"  decisions alone                  {1e3 * decide / tasks:6.3f} ms/task  "
        "(schedule + release, no engine)"
    )
    print(f"  every task on its node's Ray node: {'yes' if pinned_right else 'NO'}")


def _span(values: list[float]) -> str:
    return f"({min(values):.3f}-{max(values):.3f} s over {len(values)} runs)"


def _local_suite(topology: Topology, tasks: int, runs: int) -> None:
    workers = os.cpu_count() or 1
    lock = threading.RLock()
    with LocalEngine(topology.nodes, max_workers=workers, lock=lock) as engine:
        driver = _Driver(topology, engine, lock)
        driver.run(TINY, workers * 4)  # warm-up: spawn the workers
        rates = [tasks / driver.run(TINY, tasks) for _ in range(runs)]
        heavy = TaskSpec(work_gflop=HEAVY_GFLOP, task_type="matmul", ingress_site="users")
        count = 4 * workers
        gflops = [count * HEAVY_GFLOP / driver.run(heavy, count) for _ in range(runs)]
    side = round((HEAVY_GFLOP * 1e9 / 2) ** (1 / 3))
    a = np.random.default_rng(0).standard_normal((side, side)).astype(np.float32)
    started = time.perf_counter()
    for _ in range(8):
        a @ a  # the product is the work being timed
    reference = 8 * 2 * side**3 / 1e9 / (time.perf_counter() - started)
    print(f"local: LocalEngine, {workers} worker processes, same controller")
    print(f"  tiny tasks             {statistics.median(rates):8,.0f} tasks/s  ({tasks:,} per run)")
    print(
        f"  matmul {HEAVY_GFLOP:g} GFLOP tasks   {statistics.median(gflops):8.1f} GFLOPS  "
        f"({count} per run; one in-process {side}x{side} fp32 matmul: {reference:.1f} GFLOPS)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="repetitions (median reported)")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_TASKS} tasks, 1 run, no Ray cluster"
    )
    parser.add_argument("--skip-ray", action="store_true", help="only the local engine")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    runs = 1 if args.quick else args.runs
    tasks = QUICK_TASKS if args.quick else TASKS
    ray_version = "absent"
    if importlib.util.find_spec("ray") is not None:
        ray_version = metadata.version("ray")
    print(
        f"execution: {runs} runs; Python {platform.python_version()}, ray {ray_version}, "
        f"numpy {np.__version__}, {os.cpu_count()} CPUs, {platform.machine()}"
    )
    topology = loads_scenario(FOUR, "yaml").topology
    if ray_version == "absent" or args.skip_ray or args.quick:
        # The smoke run (--quick) stays light: a 4-node Ray cluster takes ~10 s and 1.5 GB.
        why = "no ray extra" if ray_version == "absent" else "--skip-ray or --quick"
        print(f"ray: skipped ({why})")
    else:
        _ray_suite(topology, tasks, runs)
    _local_suite(topology, tasks, runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
