"""Running a fork ahead: the real controller and scheduler on a copy of the live state.

``run_ahead(fork, tasks, horizon_s, ...)`` builds, from a ``ForkState`` (``twin.fork``), a fresh
ledger and marks (copies of the fork's, so the fork can be run again), a ``Scheduler`` with the
live profile, a ``Controller`` with the live tunables, and the twin's ``SimEngine`` on an
``EventLoop`` whose time 0 is the start of the run (the fork's moment, or later with
``start_s``). Then, in simulated time:

* measured load beyond the ledger stays held for the whole run (``measured:<node>``);
* each task that held a reservation at the fork gives it back when its run was expected to end
  (at once if that time has passed); the queue is tried again on its node, as when a run ends
  live. A long-running service holds its reservation to the end;
* ``fail_sites``: every node of those sites goes down at time 0, and the tasks running there
  are displaced: their holds are given back and they are submitted again (under their ids);
* the tasks that were waiting at the fork are taken over at time 0 with their history (its
  times moved to the run's clock), so each keeps the patience and budget it has left, as it
  does live; then ``tasks`` (ids ``what-if-0``, ``what-if-1``... in order), then the
  ``background`` arrivals at their times;
* the hour of day moves on every simulated hour (carbon intensity follows it);
* while tasks wait, the queue is tried again about every ``TICK_S``, as the live writer does
  after each feed tick (``Controller.retry_queued``), in the queue's order of service (earliest
  deadline first, then by submission, ``control.waiting``), the same as live. The live writer
  ticks when its loop wakes, about once a second, so each interval here is drawn (seeded)
  between half and one and a half ``TICK_S``.

Arrivals stop at ``horizon_s``; the run goes on until the judged tasks have ended, for at most
``drain_s`` more. The judged tasks are ``tasks``, or, when none is given, every task submitted
in the run (displaced, waiting and background ones). A judged task meets its SLA when it
completed within its latency budget (else its deadline; any time, without either), or, for a
long-running service, when it runs at the end. Cost and carbon are the placement estimates of
the judged tasks that completed or run at the end.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from suanwang.control.controller import Controller
from suanwang.model import Task, TaskSpec, TaskState
from suanwang.model.site import HOURS_PER_DAY
from suanwang.scheduling import ClusterState, Scheduler
from suanwang.scheduling.catalogue import ServiceCatalogue
from suanwang.scheduling.leases import NodeLeases
from suanwang.scheduling.reservations import Reservation
from suanwang.twin.accounting import Accounting
from suanwang.twin.engine import SimEngine
from suanwang.twin.forecast import Arrival
from suanwang.twin.fork import ForkState
from suanwang.twin.loop import EventLoop
from suanwang.twin.metrics import RunMetrics, TimeSeries

MAX_HORIZON_S = 7 * 86_400.0
"""Longest run ahead: a week (the forecaster's longest season)."""
DEFAULT_DRAIN_S = 86_400.0
"""How long judged tasks may run on after the horizon."""
EXPIRY_CHECKS = 240
"""Times over the horizon the queue's patience is checked (as the twin samples)."""
TICK_S = 1.0
"""Mean period of the queue's retries while tasks wait: the live writer's tick (``worker``)."""
WHAT_IF_PREFIX = "what-if-"
"""Ids of the extra tasks: the prefix and their position in ``tasks``."""


@dataclass(frozen=True, slots=True)
class ForkPrediction:
    """What a run ahead predicts for the judged tasks (module docstring).

    Attributes:
        sla_met_fraction: Share of the judged tasks that met their SLA (1.0 when none).
        placed: Judged tasks that completed or run at the end.
        rejected: Judged tasks that did not (rejected, expired, failed, or still waiting).
        cost: Sum of their placement estimates' cost, currency units.
        carbon_g: Sum of their placement estimates' carbon, grams CO2e.
        per_task: Judged task id -> node id of its last placement ("" if it had none).
        horizon_s: The run's horizon, seconds.
        background: Background arrivals submitted.
        displaced: Running tasks displaced by the failed sites.
        residents: Tasks holding reservations at the fork.
    """

    sla_met_fraction: float
    placed: int
    rejected: int
    cost: float
    carbon_g: float
    per_task: Mapping[str, str]
    horizon_s: float
    background: int = 0
    displaced: int = 0
    residents: int = 0


class _Watch:
    """The run's controller listener: the last node and the final record of each task."""

    def __init__(self) -> None:
        self.node: dict[str, str] = {}
        self.final: dict[str, Task] = {}

    def task_changed(self, task: Task, cause: str) -> None:
        if task.placement is not None:
            self.node[task.id] = task.placement.node_id
        if task.state.is_terminal:
            self.final[task.id] = task


def _budget_ms(spec: TaskSpec) -> float | None:
    if spec.latency_budget_ms is not None:
        return spec.latency_budget_ms
    return None if spec.deadline_s is None else spec.deadline_s * 1000.0


def _check(
    horizon_s: float, load_factor: float, fail_sites: Sequence[str], fork: ForkState
) -> None:
    if not (math.isfinite(horizon_s) and 0 < horizon_s <= MAX_HORIZON_S):
        raise ValueError(f"horizon_s must lie in (0, {MAX_HORIZON_S:g}] s, got {horizon_s}")
    if not (math.isfinite(load_factor) and load_factor >= 0):
        raise ValueError(f"load_factor must be finite and not negative, got {load_factor}")
    for site in fail_sites:
        if site not in fork.topology.sites:
            raise ValueError(f"fail_sites: no site {site!r} in the live topology")


class _Run:
    """One run ahead being carried out (module docstring)."""

    def __init__(self, fork: ForkState, horizon_s: float, start_s: float, seed: int = 0) -> None:
        self.fork, self.horizon_s = fork, horizon_s
        self._rng = np.random.default_rng(seed)
        self.offset_s = max(start_s - fork.at_s, 0.0)
        self.loop = EventLoop()
        cat = fork.catalogue  # a fresh one per run: its mask cache is the run's own
        self.state = ClusterState(
            fork.topology,
            fork.ledger.copy_without(()),
            None,  # measured load is held in the ledger instead (module docstring)
            fork.hour_of_day,
            fork.efficiency,
            fork.node_down.copy(),
            fork.link_down.copy(),
            node_hour=None if fork.node_hour is None else fork.node_hour.copy(),
            leases=NodeLeases(fork.leases),
            catalogue=None if cat is None else ServiceCatalogue(cat.services, cat.node_ids),
        )
        self.state.set_link_latency(fork.latency_ms)
        if fork.latency_ms is not None:
            # The live graph over the same latencies: no rebuild (its caches are thread-safe).
            self.state._graph = ((fork.topology.version, self.state.latency_version), fork.graph)
        self._advance_hours(self.offset_s / 3600.0)
        self.watch = _Watch()
        metrics = RunMetrics()
        series = TimeSeries(horizon_s, 1, ())
        accounting = Accounting(self.state, metrics, series, float(self.state.hour_of_day))
        self.engine = SimEngine(self.loop, self.state, accounting)
        self.scheduler = Scheduler(fork.profile, self.state)
        self.controller = Controller(
            self.scheduler, self.engine, self.loop, listener=self.watch, config=fork.config
        )
        self._window_armed = False
        self._tick_armed = False
        self.submitted: list[str] = []

    def _advance_hours(self, hours: float) -> None:
        step = int(hours) % HOURS_PER_DAY  # first: a start years ahead must not overflow int32
        if step == 0:
            return
        state = self.state
        hour = (state.hour_of_day + step) % HOURS_PER_DAY
        node_hour = None if state.node_hour is None else (state.node_hour + step) % HOURS_PER_DAY
        state.set_hours(hour, node_hour)

    def _new_hour(self, _: object) -> None:
        self._advance_hours(1.0)
        if self.loop.now_s() + 3600.0 <= self.horizon_s:
            self.loop.after(3600.0, self._new_hour)

    def submit(self, task_id: str, spec: TaskSpec, tenant: str = "") -> None:
        self.submitted.append(task_id)
        controller = self.controller
        controller.submit(task_id, spec, tenant)
        self._arm_tick()
        due_s = controller.window_due_s
        if due_s is not None and not self._window_armed:
            self._window_armed = True
            self.loop.at(max(due_s, self.loop.now_s()), self._place_window)

    def take_over(self, waiting: Sequence[Task]) -> None:
        """Queue the tasks waiting at the fork as they are, their times moved to the run's."""
        start_s = self.fork.at_s + self.offset_s  # run time 0 on the live clock
        moved = [
            dataclasses.replace(
                task,
                history=tuple(dataclasses.replace(h, at_s=h.at_s - start_s) for h in task.history),
            )
            for task in waiting
        ]
        self.submitted.extend(task.id for task in moved)
        self.controller.resume(moved)
        self._arm_tick()

    def _arm_tick(self) -> None:
        """Tick in about ``TICK_S`` (drawn, module docstring) if tasks wait and none is due."""
        if self.controller.queued and not self._tick_armed:
            self._tick_armed = True
            self.loop.after(TICK_S * self._rng.uniform(0.5, 1.5), self._tick)

    def _tick(self, _: object) -> None:
        """Retry the queue as the live tick does; again while tasks wait."""
        self._tick_armed = False
        self.controller.retry_queued()
        self._arm_tick()

    def _place_window(self, _: object) -> None:
        self._window_armed = False
        self.controller.place_window()

    def _arrive(self, arrival: tuple[str, TaskSpec, str]) -> None:
        self.submit(*arrival)

    def _resident_ends(self, run_id: str) -> None:
        held = self.state.reservations.held(run_id)
        if held is None:
            return
        self.scheduler.release(run_id)
        if not self.state.node_down[held.node]:  # the queue is tried on it, as live
            self.controller.node_up(self.state.arrays.node_ids[held.node])

    def _expire(self, _: object) -> None:
        self.controller.expire()

    def hold_measured(self) -> None:
        ledger, arrays = self.state.reservations, self.state.arrays
        for node in np.flatnonzero(self.fork.unledgered_cores):
            free = float(arrays.node_cpu_cores[node] - ledger.cpu_cores[node])
            cores = min(float(self.fork.unledgered_cores[node]), free)
            if cores > 0:
                ledger.reserve(
                    Reservation(f"measured:{arrays.node_ids[node]}", int(node), cores, 0.0)
                )

    def place_residents(self, fail_sites: Sequence[str]) -> list[Task]:
        """Schedule the residents' ends; returns the displaced ones (their holds given back)."""
        failed_nodes = {
            node.id for node in self.fork.topology.nodes.values() if node.site_id in fail_sites
        }
        for node_id in sorted(failed_nodes):
            self.controller.node_down(node_id, "what-if: its site fails")
        displaced: list[Task] = []
        end_s = self.horizon_s + DEFAULT_DRAIN_S
        for resident in self.fork.residents:
            placement = resident.task.placement
            if placement is not None and placement.node_id in failed_nodes:
                self.scheduler.release(resident.run_id)
                displaced.append(resident.task)
                continue
            due_s = max(resident.ends_at_s - self.fork.at_s - self.offset_s, 0.0)
            if due_s <= 0:
                self.scheduler.release(resident.run_id)
            elif due_s <= end_s:
                self.loop.at(due_s, self._resident_ends, resident.run_id)
        return displaced

    def run(self, judged: Sequence[str]) -> None:
        loop, horizon_s = self.loop, self.horizon_s
        for k in range(1, EXPIRY_CHECKS + 1):
            loop.at(horizon_s * k / EXPIRY_CHECKS, self._expire)
        loop.at(3600.0 - (self.offset_s % 3600.0), self._new_hour)
        loop.run(horizon_s)
        limit_s = horizon_s + DEFAULT_DRAIN_S
        active = self.controller.task
        while any(active(t) is not None and not _serving(active(t)) for t in judged):
            next_s = loop.next_time_s()
            if next_s is None or next_s > limit_s:
                break
            loop.run(next_s)
        self.controller.expire()


def _serving(task: Task | None) -> bool:
    return task is not None and task.spec.long_running and task.state is TaskState.RUNNING


def run_ahead(
    fork: ForkState,
    tasks: Sequence[TaskSpec],
    horizon_s: float,
    *,
    load_factor: float = 1.0,
    fail_sites: Sequence[str] = (),
    background: Sequence[Arrival] = (),
    start_s: float | None = None,
    tenant: str = "",
    seed: int = 0,
) -> ForkPrediction:
    """Run ``fork`` ahead (module docstring) and predict the judged tasks' SLA, cost, carbon.

    Args:
        fork: The captured state; not changed.
        tasks: Extra tasks submitted at time 0.
        horizon_s: Simulated seconds during which arrivals come.
        load_factor: Only checked here; the caller scales ``background`` by it.
        fail_sites: Sites whose every node is down from time 0.
        background: ``(seconds after the start, spec, tenant)`` arrivals, in any order.
        start_s: Clock time the run starts at (default: the fork's); residents expected to
            end before it have ended.
        tenant: Tenant of the extra tasks (leased nodes take only their tenant's work).
        seed: Seed of the queue's tick intervals.

    Raises:
        ValueError: a bad horizon or load factor, or an unknown site (named).
    """
    _check(horizon_s, load_factor, fail_sites, fork)
    run = _Run(fork, horizon_s, fork.at_s if start_s is None else start_s, seed)
    run.hold_measured()
    displaced = run.place_residents(fail_sites)
    for task in displaced:
        run.submit(task.id, task.spec, task.tenant)
    run.take_over(fork.waiting)
    extra = [f"{WHAT_IF_PREFIX}{i}" for i in range(len(tasks))]
    for task_id, spec in zip(extra, tasks, strict=True):
        run.submit(task_id, spec, tenant)
    arrivals = sorted((a[0], i) for i, a in enumerate(background) if 0 <= a[0] < horizon_s)
    for n, (at_s, i) in enumerate(arrivals):
        _, spec, owner = background[i]
        run.loop.at(at_s, run._arrive, (f"bg-{n}", spec, owner))
    judged = extra or None
    run.run(extra)
    return _predict(run, judged, horizon_s, len(arrivals), len(displaced))


def _predict(
    run: _Run, judged: list[str] | None, horizon_s: float, background: int, displaced: int
) -> ForkPrediction:
    ids = judged if judged is not None else run.submitted
    met = placed = 0
    cost = carbon_g = 0.0
    per_task: dict[str, str] = {}
    for task_id in ids:
        final = run.watch.final.get(task_id)
        task = final if final is not None else run.controller.task(task_id)
        per_task[task_id] = ""
        if task is None:
            continue
        done = final is not None and final.state is TaskState.COMPLETED
        if not (done or _serving(task)):
            continue
        per_task[task_id] = run.watch.node.get(task_id, "")
        placed += 1
        placement = task.placement
        if placement is None:  # a completed record keeps its placement; be safe all the same
            continue
        cost += placement.estimate.cost
        carbon_g += placement.estimate.carbon_g
        budget_ms = _budget_ms(task.spec)
        if done:
            took_ms = (task.history[-1].at_s - task.submitted_at_s) * 1000.0
            met += budget_ms is None or took_ms + task.spec.fixed_latency_ms <= budget_ms
        else:
            met += 1
    return ForkPrediction(
        sla_met_fraction=met / len(ids) if ids else 1.0,
        placed=placed,
        rejected=len(ids) - placed,
        cost=cost,
        carbon_g=carbon_g,
        per_task=per_task,
        horizon_s=horizon_s,
        background=background,
        displaced=displaced,
        residents=len(run.fork.residents),
    )
