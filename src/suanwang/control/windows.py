"""Windowed mode, as a part of the ``Controller``: arrivals held briefly and placed together.

With ``ControllerConfig.window_s`` above 0, an arrival that can afford it joins the open window
instead of being placed at once; when ``window_due_s`` comes the driver (the live writer's tick,
the twin's event loop) calls ``place_window``, and the min-cost-flow planner places the window's
arrivals together with the scheduler's own plugins (so scarcity learns from both). What the
flow leaves goes through the online path one by one. With ``ControllerConfig.window_forecast``
each window is planned together with ``scheduling.batch.windowed.FORECAST_COPIES`` copies of the
previous window's hot arrivals (a window after none with hot arrivals, the first for instance,
takes its own), the forecast of the tight-latency work still to come, as ``place_windowed``
forecasts it (``scheduling.batch.forecast_of``), whose reservations are released once the
window's tasks are placed: a flexible task then does not take capacity
that the hot work can only use (an admission policy, measured on the gap benchmark). These
methods are the controller's (``Controller`` mixes them in); they live here to keep each module
small.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

from suanwang.model import Placement, Task, TaskClass, TaskSpec
from suanwang.scheduling import ClusterState, Request, Scheduler
from suanwang.scheduling.batch import forecast_of
from suanwang.scheduling.batch.flow import FlowOptions, place_batch
from suanwang.scheduling.batch.windowed import FORECAST_COPIES

if TYPE_CHECKING:
    from suanwang.control.config import ControllerConfig
    from suanwang.control.ports import Clock

WINDOW_SHARE = 10.0
"""A task waits for the window only if its patience is at least this many windows."""


class WindowMixin:
    """The window of a ``Controller`` (which provides the attributes and methods declared)."""

    scheduler: Scheduler
    state: ClusterState
    config: ControllerConfig
    _clock: Clock
    _tasks: dict[str, Task]

    @abstractmethod
    def _patience_s(self, spec: TaskSpec) -> float: ...

    @abstractmethod
    def _place(self, task: Task, *, queued: bool) -> Task: ...

    @abstractmethod
    def _start(self, task: Task, placement: Placement, waited_ms: float) -> Task: ...

    def _open_window(self) -> None:
        self._window: dict[str, None] = {}  # tasks held for the open window, in arrival order
        self._window_due_s: float | None = None
        self._window_options = FlowOptions(repair=False)
        self._window_ahead: list[Request] = []  # the previous window's hot arrivals

    def _join_window(self, task: Task) -> None:
        """Hold ``task`` for the window, opening one (due a window from now) if none is."""
        if not self._window:
            self._window_due_s = task.submitted_at_s + self.config.window_s
        self._window[task.id] = None

    def _leave_window(self, task_id: str) -> None:
        """Take ``task_id`` out of the window if it is held there."""
        self._window.pop(task_id, None)

    def _windowed(self, spec: TaskSpec) -> bool:
        """Whether ``spec`` waits for the window: it is on, and the task can afford it.

        Sessions keep their instance (the online scheduler's affinity), and a task whose
        patience (latency budget, else deadline) is under ``WINDOW_SHARE`` of the window
        would spend too much of it waiting: both are placed at once.
        """
        window_s = self.config.window_s
        if window_s <= 0 or spec.affinity_key is not None:
            return False
        return self._patience_s(spec) >= window_s * WINDOW_SHARE

    @property
    def window_due_s(self) -> float | None:
        """When the open window of arrivals is due to be placed (None: no window is open)."""
        return self._window_due_s if self._window else None

    def place_window(self) -> int:
        """Place the arrivals held in the window together; returns how many were placed.

        The min-cost-flow planner (``scheduling.batch.place_batch``, with this controller's
        profile and state) places what it can, each task scheduled with the time it waited
        in the window; what it leaves goes through the online path one by one (placed,
        queued or refused as any arrival).
        """
        ids = [task_id for task_id in self._window if task_id in self._tasks]
        self._window.clear()
        self._window_due_s = None
        if not ids:
            self._window_ahead = []
            return 0
        now_s = self._clock.now_s()
        tasks = [self._tasks[task_id] for task_id in ids]
        requests = [
            Request(t.id, t.spec, t.tenant, waited_ms=max(now_s - t.submitted_at_s, 0.0) * 1e3)
            for t in tasks
        ]
        ahead = self._window_ahead or [r for r in requests if r.spec.task_class is TaskClass.HOT]
        ghosts = (
            forecast_of(ahead, requests, self.state, copies=FORECAST_COPIES)
            if self.config.window_forecast
            else []
        )
        plan = place_batch(
            self.scheduler.profile,
            self.state,
            requests + ghosts,
            options=self._window_options,
            plugins=self.scheduler.plugins,  # what scarcity learned online carries over
        )
        placed = 0
        try:
            for task, request, placement in zip(
                tasks, requests, plan.placements[: len(requests)], strict=True
            ):
                if placement is None:
                    # Online, with the forecast still held: it is not given what hot work needs.
                    self._place(task, queued=False)
                    continue
                self._start(task, placement, request.waited_ms)
                placed += 1
        finally:
            for ghost in ghosts:
                self.state.reservations.release(ghost.task_id)
        self._window_ahead = [r for r in requests if r.spec.task_class is TaskClass.HOT]
        return placed
