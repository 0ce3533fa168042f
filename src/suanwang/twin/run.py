"""A twin run: the real controller and scheduler over a scenario, in simulated time.

``run_twin(scenario, TwinConfig(...))`` builds the scheduler state for the scenario's topology,
the real ``Scheduler`` with the chosen profile and the real ``Controller``, and gives the
controller the twin's adapters for its ports: the ``EventLoop`` as clock and ``SimEngine`` as
execution engine. The scenario's services are the scheduler's catalogue (a task type's service
runs only on its instances), whose clock the loop advances to each instance's ``ready_s``.
The workload's streams (plus mobile users, if asked for) submit tasks through the controller;
failures reach it as node and link downs. When the run's duration is over, no new requests
arrive and the tasks still active run to their end (for at most ``drain_limit_s``); any left
then are cancelled with that reason, so every generated task ends completed, rejected, failed
or cancelled, each with its reason.
"""

from __future__ import annotations

import dataclasses
import math
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from suanwang.control.controller import Controller, ControllerConfig
from suanwang.market import Meter
from suanwang.model import Scenario, TaskSpec, Tier
from suanwang.model.failures import Failure
from suanwang.scheduling import ClusterState, Scheduler, resolve_profile
from suanwang.scheduling.catalogue import ServiceCatalogue
from suanwang.twin.accounting import Accounting, Collector
from suanwang.twin.arrivals import Arrival, workload_streams
from suanwang.twin.engine import ServiceTime, SimEngine
from suanwang.twin.errors import TwinError
from suanwang.twin.failures import FailureDriver
from suanwang.twin.feed import twin_feed
from suanwang.twin.loop import EventLoop
from suanwang.twin.metrics import RunMetrics, TimeSeries
from suanwang.twin.mobility import Mobility, MobilityConfig

BILLING_PERIOD_S = 86_400.0
"""A billing twin run's period: a simulated day (a run of a day or less has one invoice)."""

Progress = Callable[[float, int], None]
"""Called now and then with (simulated seconds done, tasks generated so far)."""

Decide = Literal["online", "slice"]
"""How a run decides: each arrival online (exact), or ranked once a time slice (``slices``)."""
DEFAULT_SLICE_MS = 60_000.0
"""Slice of ``decide="slice"`` by default: on the benchmark's arrivals 60 s slices completed and
met as many tasks as 1 s slices, ten times as fast (BENCHMARKS.md, "Digital twin")."""


@dataclass(frozen=True, slots=True)
class TwinConfig:
    """How to run the twin.

    Attributes:
        profile: Scheduling profile: a built-in name or a YAML file path.
        duration_s: Simulated time during which requests arrive (default: the workload's).
        seed: Random seed (default: the workload's).
        start_hour: Local hour of day at time 0 (diurnal rates and carbon intensity follow it).
        rate_scale: Multiplier of every stream's arrival rate.
        service_time: ``model`` (the measurement model's compute time) or ``exponential``.
        buckets: Buckets of the time series.
        drain_limit_s: How long active tasks may run on after the arrivals end.
        max_tasks: End the arrivals after this many tasks (None: no limit); the run then drains
            from that moment, as at the end of ``duration_s``.
        mobility: Mobile users and their sessions.
        scenario_failures: Apply the scenario's own failures.
        failures: Further failures for this run.
        base_dir: Folder that trace files are relative to.
        controller: Controller tunables.
        billing: Meter every run's usage (``TwinResult.usage``, one period a simulated day).
        decide: ``online`` (the default: every arrival one decision of the real scheduler
            through the real controller) or ``slice`` (``twin.slices``: candidates ranked once
            a time slice per demand, arrivals placed on them with live capacity; much faster,
            less faithful to the online decision).
        slice_ms: Length of a slice in simulated milliseconds (``decide="slice"`` only).
    """

    profile: str = "cats-joint"
    duration_s: float | None = None
    seed: int | None = None
    start_hour: float = 0.0
    rate_scale: float = 1.0
    service_time: ServiceTime = "model"
    buckets: int = 240
    drain_limit_s: float = 7 * 86400.0
    max_tasks: int | None = None
    mobility: MobilityConfig = field(default_factory=MobilityConfig)
    scenario_failures: bool = True
    failures: tuple[Failure, ...] = ()
    base_dir: Path | None = None
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    billing: bool = False
    decide: Decide = "online"
    slice_ms: float = DEFAULT_SLICE_MS


