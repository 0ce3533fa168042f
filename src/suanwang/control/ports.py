"""Ports: the Protocols the control plane needs from the outside world, with their contracts.

Every port has a real adapter and a fake next to it, so the controller runs unchanged live, in
tests and in the digital twin (DESIGN.md §3).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from suanwang.model import Task


@runtime_checkable
class Clock(Protocol):
    """Where the control plane reads the time.

    Contract:
        * ``now_s()`` returns seconds since the Unix epoch as a float — the same scale as the
          timestamps agents sign into their reports, so ages and timestamp windows compare
          like with like. A simulated clock may start anywhere but must keep that meaning
          within one run.
        * It never blocks and is safe to call from any thread.
        * Successive calls do not go backwards in a simulated clock; a wall clock may step back
          a little (NTP), so users clamp negative ages to zero rather than fail.
    """

    def now_s(self) -> float:
        """The current time in seconds."""
        ...


class SystemClock:
    """The machine's wall clock (``time.time()``)."""

    def now_s(self) -> float:
        """The current wall-clock time in seconds since the epoch."""
        return time.time()


class ManualClock:
    """A clock that moves only when told to: for tests and the digital twin.

    Args:
        start_s: Initial time.
    """

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = start_s
        self._lock = threading.Lock()

    def now_s(self) -> float:
        """The time last set."""
        with self._lock:
            return self._now_s

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0) and return the new time.

        Raises:
            ValueError: ``seconds`` is negative (this clock never goes back).
        """
        if seconds < 0:
            raise ValueError(f"a manual clock only moves forward, got {seconds}")
        with self._lock:
            self._now_s += seconds
            return self._now_s


@runtime_checkable
class EngineReports(Protocol):
    """What an execution engine tells the control plane about the tasks it runs.

    The controller implements it; an engine receives it through ``ExecutionEngine.attach``.
    """

    def task_started(self, task_id: str) -> None:
        """The task's work has begun on its node (data in transit counts as begun)."""
        ...

    def task_finished(self, task_id: str, ok: bool, reason: str) -> None:
        """The task's run ended: ``ok`` with its result delivered, or failed for ``reason``."""
        ...


@runtime_checkable
class ExecutionEngine(Protocol):
    """Runs placed tasks where the scheduler put them: simulated, local processes, Ray, agents.

    Contract:
        * ``attach(reports)`` is called once, before any ``start``.
        * ``start(task)`` takes a task in state SCHEDULED with its placement and returns
          promptly; the engine runs it on ``task.placement.node_id`` and nowhere else.
        * For each ``start`` the engine calls ``reports.task_started`` at most once and then
          ``reports.task_finished`` exactly once — unless ``cancel`` came first, after which it
          reports nothing more for that start. Reports may come from another thread (live
          engines) or from the simulation loop (the twin); they never come from inside
          ``start`` or ``cancel`` themselves.
        * ``cancel(task_id)`` stops the task if it runs; it is idempotent and ignores unknown
          ids. A task may be started again (re-placed) after a cancel.
        * ``inventory()`` names the nodes this engine can run work on.
    """

    def attach(self, reports: EngineReports) -> None:
        """Where to report starts and ends."""
        ...

    def start(self, task: Task) -> None:
        """Begin running a scheduled task on its placement's node."""
        ...

    def cancel(self, task_id: str) -> None:
        """Stop a task; no report for it follows."""
        ...

    def inventory(self) -> tuple[str, ...]:
        """Ids of the nodes work can run on."""
        ...


@runtime_checkable
class PullDispatch(ExecutionEngine, Protocol):
    """An execution engine whose workers pull their tasks: the node agents' side of the plane.

    Contract (on top of ``ExecutionEngine``'s):
        * ``start`` only *stages* a task; ``publish(now_s)`` makes every staged task visible to
          its node's puller and returns how many. The control plane publishes after it has
          committed the placements, so no node runs a task whose placement a crash could undo.
        * ``pull(node_id, limit)`` hands out up to ``limit`` published tasks of that node,
          oldest first, each once; a cancelled task is never handed out.
        * ``node_of(task_id)`` is the node a held task was started on (None once it ended, was
          cancelled, or was never started here).
        * ``report_started(task_id, node_id)`` / ``report_finished(task_id, node_id, ok,
          reason)`` come from the puller and are forwarded to the attached ``EngineReports``
          only when ``node_id`` holds the task (a start at most once, an end once); they
          return whether the report was accepted. An end without a start is accepted.
        * ``overdue(now_s, timeout_s)`` lists, oldest first, ``(task id, node id)`` of the tasks
          published more than ``timeout_s`` before ``now_s`` and still not pulled;
          ``expire(task_id, reason)`` ends such a task as failed for ``reason`` (reported like
          an end) and returns False when it was pulled meanwhile.
        * ``withdrawn(node_id, run_ids)``: of the runs a puller says it holds, those cancelled
          or moved off its node (it must kill them); ``confirm_killed(node_id, run_id)`` records
          that it did (the seconds since the withdrawal, None for a run not withdrawn there).
        * Every method is thread-safe: pullers' requests and the writer call concurrently.
    """

    def publish(self, now_s: float | None = None) -> int:
        """Make every staged task visible to its node; returns how many."""
        ...

    def pull(self, node_id: str, limit: int) -> list[Task]:
        """Up to ``limit`` published tasks of ``node_id``, oldest first."""
        ...

    def node_of(self, task_id: str) -> str | None:
        """Node a held task was started on, or None."""
        ...

    def report_started(self, task_id: str, node_id: str) -> bool:
        """The puller of ``node_id`` began the task; False if that node holds no such task."""
        ...

    def report_finished(self, task_id: str, node_id: str, ok: bool, reason: str) -> bool:
        """The puller of ``node_id`` ended the task; False if that node holds no such task."""
        ...

    def overdue(self, now_s: float, timeout_s: float) -> list[tuple[str, str]]:
        """Published tasks not pulled within ``timeout_s`` of ``now_s``, oldest first."""
        ...

    def expire(self, task_id: str, reason: str) -> bool:
        """End a published, not yet pulled task as failed; False if it was pulled."""
        ...

    def withdrawn(self, node_id: str, run_ids: Iterable[str]) -> list[str]:
        """Of the runs ``node_id``'s puller says it holds, those not held there any more."""
        ...

    def confirm_killed(self, node_id: str, run_id: str) -> float | None:
        """Seconds since the withdrawal of a run ``node_id`` killed; None if not withdrawn."""
        ...


DispatchFactory = Callable[[Iterable[str]], PullDispatch]
"""Makes the pull dispatch of one live network from its node ids (the composition root's choice)."""


class ControllerListener(Protocol):
    """Hears every transition the controller makes (a store, metrics, a log).

    Contract: called synchronously after each transition with the new task record and a short
    stable ``cause`` key for counting (``submitted``, ``resumed``, ``placed``, ``started``,
    ``completed``, ``failed``, ``queued``, ``cancelled``, ``replaced``, ``moving``, ``moved``,
    ``move-failed``, ``expired:<plugin>`` or ``rejected:<plugin>``). It must not call back into
    the controller, except to read (``predicted_wait_s``, ``task``).
    """

    def task_changed(self, task: Task, cause: str) -> None:
        """Record ``task`` as it now is."""
        ...
