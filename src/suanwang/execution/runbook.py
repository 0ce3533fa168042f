"""The book of runs both live engines keep: which start is current, what it measured.

An engine's start of a task is a ``Run`` with a token; a cancel drops it, and a later start of
the same task (a re-placement) gets a new token, so a late event of an old run is recognised
and dropped. Reports are delivered only for the current run, a start at most once and an end
exactly once.

The check and the report happen under the book's lock, which ``start`` and ``cancel`` take
too: a report is either delivered before a cancel returns or not at all. The lock is
reentrant and may be the caller's own (an engine's ``lock`` argument): the ``Controller`` is
not thread-safe, so a live caller holds one ``threading.RLock`` around every call into the
controller and gives that lock to its engine — then reports and calls take turns, and a
report cannot slip in between a cancel and the restart of a re-placed task. Never close an
engine while holding its lock (its reporter may be waiting for it).

Every end leaves a ``RunRecord``: the placement's compute estimate next to the compute time the
worker measured, the input of ``EfficiencyFeedback``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TypeAlias

from suanwang.control.ports import EngineReports
from suanwang.execution.kinds import WorkOutcome
from suanwang.measure.compute import WorkloadClass
from suanwang.model import Task
from suanwang.scheduling.cycle import device_of, workload_class_of

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One finished run: where, what, the estimate and the measurement.

    Attributes:
        task_id: Task run.
        node_id: Node it was placed on.
        kind: Kind it ran (empty when none could be chosen).
        device: Device its compute time was estimated for (``cpu``, ``gpu``...).
        workload_class: Workload class of that estimate.
        estimated_compute_ms: The placement's compute estimate.
        measured_compute_ms: Compute time measured in the worker; None when it did not run.
        wall_ms: From ``start`` to the end seen by the engine (waiting and transport included).
        ok: Whether it completed.
        reason: Why it failed (empty when ok).
        ran_on: Where it ran (``pid <n>``, or the Ray node id).
        result: The kind's result (None when it failed).
    """

    task_id: str
    node_id: str
    kind: str
    device: str
    workload_class: WorkloadClass
    estimated_compute_ms: float
    measured_compute_ms: float | None
    wall_ms: float
    ok: bool
    reason: str
    ran_on: str
    result: object


RecordHook = Callable[[RunRecord], object]
"""Called with each ``RunRecord`` from an engine's reporter thread."""

ReentrantLock: TypeAlias = AbstractContextManager[object]
"""A reentrant lock (``threading.RLock()``): held while reporting, taken by start and cancel."""


@dataclass(eq=False, slots=True)
class Run:
    """One start of a task.

    Attributes:
        token: Tells this start from earlier and later ones of the same task.
        task: The task as started.
        kind: Kind chosen for it.
        began_s: ``time.perf_counter()`` at ``start``.
        handle: The engine's handle of the work (a future, an object ref), once dispatched.
    """

    token: int
    task: Task
    kind: str
    began_s: float
    handle: object = None


class RunBook:
    """Current runs, report delivery and the bounded history of records (module docstring).

    Args:
        on_record: Hook for every record.
        history: Most records kept.
        lock: The lock reports are delivered under (default: a new ``threading.RLock``).
    """

    def __init__(
        self,
        on_record: RecordHook | None = None,
        history: int = 10_000,
        lock: ReentrantLock | None = None,
    ) -> None:
        self.lock: ReentrantLock = lock if lock is not None else threading.RLock()
        self._runs: dict[str, Run] = {}
        self._tokens = 0
        self._started: set[int] = set()
        self._records: deque[RunRecord] = deque(maxlen=max(history, 0))
        self._on_record = on_record

    @property
    def active(self) -> int:
        """Runs begun and not yet ended or cancelled."""
        with self.lock:
            return len(self._runs)

    def begin(self, task: Task, kind: str) -> Run:
        """A new current run of ``task`` (an older one of the same task is superseded)."""
        with self.lock:
            self._tokens += 1
            run = self._runs[task.id] = Run(self._tokens, task, kind, time.perf_counter())
            return run

    def current(self, task_id: str, token: int) -> Run | None:
        """The run if it is still the current one of its task."""
        with self.lock:
            run = self._runs.get(task_id)
            return run if run is not None and run.token == token else None

    def cancel(self, task_id: str) -> Run | None:
        """Drop the current run of ``task_id``; nothing is reported for it any more."""
        with self.lock:
            run = self._runs.pop(task_id, None)
            if run is not None:
                self._started.discard(run.token)
            return run

    def records(self) -> tuple[RunRecord, ...]:
        """The records kept, oldest first."""
        with self.lock:
            return tuple(self._records)

    def deliver_started(self, reports: EngineReports | None, task_id: str, token: int) -> None:
        """Report that the run began, once, if it is still current."""
        with self.lock:
            if self.current(task_id, token) is None or token in self._started:
                return
            self._started.add(token)
            if reports is not None:
                try:
                    reports.task_started(task_id)
                except Exception:  # a faulty receiver must not stop the reporter thread
                    _log.exception("task_started(%s) raised", task_id)

    def deliver_finished(
        self,
        reports: EngineReports | None,
        task_id: str,
        token: int,
        outcome: WorkOutcome | None,
        failure: str = "",
    ) -> RunRecord | None:
        """End the run (ok when there is an outcome and no failure), record it, report it.

        Returns:
            The record, or None when the run was no longer current (nothing is reported).
        """
        with self.lock:
            run = self.current(task_id, token)
            if run is None:
                return None
            del self._runs[task_id]
            self._started.discard(token)
            record = self._record(run, outcome, failure)
            self._records.append(record)
            if self._on_record is not None:
                try:
                    self._on_record(record)
                except Exception:
                    _log.exception("on_record hook raised for task %s", task_id)
            if reports is not None:
                try:
                    reports.task_finished(task_id, record.ok, record.reason)
                except Exception:
                    _log.exception("task_finished(%s) raised", task_id)
            return record

    @staticmethod
    def _record(run: Run, outcome: WorkOutcome | None, failure: str) -> RunRecord:
        task = run.task
        placement = task.placement
        node = placement.node_id if placement is not None else ""
        ok = outcome is not None and not failure
        measured_ms = None if outcome is None else outcome.compute_s * 1000.0
        if ok:
            reason = f"completed on {node} ({run.kind}, {measured_ms:.1f} ms of compute)"
        else:
            reason = failure or "failed without a reason"
        return RunRecord(
            task_id=task.id,
            node_id=node,
            kind=run.kind,
            device=device_of(task.spec),
            workload_class=workload_class_of(task.spec),
            estimated_compute_ms=placement.estimate.compute_ms if placement is not None else 0.0,
            measured_compute_ms=measured_ms,
            wall_ms=(time.perf_counter() - run.began_s) * 1000.0,
            ok=ok,
            reason=reason,
            ran_on="" if outcome is None else outcome.ran_on,
            result=None if outcome is None else outcome.result,
        )
