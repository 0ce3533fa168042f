"""A fork of a live controller: an independent copy of its state at one moment.

``capture`` copies what a run ahead needs from a live ``Controller`` (call it where the
controller is owned, the live writer's thread) into a ``ForkState``:

* the topology and its arrays, shared: both are immutable;
* the ledger, copied (arrays and per-run records; ``Reservation`` records are frozen, so the
  copy shares them): the running tasks' holds, and every other hold the ledger has;
* the marks (nodes and links down, draining and agentless nodes are down marks too), copied;
* the leases (which tenant leases each node) and the service catalogue (which nodes host each
  service's instances), copied;
* the measured state: the routed link latencies (read-only arrays), the hours, the efficiency
  table, and per node the CPU load the agents report beyond what the ledger holds (other
  users' processes, a task over its share): ``unledgered_cores``; nodes the snapshot excludes
  (silent agents) are marked down;
* the active tasks: those holding a reservation, with the time each is expected to end (its
  placement's network and compute estimate after it was placed; never, for a long-running
  service), and those waiting (queued or held for a window), as frozen ``Task`` records.

Nothing in a ``ForkState`` refers to a mutable live object: a run ahead copies the ledger and
the marks again before it changes them (``twin.forkrun``), so one fork can be run many times.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from suanwang.control.controller import Controller, ControllerConfig
from suanwang.measure import EfficiencyTable
from suanwang.model import Task, TaskState, Topology
from suanwang.model.topology import IntArray
from suanwang.routing import RoutingGraph
from suanwang.scheduling import Profile
from suanwang.scheduling.catalogue import ServiceCatalogue
from suanwang.scheduling.reservations import Reservations

MEASURED_MIN_CORES = 0.1
"""Measured load beyond the ledger below this is noise (the feed's own slack), not held."""


@dataclass(frozen=True, slots=True)
class Resident:
    """An active task that holds a reservation when the fork is taken.

    Attributes:
        run_id: The id its reservation is held under (the task id, or a replacement run's).
        task: The task record at the fork.
        ends_at_s: Clock time its run is expected to end (``inf``: a long-running service).
    """

    run_id: str
    task: Task
    ends_at_s: float


@dataclass(frozen=True, slots=True)
class ForkState:
    """The captured state of a live controller (see the module docstring).

    Attributes:
        at_s: Clock time of the capture.
        topology: The live topology (immutable).
        profile: The scheduling profile the live scheduler runs.
        config: The live controller's tunables.
        ledger: A private copy of the live ledger; never changed (runs copy it again).
        node_down: Per node, down at the fork (read-only).
        link_down: Per link, down at the fork (read-only).
        hour_of_day: UTC hour at the fork.
        node_hour: Each node's local hour at the fork, or None.
        efficiency: The efficiency table estimates use.
        latency_ms: Routed one-way link latencies (measured), or None for the configured ones.
        graph: The routing graph over ``latency_ms`` (immutable; its caches are thread-safe).
        unledgered_cores: Per node, measured busy cores beyond the ledger's (read-only).
        leases: Node id -> tenant of every node under an active lease (a copy).
        catalogue: The live service catalogue (services copied; the records are frozen).
        residents: Active tasks holding reservations.
        waiting: Active tasks holding nothing (queued, or held for a window).
    """

    at_s: float
    topology: Topology
    profile: Profile
    config: ControllerConfig
    ledger: Reservations
    node_down: npt.NDArray[np.bool_]
    link_down: npt.NDArray[np.bool_]
    hour_of_day: int
    node_hour: IntArray | None
    efficiency: EfficiencyTable
    latency_ms: npt.NDArray[np.float64] | None
    graph: RoutingGraph
    unledgered_cores: npt.NDArray[np.float64]
    leases: Mapping[str, str]
    catalogue: ServiceCatalogue | None
    residents: tuple[Resident, ...]
    waiting: tuple[Task, ...]


_A = TypeVar("_A", bound=npt.NDArray[Any])


def _readonly(array: _A) -> _A:
    array.flags.writeable = False
    return array


def _ends_at_s(task: Task) -> float:
    """When a placed task's run is expected to end: placed at + network + compute estimate."""
    placement = task.placement
    if placement is None or task.spec.long_running:
        return math.inf
    placed_s = task.submitted_at_s
    for step in reversed(task.history):
        if step.to_state is TaskState.SCHEDULED:
            placed_s = step.at_s
            break
    estimate = placement.estimate
    return placed_s + (estimate.network_ms + estimate.compute_ms) / 1000.0


def capture(controller: Controller, at_s: float) -> ForkState:
    """Copy ``controller``'s state at clock time ``at_s`` (call where it is owned)."""
    state = controller.state
    ledger = state.reservations.copy_without(())
    node_down = state.node_down.copy()
    unledgered = np.zeros(len(node_down))
    snapshot = state.snapshot
    if snapshot is not None:
        node_down |= snapshot.excluded
        reported = np.isfinite(snapshot.age_s) & ~snapshot.excluded
        busy = snapshot.cpu_capacity_cores - snapshot.cpu_free_cores
        beyond = np.where(reported, busy - ledger.cpu_cores, 0.0)
        unledgered = np.where(beyond > MEASURED_MIN_CORES, beyond, 0.0)
    residents: list[Resident] = []
    waiting: list[Task] = []
    for task_id in controller.active_ids():
        task = controller.task(task_id)
        if task is None:
            continue
        run_id = task.placement.task_id if task.placement is not None else task_id
        if task.state in (TaskState.SCHEDULED, TaskState.RUNNING) and run_id in ledger:
            residents.append(Resident(run_id, task, _ends_at_s(task)))
        else:
            waiting.append(task)
    latency = state.link_latency_ms()
    catalogue = state.catalogue
    return ForkState(
        at_s=at_s,
        topology=state.topology,
        profile=controller.scheduler.profile,
        config=controller.config,
        ledger=ledger,
        node_down=_readonly(node_down),
        link_down=_readonly(state.link_down.copy()),
        hour_of_day=state.hour_of_day,
        node_hour=None if state.node_hour is None else _readonly(state.node_hour.copy()),
        efficiency=state.efficiency,
        latency_ms=None if latency is state.arrays.link_latency_ms else latency,
        graph=state.routing_graph(),
        unledgered_cores=_readonly(unledgered),
        leases=state.leases.holders(),
        catalogue=None
        if catalogue is None
        else ServiceCatalogue(dict(catalogue.services), catalogue.node_ids),
        residents=tuple(residents),
        waiting=tuple(waiting),
    )