@dataclass(slots=True)
class TwinResult:
    """What a run measured.

    Attributes:
        scenario: Scenario name.
        config: The run's configuration, with duration and seed filled in.
        metrics: Aggregates.
        series: Time series.
        tier_cores: CPU cores per tier (for utilisation).
        tier_devices: Accelerator devices per tier.
        end_s: Simulated time at which the last task ended.
        wall_s: Wall-clock seconds the run took.
        events: Events processed.
        peak_memory_mb: Peak traced Python memory, when asked for.
        usage: The metered usage of every run, when the config asked for billing.
    """

    scenario: str
    config: TwinConfig
    metrics: RunMetrics
    series: TimeSeries
    tier_cores: dict[str, float]
    tier_devices: dict[str, float]
    end_s: float
    wall_s: float
    events: int
    peak_memory_mb: float | None = None
    usage: Meter | None = None

    @property
    def generated(self) -> int:
        """Tasks generated."""
        return sum(stats.generated for stats in self.metrics.by_class.values())


class Twin:
    """One run being set up and carried out (see the module docstring).

    Raises:
        TwinError: An unknown profile, a bad duration, or bad mobility settings.
    """

    def __init__(self, scenario: Scenario, config: TwinConfig) -> None:
        workload = scenario.workload
        duration_s = config.duration_s if config.duration_s is not None else workload.duration_s
        seed = config.seed if config.seed is not None else workload.seed
        if not (duration_s > 0 and math.isfinite(duration_s)):
            raise TwinError(f"duration must be positive and finite, got {duration_s} s")
        if seed < 0:
            raise TwinError(f"seed must not be negative, got {seed}")
        if config.rate_scale < 0:
            raise TwinError(f"rate scale must not be negative, got {config.rate_scale}")
        self.config = dataclasses.replace(config, duration_s=duration_s, seed=seed)
        self.scenario = scenario
        self.duration_s = duration_s
        try:
            profile = resolve_profile(config.profile)
        except (KeyError, ValueError, OSError) as error:
            raise TwinError(f"profile {config.profile!r}: {error}") from None
        seeds = np.random.SeedSequence(seed).spawn(4)
        self.loop = EventLoop()
        # The scenario's services resolve CS-IDs as live; instances serve from their ready_s.
        self.catalogue = ServiceCatalogue.of(scenario.services, scenario.topology.arrays.node_ids)
        self.catalogue.advance(0.0)
        self.state = ClusterState(scenario.topology, catalogue=self.catalogue)
        self.feed = twin_feed(scenario.topology, self.loop, config.start_hour)
        self.feed.tick(self.state)  # the hour at time 0
        self.scheduler = Scheduler(profile, self.state)
        self.metrics = RunMetrics()
        tiers = tuple(sorted({s.tier for s in scenario.topology.sites.values()}, key=str))
        sampled = (*(f"util_{t}" for t in tiers), *(f"accel_{t}" for t in tiers))
        self.series = TimeSeries(duration_s, config.buckets, sampled)
        self.usage = Meter(BILLING_PERIOD_S) if config.billing else None
        self.accounting = Accounting(
            self.state,
            self.metrics,
            self.series,
            config.start_hour,
            usage=self.usage.ingest if self.usage is not None else None,
        )
        self.engine = SimEngine(
            self.loop,
            self.state,
            self.accounting,
            service_time=config.service_time,
            rng=np.random.default_rng(seeds[0]),
        )
        collector = Collector(self.metrics, self.series)
        self.controller = Controller(
            self.scheduler,
            self.engine,
            self.loop,
            listener=collector,
            config=config.controller,
        )
        collector.predictions = self.controller.predicted_wait_s
        failures = (*(scenario.failures if config.scenario_failures else ()), *config.failures)
        self.failures = FailureDriver(
            self.loop,
            self.controller,
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
        terminals = tuple(
            site.id for site in scenario.topology.sites.values() if site.tier is Tier.TERMINAL
        ) or tuple(  # no terminal sites (an imported dataset): where the streams enter
            sorted({site for a in workload.arrivals for site, _ in a.ingress})
        )
        self.mobility = Mobility(
            config.mobility,
            workload,
            self.loop,
            self._submit,
            np.random.default_rng(seeds[3]),
            terminals=terminals,
        )
        self._specs: dict[tuple[str, str], TaskSpec] = {}
        self._next_id = 0
        self._window_armed = False
        self._tier_of_node = tier_index(scenario, tiers)
        self._tiers = tiers
        self._cores_by_tier = np.bincount(
            self._tier_of_node, weights=self.state.arrays.node_cpu_cores, minlength=len(tiers)
        )
        self._devices_of_tier = np.bincount(
            self._tier_of_node,
            weights=self.state.arrays.node_accel_count.sum(axis=1),
            minlength=len(tiers),
        )

    # ----------------------------------------------------------------- events

    def _submit(self, spec: TaskSpec) -> None:
        if self.config.max_tasks is not None and self._next_id >= self.config.max_tasks:
            return
        self._next_id += 1
        controller = self.controller
        controller.submit(f"t{self._next_id}", spec)
        due_s = controller.window_due_s
        if due_s is not None and not self._window_armed:
            self._window_armed = True
            self.loop.at(due_s, self._place_window)
        if self._next_id == self.config.max_tasks:
            self.loop.stop()  # the arrivals end here: on to the drain

    def _place_window(self, _: object) -> None:
        self._window_armed = False
        self.controller.place_window()

    def _spec(self, task_type: str, ingress: str) -> TaskSpec:
        spec = self._specs.get((task_type, ingress))
        if spec is None:
            try:
                template = self.scenario.workload.task_type(task_type).spec
            except KeyError:
                raise TwinError(f"arrivals name unknown task type {task_type!r}") from None
            spec = dataclasses.replace(template, ingress_site=ingress, task_type=task_type)
            self._specs[(task_type, ingress)] = spec
        return spec

    def _arrive(self, event: tuple[Iterator[Arrival], Arrival]) -> None:
        stream, (_, task_type, ingress) = event
        self._submit(self._spec(task_type, ingress))
        self._schedule_next(stream)

    def _schedule_next(self, stream: Iterator[Arrival]) -> None:
        if self.config.max_tasks is not None and self._next_id >= self.config.max_tasks:
            return
        arrival = next(stream, None)
        if arrival is not None and arrival[0] < self.duration_s:
            self.loop.at(arrival[0], self._arrive, (stream, arrival))

    def _sample(self, bucket: int) -> None:
        self.controller.expire()
        series, state = self.series, self.state
        series.set(bucket, "queued", self.controller.queued)
        series.set(bucket, "running", self.engine.running)
        series.set(bucket, "nodes_down", float(np.count_nonzero(state.node_down)))
        reserved = np.bincount(
            self._tier_of_node, weights=state.reservations.cpu_cores, minlength=len(self._tiers)
        )
        held = np.bincount(
            self._tier_of_node,
            weights=state.reservations.accelerators.sum(axis=1),
            minlength=len(self._tiers),
        )
        for i, tier in enumerate(self._tiers):
            capacity = self._cores_by_tier[i]
            series.set(bucket, f"util_{tier}", reserved[i] / capacity if capacity else 0.0)
            devices = self._devices_of_tier[i]
            series.set(bucket, f"accel_{tier}", held[i] / devices if devices else 0.0)
        if self._progress is not None:
            self._progress(min(self.loop.now_s(), self.duration_s), self._next_id)

    def _new_hour(self, _: object) -> None:
        self.feed.tick(self.state)
        next_s = (int(self.loop.now_s() / 3600.0) + 1) * 3600.0
        if next_s < self.duration_s:
            self.loop.at(next_s, self._new_hour)

    # ----------------------------------------------------------------- the run

    def run(self, progress: Progress | None = None, *, trace_memory: bool = False) -> TwinResult:
        """Carry out the run and return what it measured."""
        self._progress = progress
        if trace_memory:
            tracemalloc.start()
        started = time.perf_counter()
        for stream in self._streams:
            self._schedule_next(stream)
        self.mobility.start(self.duration_s)
        for ready_s in self.catalogue.ready_times_s():
            self.loop.at(ready_s, self.catalogue.advance, ready_s)
        width = self.series.width_s
        for bucket in range(len(self.series.values)):
            self.loop.at(min((bucket + 1) * width, self.duration_s), self._sample, bucket)
        self.loop.at(3600.0 - (self.config.start_hour * 3600.0) % 3600.0, self._new_hour)
        self.loop.run(self.duration_s)
        self._drain()
        end_s = self.loop.now_s()
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
            tier_devices=self._devices_by_tier(),
            end_s=end_s,
            wall_s=wall_s,
            events=self.loop.processed,
            peak_memory_mb=peak_mb,
            usage=self.usage,
        )

    def _drain(self) -> None:
        """Let active tasks finish after the arrivals end; cancel what is left past the limit."""
        limit_s = self.loop.now_s() + self.config.drain_limit_s
        while self.controller.active:
            next_s = self.loop.next_time_s()
            if next_s is None or next_s > limit_s:
                break
            self.loop.run(next_s)
            if self.controller.queued:
                self.controller.expire()
        for task_id in list(self.controller.active_ids()):
            self.controller.cancel(task_id, "still active when the run ended")

    def _devices_by_tier(self) -> dict[str, float]:
        devices = self.state.arrays.node_accel_count.sum(axis=1)
        per_tier = np.bincount(self._tier_of_node, weights=devices, minlength=len(self._tiers))
        return {str(t): float(c) for t, c in zip(self._tiers, per_tier, strict=True)}


