"""The twin's sharded mode: scheduler shards by region under a global coordinator.

``run_shards(scenario, ShardRunConfig(...))`` cuts the scenario's topology into shards
(``scheduling.shards``), gives each its own state and ``Scheduler`` under one
``ShardCoordinator`` (``scheduling.coordinator``), and plays the scenario's workload on the
twin's event loop: the same streams, seeded as ``run_twin`` seeds them, so a sharded and an
unsharded run (``sharded=False``: one shard holding the whole network, the same code path)
see the same arrivals. Each arrival is one coordinator decision; a placed task holds what it
reserved for its estimated end-to-end time and then releases it; a refused task is rejected (this
mode has no wait queue: it compares the decisions, not the controller's retries). The hour of
day reaches every shard's state through the twin's state feed; services' instances serve from
their ``ready_s``.

What it measures, for the same arrivals in either mode: decisions a wall second (the
coordinator's ``place`` alone, and the whole run), the share placed, the share of arrivals
placed within their SLA, and over the placed tasks the mean estimated end-to-end latency and the
cost; how many tasks were sent beyond their home shard, and how many shards were asked.
Latency and cost are the accepting scheduler's estimate at placement (the quantity each
scheduler optimises), not an engine's measurement.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from suanwang.model import Scenario, TaskSpec
from suanwang.scheduling import resolve_profile
from suanwang.scheduling.coordinator import ShardCoordinator, meets_sla
from suanwang.scheduling.shards import ShardCut, cut_shards
from suanwang.twin.arrivals import Arrival, workload_streams
from suanwang.twin.errors import TwinError
from suanwang.twin.feed import twin_feed
from suanwang.twin.loop import EventLoop


@dataclass(frozen=True, slots=True)
class ShardRunConfig:
    """How to run the sharded mode.

    Attributes:
        profile: Scheduling profile of every shard (a built-in name or a YAML file path).
        sharded: Shards by region (True) or one shard holding the whole network (False).
        max_shards: Shards asked per task at most, the home shard counted (>= 1; 1 in the
            unsharded mode whatever is given).
        max_tasks: Arrivals to play (>= 1); the run ends when they have all been decided.
        duration_s: Simulated time arrivals may come in (default: the workload's).
        seed: Random seed (default: the workload's); equal seeds give equal arrivals.
        start_hour: Hour of day at time 0.
    """

    profile: str = "cats-joint"
    sharded: bool = True
    max_shards: int = 3
    max_tasks: int = 10_000
    duration_s: float | None = None
    seed: int | None = None
    start_hour: float = 0.0


@dataclass(slots=True)
class ShardRunResult:
    """What one run measured (see the module docstring).

    Attributes:
        config: The run's configuration.
        shards: Shards the network was cut into.
        tasks: Arrivals decided.
        placed: Tasks placed.
        sla_met: Tasks placed with an estimate inside their SLA.
        latency_ms_sum: Sum of the placed tasks' estimated end-to-end times.
        cost_sum: Sum of the placed tasks' estimated costs.
        beyond_home: Tasks placed in a shard other than their ingress's.
        asked_sum: Shards asked, over every task.
        asked_max: Most shards asked for one task.
        decide_wall_s: Wall time inside the coordinator's ``place``.
        wall_s: Wall time of the whole run (arrivals, decisions, releases), setup excluded.
        setup_wall_s: Wall time to cut the network and build the states and schedulers.
        placed_per_shard: Tasks placed per shard, in shard order.
    """

    config: ShardRunConfig
    shards: int
    tasks: int = 0
    placed: int = 0
    sla_met: int = 0
    latency_ms_sum: float = 0.0
    cost_sum: float = 0.0
    beyond_home: int = 0
    asked_sum: int = 0
    asked_max: int = 0
    decide_wall_s: float = 0.0
    wall_s: float = 0.0
    setup_wall_s: float = 0.0
    placed_per_shard: list[int] = dataclasses.field(default_factory=list)

    @property
    def decisions_per_s(self) -> float:
        """Coordinator decisions a wall second."""
        return self.tasks / self.decide_wall_s if self.decide_wall_s > 0 else math.inf

    @property
    def mean_latency_ms(self) -> float:
        """Mean estimated end-to-end time of the placed tasks (NaN when none)."""
        return self.latency_ms_sum / self.placed if self.placed else math.nan


class _Run:
    def __init__(self, scenario: Scenario, config: ShardRunConfig, cut: ShardCut) -> None:
        try:
            profile = resolve_profile(config.profile)
        except (KeyError, ValueError, OSError) as error:
            raise TwinError(f"profile {config.profile!r}: {error}") from None
        workload = scenario.workload
        self.duration_s = (
            config.duration_s if config.duration_s is not None else workload.duration_s
        )
        seed = config.seed if config.seed is not None else workload.seed
        self.loop = EventLoop()
        ingress = sorted({site for a in workload.arrivals for site, _ in a.ingress})
        self.coordinator = ShardCoordinator(
            cut,
            scenario.topology,
            profile,
            scenario.services,
            max_shards=config.max_shards if config.sharded else 1,
            ingress_sites=ingress,
        )
        self.feeds = [
            twin_feed(shard.topology, self.loop, config.start_hour) for shard in cut.shards
        ]
        for state in self.coordinator.states:
            if state.catalogue is not None:
                state.catalogue.advance(0.0)
        self._tick(None)
        # The twin's seeding (run.Twin): its third spawned seed drives the arrival streams.
        streams_seed = int(np.random.SeedSequence(seed).spawn(4)[2].generate_state(1)[0])
        self.streams = workload_streams(workload, streams_seed, start_hour=config.start_hour)
        self.scenario = scenario
        self.config = config
        self.result = ShardRunResult(
            config, len(cut.shards), placed_per_shard=[0] * len(cut.shards)
        )
        self._specs: dict[tuple[str, str], TaskSpec] = {}

    def _tick(self, _: object) -> None:
        for feed, state in zip(self.feeds, self.coordinator.states, strict=True):
            feed.tick(state)
        next_s = (int(self.loop.now_s() / 3600.0) + 1) * 3600.0
        if next_s < self.duration_s:
            self.loop.at(next_s, self._tick)

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
        result = self.result
        result.tasks += 1
        spec = self._spec(task_type, ingress)
        task_id = f"t{result.tasks}"
        started = time.perf_counter()
        outcome = self.coordinator.place(task_id, spec)
        result.decide_wall_s += time.perf_counter() - started
        result.asked_sum += len(outcome.asked)
        result.asked_max = max(result.asked_max, len(outcome.asked))
        placement = outcome.decision.placement
        if outcome.shard is not None and placement is not None:
            estimate = placement.estimate
            result.placed += 1
            result.placed_per_shard[outcome.shard] += 1
            result.sla_met += meets_sla(outcome.spec, estimate)
            result.latency_ms_sum += estimate.total_ms
            result.cost_sum += estimate.cost
            result.beyond_home += outcome.asked[0] != outcome.shard
            self.loop.after(estimate.total_ms / 1000.0, self._release, task_id)
        if result.tasks >= self.config.max_tasks:
            self.loop.stop()
            return
        self._schedule_next(stream)

    def _release(self, task_id: str) -> None:
        self.coordinator.release(task_id)

    def _schedule_next(self, stream: Iterator[Arrival]) -> None:
        arrival = next(stream, None)
        if arrival is not None and arrival[0] < self.duration_s:
            self.loop.at(arrival[0], self._arrive, (stream, arrival))

    def run(self) -> ShardRunResult:
        started = time.perf_counter()
        for stream in self.streams:
            self._schedule_next(stream)
        for ready_s in sorted({i.ready_s for s in self.scenario.services for i in s.instances}):
            if ready_s > 0:
                self.loop.at(ready_s, self._advance, ready_s)
        self.loop.run(self.duration_s)
        self.result.wall_s = time.perf_counter() - started
        return self.result

    def _advance(self, ready_s: float) -> None:
        for state in self.coordinator.states:
            if state.catalogue is not None:
                state.catalogue.advance(ready_s)


def run_shards(scenario: Scenario, config: ShardRunConfig | None = None) -> ShardRunResult:
    """Run the sharded (or, for comparison, unsharded) mode once (see the module docstring).

    Raises:
        TwinError: An unknown profile or task type, ``max_tasks`` < 1, or a topology that
            cannot be cut (it carries datasets).
    """
    config = config or ShardRunConfig()
    if config.max_tasks < 1:
        raise TwinError(f"max_tasks must be at least 1, got {config.max_tasks}")
    if config.max_shards < 1:
        raise TwinError(f"max_shards must be at least 1, got {config.max_shards}")
    started = time.perf_counter()
    try:
        cut = cut_shards(scenario.topology) if config.sharded else _whole(scenario)
    except ValueError as error:
        raise TwinError(f"cannot cut {scenario.name!r} into shards: {error}") from None
    run = _Run(scenario, config, cut)
    setup_s = time.perf_counter() - started
    result = run.run()
    result.setup_wall_s = setup_s
    return result


def _whole(scenario: Scenario) -> ShardCut:
    return cut_shards(scenario.topology, key=lambda _: "all")
