"""The twin's execution engine: placed tasks run in simulated time.

``SimEngine`` implements the ``ExecutionEngine`` port. A started task first moves its input over
its path, computes, then returns its output:

* propagation: the one-way latency of the path each way;
* transfer: ``(data_in + data_out)`` at the task's rate on its path, where on each link the task
  gets its reserved bandwidth plus an equal share of the link's unreserved bandwidth among the
  flows moving input over it when it starts (work-conserving; a run counts as a flow on its
  links until its input has arrived — while it computes it moves nothing; the share is fixed
  at start — flows that come or go later do not change it, a documented simplification);
* compute: the measurement model's time for the node (``Estimate.compute_ms``), or an
  exponential draw with that mean (``service_time="exponential"``, for queueing studies).

The task holds its reservation for the whole run. Its start is reported when its input has
arrived, its end when its output has. A task's ``fixed_latency_ms`` (sensor, display, terminal)
holds neither the node nor a link, so it is not simulated here: ``Accounting`` adds it to the
measured end-to-end time, as the scheduler adds it to its estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from suanwang.control.ports import EngineReports
from suanwang.model import Task
from suanwang.scheduling import ClusterState
from suanwang.scheduling.cycle import MB_BITS
from suanwang.twin.accounting import Accounting
from suanwang.twin.loop import EventLoop

ServiceTime = Literal["model", "exponential"]

_MIN_RATE_MBPS = 1e-3
"""Floor of a best-effort flow's rate on a fully reserved link (it crawls, it does not stop)."""


@dataclass(slots=True)
class _Run:
    token: int
    task: Task
    node: int
    links: tuple[int, ...]
    started_s: float
    network_ms: float
    compute_ms: float
    flowing: bool = True


class SimEngine:
    """Runs tasks in simulated time on the twin's event loop.

    Args:
        loop: The run's event loop (and clock).
        state: The scheduler's state (reservations say which node and links a task holds).
        accounting: Where finished and cut-short runs are measured.
        service_time: ``model`` (deterministic) or ``exponential`` compute times.
        rng: Random draws for exponential service times.
    """

    def __init__(
        self,
        loop: EventLoop,
        state: ClusterState,
        accounting: Accounting,
        *,
        service_time: ServiceTime = "model",
        rng: np.random.Generator | None = None,
    ) -> None:
        self._loop = loop
        self._state = state
        self._accounting = accounting
        self._exponential = service_time == "exponential"
        self._rng = rng or np.random.default_rng(0)
        arrays = state.arrays
        self._link_latency_ms: list[float] = arrays.link_latency_ms.tolist()
        self._link_capacity_mbps: list[float] = arrays.link_bandwidth_mbps.tolist()
        self._flows = [0] * len(arrays.link_ids)
        self._runs: dict[str, _Run] = {}
        self._tokens = 0
        self._reports: EngineReports | None = None

    def attach(self, reports: EngineReports) -> None:
        """Where starts and ends are reported (the controller)."""
        self._reports = reports

    def inventory(self) -> tuple[str, ...]:
        """Every node of the topology."""
        return self._state.arrays.node_ids

    @property
    def running(self) -> int:
        """Tasks started and not yet ended."""
        return len(self._runs)

    def start(self, task: Task) -> None:
        """Begin a scheduled task: schedule its start and end events."""
        held = self._state.reservations.held(task.id)
        if held is None or task.placement is None:
            raise ValueError(f"task {task.id!r} holds no reservation: it was not placed")
        spec, links = task.spec, held.links
        one_way_ms = sum(self._link_latency_ms[link] for link in links)
        data_in_mbit = spec.data_in_mb * MB_BITS / 1e6
        data_mbit = data_in_mbit + spec.data_out_mb * MB_BITS / 1e6
        rate_mbps = float("inf")
        if links:
            link_mbps = self._state.reservations.link_mbps
            for link in links:
                self._flows[link] += 1
                spare = max(self._link_capacity_mbps[link] - float(link_mbps[link]), 0.0)
                rate_mbps = min(rate_mbps, held.bandwidth_mbps + spare / self._flows[link])
            rate_mbps = max(rate_mbps, _MIN_RATE_MBPS)
        transfer_ms = data_mbit / rate_mbps * 1000.0 if data_mbit > 0 else 0.0
        compute_ms = task.placement.estimate.compute_ms
        if self._exponential:
            compute_ms *= float(self._rng.exponential())
        self._tokens += 1
        now = self._loop.now_s()
        run = _Run(
            self._tokens, task, held.node, links, now, 2 * one_way_ms + transfer_ms, compute_ms
        )
        self._runs[task.id] = run
        in_ms = one_way_ms + (data_in_mbit / rate_mbps * 1000.0 if data_in_mbit > 0 else 0.0)
        self._loop.at(now + in_ms / 1000.0, self._started, (task.id, run.token))
        self._loop.at(
            now + (run.network_ms + compute_ms) / 1000.0, self._finished, (task.id, run.token)
        )

    def cancel(self, task_id: str) -> None:
        """Stop a task; what it used so far is still accounted (energy, cost)."""
        run = self._runs.pop(task_id, None)
        if run is not None:
            self._end_flows(run)
            self._accounting.run_cut(run.task, run.node, run.started_s, self._loop.now_s())

    def _started(self, key: tuple[str, int]) -> None:
        run = self._runs.get(key[0])
        if run is None or run.token != key[1]:
            return
        self._end_flows(run)  # its input is in: it no longer shares its links
        if self._reports is not None:
            self._reports.task_started(key[0])

    def _finished(self, key: tuple[str, int]) -> None:
        task_id, token = key
        run = self._runs.get(task_id)
        if run is None or run.token != token:
            return  # cancelled, or re-placed and started again since
        del self._runs[task_id]
        self._end_flows(run)
        self._accounting.run_completed(
            run.task,
            run.node,
            links=run.links,
            started_s=run.started_s,
            ended_s=self._loop.now_s(),
            network_ms=run.network_ms,
            compute_ms=run.compute_ms,
        )
        if self._reports is not None:
            self._reports.task_finished(
                task_id, True, f"completed on {run.task.placement and run.task.placement.node_id}"
            )

    def _end_flows(self, run: _Run) -> None:
        if run.flowing:
            run.flowing = False
            for link in run.links:
                self._flows[link] -= 1