def tier_index(scenario: Scenario, tiers: tuple[Any, ...]) -> np.ndarray:
    """Per node, the position of its site's tier in ``tiers``."""
    topology = scenario.topology
    position = {tier: i for i, tier in enumerate(tiers)}
    return np.array(
        [position[topology.sites[n.site_id].tier] for n in topology.nodes.values()], dtype=np.intp
    )


def scaled_workload(workload: Any, scale: float) -> Any:
    """``workload`` with every stream's rate times ``scale``."""
    if scale == 1.0:
        return workload
    arrivals = tuple(
        dataclasses.replace(a, rate_per_s=a.rate_per_s * scale) for a in workload.arrivals
    )
    return dataclasses.replace(workload, arrivals=arrivals)


def run_twin(
    scenario: Scenario,
    config: TwinConfig | None = None,
    progress: Progress | None = None,
    *,
    trace_memory: bool = False,
) -> TwinResult:
    """Run the twin once (see the module docstring).

    Raises:
        TwinError: The configuration or the scenario's workload cannot be run.
    """
    config = config or TwinConfig()
    if config.decide == "slice":
        from suanwang.twin.slices import SliceTwin  # noqa: PLC0415  # it builds on this module

        return SliceTwin(scenario, config).run(progress, trace_memory=trace_memory)
    if config.decide != "online":
        raise TwinError(f"decide must be 'online' or 'slice', got {config.decide!r}")
    return Twin(scenario, config).run(progress, trace_memory=trace_memory)
