"""Batched entry points of the ``Controller``: a round of submissions, a batch of ends.

``submit_batch`` decides a round of submissions in turn (one call, so one hold of the caller's
lock) and gives the engine the placed tasks together at the end: ``start_batch`` when the
engine has one (``BatchEngine``; the Ray engine submits them back to back), else ``start`` for
each, in order. Deciding the whole round before starting any is safe: no report can reach the
controller in between (the caller holds its lock around the call, and an engine never reports
from inside ``start``), and every decision already holds its reservation.

``tasks_finished`` takes a batch of ends as ``task_finished`` takes one, except that the queue
is retried once, after the last of them, rather than after each (a release frees capacity the
next end's retry would only look at again). The Ray engine's reporting thread calls it with
the ends one ``ray.wait`` found (``BatchReports``).

These methods are the controller's (``Controller`` mixes them in); they live here to keep each
module small.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from suanwang.control.ports import EngineReports, ExecutionEngine
from suanwang.control.waiting import WaitQueue
from suanwang.model import Task, TaskSpec

Submission = tuple[str, TaskSpec, str]
"""(task id, spec, tenant): one submission of a round, as ``Controller.submit`` takes it."""
End = tuple[str, bool, str]
"""(run id, ok, reason): one end, as ``EngineReports.task_finished`` takes it."""


@runtime_checkable
class BatchEngine(ExecutionEngine, Protocol):
    """An engine that also starts a round of placed tasks at once."""

    def start_batch(self, tasks: Sequence[Task]) -> None:
        """Start each task as ``start`` would, in order (no report from inside this call)."""
        ...


@runtime_checkable
class BatchReports(EngineReports, Protocol):
    """A receiver of reports that also takes a batch of ends at once."""

    def tasks_finished(self, ends: Sequence[End]) -> None:
        """Each end in turn, as ``task_finished`` would take it."""
        ...


class BatchMixin:
    """The batched entry points of a ``Controller`` (which provides what is declared)."""

    _engine: ExecutionEngine
    _tasks: dict[str, Task]
    _queue: WaitQueue
    _deferred: list[Task] | None = None  # a round's placed tasks, while one is decided
    _retry_later: bool | None = None  # during a batch of ends: whether the queue is owed a try

    @abstractmethod
    def submit(self, task_id: str, spec: TaskSpec, tenant: str = "") -> Task:
        """The controller's one submission."""

    @abstractmethod
    def task_finished(self, task_id: str, ok: bool, reason: str) -> None:
        """The controller's one end."""

    @abstractmethod
    def _retry_queue(self, node: int | None) -> None: ...

    def submit_batch(self, submissions: Sequence[Submission]) -> list[Task]:
        """Accept a round of tasks: place, queue or reject each as ``submit`` does, in order.

        The placed ones are started together once all are decided (module docstring).

        Returns:
            Each task as it is after its decision, in the order given.

        Raises:
            ValueError: A task id is already active or given twice; nothing is accepted then.
        """
        seen: set[str] = set()
        for task_id, _, _ in submissions:
            if task_id in self._tasks or task_id in seen:
                where = "already active" if task_id in self._tasks else "given twice in the round"
                raise ValueError(f"task {task_id!r} is {where}")
            seen.add(task_id)
        self._deferred = []
        try:
            return [self.submit(task_id, spec, tenant) for task_id, spec, tenant in submissions]
        finally:
            placed, self._deferred = self._deferred, None
            if isinstance(self._engine, BatchEngine):
                self._engine.start_batch(placed)
            else:
                for task in placed:
                    self._engine.start(task)

    def tasks_finished(self, ends: Sequence[End]) -> None:
        """Each end as ``task_finished`` takes it; the queue is retried once, after them all."""
        self._retry_later = False
        try:
            for run_id, ok, reason in ends:
                self.task_finished(run_id, ok, reason)
        finally:
            owed, self._retry_later = self._retry_later, None
            if owed and self._queue:
                self._retry_queue(None)

    def _dispatch(self, task: Task) -> None:
        """Start a placed task now, or with its round when one is being decided."""
        if self._deferred is not None:
            self._deferred.append(task)
        else:
            self._engine.start(task)

    def _capacity_back(self, node: int | None) -> None:
        """A run released what it held (on ``node``): retry the queue now, or after the batch."""
        if self._retry_later is not None:
            self._retry_later = True
        elif self._queue:
            self._retry_queue(node)
