"""Slice mode of the twin: decisions ranked once a time slice, a lean core for the common path.

``run_twin(scenario, TwinConfig(decide="slice", slice_ms=...))`` cuts simulated time into
slices. At the start of each slice, every demand that arrives in it (a task type at one
ingress: one class) is evaluated ONCE through the profile's own plugins (``ClassEvaluator``:
PreFilter, the filters, the route, the scores) on the ledger as it is then, which ranks its
candidate nodes best first (``slicerank``). Each arrival is then placed at its own arrival
time, in time order, on the first candidate of its class that still has room, with every run
that ended before it released first (``slicebook.Book`` counts what running tasks hold, checks
each fit as the ledger does, and writes the sums to the ledger before every ranking). A class
whose kept candidates are all full is evaluated again (once a slice); a task still without
room is rejected: slice mode has no wait queue. This is how CATS forwarding behaves between
metric updates: the ranking is as fresh as the last update (the slice), the capacity check is
live. ``slice_ms`` trades decision freshness for speed: one evaluation per class per slice,
however many tasks it places.

The simulated run is the engine's model without flow sharing: a task waits for nothing (it is
placed on arrival), moves its input and output at its reservation plus the unreserved bandwidth
of each link of its path when it starts (the least along the path), and computes for the
measurement model's time (or an exponential draw with that mean). Its estimate is its
candidate's at the slice's start: network, compute and fixed latency (no queueing: it has room).
The core keeps one heap entry per running task and nothing per finished one: accounting is
aggregated (``SliceAccounting``). Failures are applied between slices, in time order with the
runs' ends; a run on a failed node or link fails (it is not re-placed, unlike the exact mode).
Mobility and billing are exact-mode features: asking for them here is refused; the
controller's tunables do not apply.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator

import numpy as np

from suanwang.model import ACCELERATOR_KINDS, Scenario, TaskSpec
from suanwang.scheduling import ClusterState, resolve_profile
from suanwang.scheduling.batch.classes import ClassEvaluator
from suanwang.scheduling.catalogue import ServiceCatalogue
from suanwang.scheduling.cycle import MB_BITS
from suanwang.scheduling.scheduler import ProfilePlugins
from suanwang.twin.accounting import Accounting
from suanwang.twin.arrivals import Arrival, workload_streams
from suanwang.twin.errors import TwinError
from suanwang.twin.failures import FailureDriver
from suanwang.twin.feed import twin_feed
from suanwang.twin.loop import EventLoop
from suanwang.twin.metrics import RunMetrics, TimeSeries
from suanwang.twin.run import Progress, TwinConfig, TwinResult, scaled_workload, tier_index
from suanwang.twin.sliceacct import Ended, SliceAccounting
from suanwang.twin.slicebook import Book, Need
from suanwang.twin.slicefail import Running, SliceFailures, Versions
from suanwang.twin.slicerank import Ranking, Rankings

_MIN_RATE_MBPS = 1e-3  # the engine's floor: a best-effort flow on a full link crawls


class SliceTwin:
    """One slice-mode run (module docstring).

    Raises:
        TwinError: A bad slice length, duration or profile, or an exact-mode-only feature.
    """

    def __init__(self, scenario: Scenario, config: TwinConfig) -> None:
        workload = scenario.workload
        duration_s, seed = _checked(scenario, config)
        self.config = dataclasses.replace(config, duration_s=duration_s, seed=seed)
        self.scenario, self.duration_s = scenario, duration_s
        self._slice_s = config.slice_ms / 1000.0
        try:
            profile = resolve_profile(config.profile)
        except (KeyError, ValueError, OSError) as error:
            raise TwinError(f"profile {config.profile!r}: {error}") from None
        seeds = np.random.SeedSequence(seed).spawn(4)  # as the exact mode: the same arrivals
        self.loop = EventLoop()
        self.catalogue = ServiceCatalogue.of(scenario.services, scenario.topology.arrays.node_ids)
        self.catalogue.advance(0.0)
        self.state = ClusterState(scenario.topology, catalogue=self.catalogue)
        self.feed = twin_feed(scenario.topology, self.loop, config.start_hour)
        self.feed.tick(self.state)
        self.plugins = ProfilePlugins(profile, self.state)
        self.metrics = RunMetrics()
        tiers = tuple(sorted({s.tier for s in scenario.topology.sites.values()}, key=str))
        sampled = (*(f"util_{t}" for t in tiers), *(f"accel_{t}" for t in tiers))
        self.series = TimeSeries(duration_s, config.buckets, sampled)
        self.accounting = Accounting(self.state, self.metrics, self.series, config.start_hour)
        dynamic_kw = np.asarray(self.accounting.dynamic_kw)
        self.acct = SliceAccounting(
            self.state, self.metrics, self.series, config.start_hour, dynamic_kw
        )
        self._rng = np.random.default_rng(seeds[0])
        self._exponential = config.service_time == "exponential"
        self._running: Running = []
        self._book = Book(self.state)
        self._needs: list[Need] = []  # by kind
        links = scenario.topology.arrays
        self.rankings = Rankings(links.link_latency_ms.tolist(), links.link_cost_per_gb.tolist())
        self._versions = Versions([0] * len(scenario.topology.arrays.node_ids))
        self.fail = SliceFailures(
            self._book,
            self._running,
            self.acct,
            self.metrics,
            loop=self.loop,
            versions=self._versions,
            changed=self.rankings.forget,
        )
        failures = (*(scenario.failures if config.scenario_failures else ()), *config.failures)
        self.failures = FailureDriver(
            self.loop,
            self.fail,
            scenario.topology,
            failures=failures,
            horizon_s=duration_s,
            rng=np.random.default_rng(seeds[1]),
            metrics=self.metrics,
        )
        self._streams = workload_streams(
            scaled_workload(workload, config.rate_scale),
            int(seeds[2].generate_state(1)[0]),
            start_hour=config.start_hour,
            base_dir=config.base_dir,
        )
        arrays = self.state.arrays
        self._specs: dict[tuple[str, str], tuple[TaskSpec, int]] = {}
        self._tiers = tiers
        self._tier_of_node = tier_index(scenario, tiers)
        self._cores_by_tier = np.bincount(
            self._tier_of_node, weights=arrays.node_cpu_cores, minlength=len(tiers)
        )
        self._devices_by_tier = np.bincount(
            self._tier_of_node, weights=arrays.node_accel_count.sum(axis=1), minlength=len(tiers)
        )
        self._seq = 0
        self._progress: Progress | None = None
        self._generated = 0

    # ------------------------------------------------------------------ the run

    def run(self, progress: Progress | None = None, *, trace_memory: bool = False) -> TwinResult:
        """Carry out the run and return what it measured."""
        self._progress = progress
        if trace_memory:
            tracemalloc.start()
        started = time.perf_counter()
        loop, width = self.loop, self.series.width_s
        for ready_s in self.catalogue.ready_times_s():
            loop.at(ready_s, self.catalogue.advance, ready_s)
        for bucket in range(len(self.series.values)):
            loop.at(min((bucket + 1) * width, self.duration_s), self._sample, bucket)
        loop.at(3600.0 - (self.config.start_hour * 3600.0) % 3600.0, self._new_hour)
        arrivals_end_s = self._arrivals()
        limit_s = arrivals_end_s + self.config.drain_limit_s
        last_s = max((e[0] for e in self._running if e[0] <= limit_s), default=arrivals_end_s)
        self._advance(max(last_s, arrivals_end_s))
        end_s = loop.now_s()
        self.fail.cut_all(end_s, "still active when the run ended")
        self.fail.flush()
        self.acct.flush()
        self.failures.close(end_s)
        self.accounting.idle(end_s, self.failures.node_down_s)
        wall_s = time.perf_counter() - started
        peak_mb = None
        if trace_memory:
            peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
        return TwinResult(
            scenario=self.scenario.name,
            config=self.config,
            metrics=self.metrics,
            series=self.series,
            tier_cores={
                str(t): float(c) for t, c in zip(self._tiers, self._cores_by_tier, strict=True)
            },
            tier_devices={
                str(t): float(c) for t, c in zip(self._tiers, self._devices_by_tier, strict=True)
            },
            end_s=end_s,
            wall_s=wall_s,
            events=loop.processed + self._generated + self._seq,
            peak_memory_mb=peak_mb,
        )

    def _arrivals(self) -> float:
        """Every slice of arrivals, placed; returns when the arrivals ended."""
        streams = list(self._streams)
        heads: list[tuple[float, int, Arrival]] = []
        for i, stream in enumerate(streams):
            self._push_next(heads, i, stream)
        limit = self.config.max_tasks
        slice_s, duration_s = self._slice_s, self.duration_s
        while heads:
            first_s = heads[0][0]
            start_s = math.floor(first_s / slice_s) * slice_s
            self._advance(start_s)
            end_s = min(start_s + slice_s, duration_s)
            batch: list[tuple[float, TaskSpec, int]] = []
            while heads and heads[0][0] < end_s:
                at_s, i, (_, task_type, ingress) = heapq.heappop(heads)
                spec, kind = self._spec(task_type, ingress)
                batch.append((at_s, spec, kind))
                self.acct.arrived(kind, at_s)
                self._generated += 1
                if limit is not None and self._generated >= limit:
                    self._place_slice(batch)
                    return at_s
                self._push_next(heads, i, streams[i])
            self._place_slice(batch)
        return duration_s

    def _push_next(
        self, heads: list[tuple[float, int, Arrival]], i: int, stream: Iterator[Arrival]
    ) -> None:
        arrival = next(stream, None)
        if arrival is not None and arrival[0] < self.duration_s:
            heapq.heappush(heads, (arrival[0], i, arrival))

    def _spec(self, task_type: str, ingress: str) -> tuple[TaskSpec, int]:
        known = self._specs.get((task_type, ingress))
        if known is None:
            try:
                template = self.scenario.workload.task_type(task_type).spec
            except KeyError:
                raise TwinError(f"arrivals name unknown task type {task_type!r}") from None
            spec = dataclasses.replace(template, ingress_site=ingress, task_type=task_type)
            known = self._specs[(task_type, ingress)] = (spec, self.acct.kind(spec))
            accel = spec.accelerator
            self._needs.append(
                (
                    spec.cpu_cores,
                    spec.mem_gib,
                    -1 if accel is None else ACCELERATOR_KINDS.index(accel.kind),
                    0.0 if accel is None else float(accel.count),
                )
            )
        return known

    def _advance(self, to_s: float) -> None:
        """Run the loop's events and release ended runs, in time order, up to ``to_s``."""
        loop = self.loop
        while True:
            next_s = loop.next_time_s()
            if next_s is None or next_s > to_s:
                break
            self._release_until(next_s)
            loop.run(next_s)
        self._release_until(to_s)
        loop.run(to_s)

    def _release_until(self, at_s: float) -> None:
        running, hold, ended = self._running, self._book.hold, self.acct.ended
        versions = self._versions
        while running and running[0][0] <= at_s:
            _, _, need, row, links, reserved = heapq.heappop(running)
            hold(row.node, need, links, reserved, -1.0)
            versions.freed(row.node, reserved)
            ended(row)

    # ------------------------------------------------------------------ placing

    def _place_slice(self, batch: list[tuple[float, TaskSpec, int]]) -> None:
        if not batch:
            return
        counts = Counter(kind for _, _, kind in batch)
        self._book.sync()
        evaluator = ClassEvaluator(self.plugins)
        classes: dict[int, Ranking] = {}
        for _, spec, kind in batch:
            if kind not in classes:
                classes[kind] = self.rankings.rank(evaluator, spec, kind, counts[kind])
        versions = self._versions
        for at_s, spec, kind in batch:
            self._release_until(at_s)
            chosen = classes[kind]
            if chosen.full_at is not None and chosen.full_at == versions.of(chosen.nodes):
                # Nothing was freed on its candidates since they were all full: still full.
                self.fail.reject(kind, chosen.reason, at_s)
                continue
            if self._place(chosen, at_s):
                continue
            if chosen.nodes and not chosen.refreshed:  # all full: once a slice, rank afresh
                self._book.sync()
                chosen = classes[kind] = self.rankings.rank(
                    ClassEvaluator(self.plugins), spec, kind, counts[kind]
                )
                chosen.refreshed = True
                if self._place(chosen, at_s):
                    continue
            chosen.full_at = versions.of(chosen.nodes)
            self.fail.reject(kind, chosen.reason, at_s)

    def _place(self, chosen: Ranking, at_s: float) -> bool:
        """Place one arrival of ``chosen`` at ``at_s`` on its first candidate with room."""
        book, spec, need = self._book, chosen.spec, self._needs[chosen.kind]
        for at, node in enumerate(chosen.nodes):
            links, reserved, one_way_ms, link_cost = self.rankings.path(chosen, at)
            if not book.fits(node, need, links, reserved):
                continue
            book.hold(node, need, links, reserved)
            self._seq += 1
            network_ms = 2.0 * one_way_ms
            data_mbit = (spec.data_in_mb + spec.data_out_mb) * MB_BITS / 1e6
            if data_mbit > 0 and links:
                held, capacity = book.link, book.cap_link
                rate = min(reserved + max(capacity[k] - held[k], 0.0) for k in links)
                network_ms += data_mbit / max(rate, _MIN_RATE_MBPS) * 1000.0
            compute_ms = chosen.compute_ms[at]
            if self._exponential:
                compute_ms *= float(self._rng.exponential())
            end_s = at_s + (network_ms + compute_ms) / 1000.0
            estimate_ms = chosen.network_ms[at] + chosen.compute_ms[at] + spec.fixed_latency_ms
            row = Ended(
                chosen.kind,
                node,
                at_s,
                at_s,
                end_s,
                network_ms,
                compute_ms,
                estimate_ms,
                link_cost,
                len(links),
            )
            heapq.heappush(self._running, (end_s, self._seq, need, row, links, reserved))
            return True
        return False

    # ------------------------------------------------------------------ events

    def _sample(self, bucket: int) -> None:
        self._book.sync()
        series, state = self.series, self.state
        series.set(bucket, "queued", 0.0)
        series.set(bucket, "running", float(len(self._running)))
        series.set(bucket, "nodes_down", float(np.count_nonzero(state.node_down)))
        n = len(self._tiers)
        reserved = np.bincount(
            self._tier_of_node, weights=state.reservations.cpu_cores, minlength=n
        )
        held = np.bincount(
            self._tier_of_node, weights=state.reservations.accelerators.sum(axis=1), minlength=n
        )
        for i, tier in enumerate(self._tiers):
            capacity, devices = self._cores_by_tier[i], self._devices_by_tier[i]
            series.set(bucket, f"util_{tier}", reserved[i] / capacity if capacity else 0.0)
            series.set(bucket, f"accel_{tier}", held[i] / devices if devices else 0.0)
        if self._progress is not None:
            self._progress(min(self.loop.now_s(), self.duration_s), self._generated)

    def _new_hour(self, _: object) -> None:
        self.feed.tick(self.state)
        next_s = (int(self.loop.now_s() / 3600.0) + 1) * 3600.0
        if next_s < self.duration_s:
            self.loop.at(next_s, self._new_hour)


def _checked(scenario: Scenario, config: TwinConfig) -> tuple[float, int]:
    """The run's duration and seed; refuses what slice mode cannot run."""
    workload = scenario.workload
    duration_s = config.duration_s if config.duration_s is not None else workload.duration_s
    seed = config.seed if config.seed is not None else workload.seed
    if not (duration_s > 0 and math.isfinite(duration_s)):
        raise TwinError(f"duration must be positive and finite, got {duration_s} s")
    if seed < 0:
        raise TwinError(f"seed must not be negative, got {seed}")
    if not (config.slice_ms > 0 and math.isfinite(config.slice_ms)):
        raise TwinError(f"slice_ms must be positive and finite, got {config.slice_ms}")
    if config.rate_scale < 0:
        raise TwinError(f"rate scale must not be negative, got {config.rate_scale}")
    if config.mobility.users:
        raise TwinError(
            f"mobility ({config.mobility.users} users) needs the exact mode, not slice mode"
        )
    if config.billing:
        raise TwinError("billing needs the exact mode, not slice mode")
    return duration_s, seed
