"""The live fork: an independent copy of the live control plane, run ahead in the twin.

``fork_live(plane)`` copies, on the writer thread (so that the copy is one consistent moment),
what the live controller holds: the topology, the measured state, the running tasks and the
reservations (``twin.fork.capture``). Those reservations are the only leases the live plane
holds. ``LiveFork.run_ahead`` runs the copy ahead in simulated time with extra tasks, failed
sites and the forecast background load (``twin.forkrun``). Nothing done to a fork reaches the
live controller or the live stores: the capture copies every mutable part, and a run ahead
writes only to objects it made (tested by property in ``tests/service``).

The background load is the demand forecast (``twin.forecast``) per task type and ingress,
fitted on the live plane's arrival history: the submissions the task store holds from the
last ``HISTORY_S`` before the fork (at most ``HISTORY_TASKS``, the newest), read once per fork
when a run first asks for it. Each key's arrivals get the spec of its latest submission.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from suanwang.control.stores import MAX_PAGE_SIZE, TaskStore
from suanwang.model import TaskSpec
from suanwang.twin.forecast import WEEK_H, Arrival, DemandForecaster, Key
from suanwang.twin.fork import ForkState, capture
from suanwang.twin.forkrun import ForkPrediction, run_ahead

if TYPE_CHECKING:
    from suanwang.service.live import LiveNetwork
    from suanwang.service.plane import ControlPlane

__all__ = ["ForkPrediction", "LiveFork", "fork_live", "fork_network"]

HISTORY_S = 8 * WEEK_H * 3600.0
"""How far back arrivals are read for the forecaster: eight weeks."""
HISTORY_TASKS = 200_000
"""Most submissions read for the forecaster (the newest)."""
CAPTURE_TIMEOUT_S = 60.0
"""Longest a fork waits for the writer to take the copy."""


def arrival_history(
    tasks: TaskStore, before_s: float, limit: int = HISTORY_TASKS
) -> tuple[dict[Key, list[float]], dict[Key, TaskSpec], dict[Key, str]]:
    """Submission times per (task type, ingress) in the ``HISTORY_S`` before ``before_s``.

    Returns the times, and the latest submission's spec and tenant, of each key. Reads pages
    newest first and stops at the first submission older than the window or after ``limit``
    tasks.
    """
    times: dict[Key, list[float]] = {}
    templates: dict[Key, TaskSpec] = {}
    tenants: dict[Key, str] = {}
    cursor: str | None = None
    read = 0
    while read < limit:
        page = tasks.list(limit=min(MAX_PAGE_SIZE, limit - read), cursor=cursor, newest_first=True)
        for task in page.tasks:
            at_s = task.submitted_at_s
            if at_s < before_s - HISTORY_S:
                return times, templates, tenants
            if at_s >= before_s:
                continue
            key = (task.spec.task_type or "", task.spec.ingress_site or "")
            times.setdefault(key, []).append(at_s)
            if key not in templates:  # newest first: the first seen is the latest
                templates[key], tenants[key] = task.spec, task.tenant
        read += len(page.tasks)
        cursor = page.next_cursor
        if cursor is None or not page.tasks:
            break
    return times, templates, tenants


class LiveFork:
    """A copy of the live plane at one moment (module docstring).

    Args:
        state: The captured state.
        tasks: The live task store, read for the arrival history (never written).
        start_s: Clock time the runs ahead start at (at or after the capture).
    """

    def __init__(self, state: ForkState, tasks: TaskStore | None, start_s: float) -> None:
        self.state = state
        self.start_s = start_s
        self._tasks = tasks
        self._forecaster: DemandForecaster | None = None

    def forecaster(self) -> DemandForecaster | None:
        """The demand forecaster fitted on the history before the fork (None: no store)."""
        if self._forecaster is None and self._tasks is not None:
            times, templates, tenants = arrival_history(self._tasks, self.state.at_s)
            history = {key: np.asarray(t) for key, t in times.items()}
            self._forecaster = DemandForecaster().fit(
                history, self.state.at_s, templates, tenants=tenants
            )
        return self._forecaster

    def run_ahead(
        self,
        tasks: Sequence[TaskSpec],
        horizon_s: float,
        *,
        load_factor: float = 1.0,
        fail_sites: Sequence[str] = (),
        background: bool = True,
        seed: int = 0,
        tenant: str = "",
    ) -> ForkPrediction:
        """Run the fork ahead with ``tasks`` (ids ``what-if-<i>``) for ``horizon_s`` seconds.

        Args:
            tasks: Extra tasks, submitted at the start.
            horizon_s: Seconds of arrivals simulated.
            load_factor: Multiplier of the forecast background load.
            fail_sites: Sites whose nodes are all down from the start.
            background: Add the forecast background load (where there is a history).
            seed: Seed of the background's Poisson draw and of the queue's tick intervals.
            tenant: Tenant of the extra tasks (nodes leased to others do not take them).

        Raises:
            ValueError: a bad horizon or load factor, or an unknown site (named).
        """
        if not (math.isfinite(load_factor) and load_factor >= 0):
            raise ValueError(f"load_factor must be finite and not negative, got {load_factor}")
        arrivals: list[Arrival] = []
        forecaster = self.forecaster() if background and math.isfinite(horizon_s) else None
        if forecaster is not None and horizon_s > 0:
            arrivals = forecaster.arrivals(
                self.start_s, horizon_s, load_factor=load_factor, seed=seed
            )
        return run_ahead(
            self.state,
            tasks,
            horizon_s,
            load_factor=load_factor,
            fail_sites=fail_sites,
            background=arrivals,
            start_s=self.start_s,
            tenant=tenant,
            seed=seed,
        )


def fork_network(live: LiveNetwork, at_s: float, tasks: TaskStore | None = None) -> LiveFork:
    """Fork ``live`` now, at clock time ``at_s``; call on the writer thread (a writer command)."""
    return LiveFork(capture(live.controller, at_s), tasks, at_s)


def fork_live(plane: ControlPlane, *, at_s: float | None = None) -> LiveFork:
    """An independent copy of the live plane at this moment.

    It holds the topology, measured state, running tasks, reservations and leases. Nothing
    done to the fork reaches the live stores.

    The copy is taken on the writer thread (do not call from a writer command: use
    ``fork_network`` there). ``at_s``: clock time the runs ahead start at (default now); a
    later time lets the running tasks expected to end before it end first.

    Raises:
        ValueError: ``at_s`` lies before now.
        concurrent.futures.TimeoutError: the writer did not take the copy in time.
    """
    now_s = plane.clock.now_s()
    if at_s is not None and not (math.isfinite(at_s) and at_s >= now_s - 1.0):
        raise ValueError(f"at_s must not lie before now ({now_s:.0f}), got {at_s}")
    state = plane.call(lambda _: capture(plane.live.controller, now_s)).result(CAPTURE_TIMEOUT_S)
    return LiveFork(state, plane.tasks, now_s if at_s is None else max(at_s, now_s))


def next_hour_s(now_s: float, hour: float) -> float:
    """The next clock time, from ``now_s`` on, at which the UTC time of day is ``hour`` hours.

    Raises:
        ValueError: ``hour`` is not in [0, 24).
    """
    if not (math.isfinite(hour) and 0 <= hour < 24):
        raise ValueError(f"hour must lie in [0, 24), got {hour}")
    day_s = 86_400.0
    at_s = math.floor(now_s / day_s) * day_s + hour * 3600.0
    return at_s if at_s >= now_s else at_s + day_s
