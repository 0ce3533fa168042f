"""The single writer: one thread owns the controller and commits its changes in groups.

Every request that changes state becomes a ``Command`` on a queue. The worker takes all the
commands that are waiting (up to a batch limit), looks up their idempotency keys in one query,
runs them one after another against the controller (which is not thread-safe, and here needs no
lock), and then writes every task the batch created or moved, with the batch's audit entries,
in ONE transaction (``TaskJournal.write``: one fsync). Only after that commit does it answer the
batch's callers and make new placements visible to agents. While one batch commits, the next
one gathers on the queue: under load a commit answers hundreds of requests (group commit).

If the commit fails, the tasks the batch created are cancelled in the controller (they were
never acknowledged), the batch's callers get the error, and the updates of older tasks stay
pending for the next commit when the failure is transient.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter

from suanwang.control.controller import Controller
from suanwang.control.stores import AuditEvent, StoreUnavailableError, TaskJournal
from suanwang.model import Task, TaskState
from suanwang.service.metrics import PlaneMetrics

log = logging.getLogger(__name__)


class ShuttingDownError(StoreUnavailableError):
    """The control plane is stopping and takes no more requests."""


class Recorder:
    """The controller's listener: keeps what changed since the last commit.

    Attributes:
        dirty: Latest record of every task changed since the last commit.
        persisted: Every active task as last committed (what its next update is checked
            against); final tasks leave it once committed.
        new: Ids of tasks created since the last commit, with their idempotency keys.
        on_commit: Called with each task just committed and the steps of the record it
            replaced (0 for a new task): what its new steps ended is metered from there.
    """

    def __init__(self, metrics: PlaneMetrics) -> None:
        self.dirty: dict[str, Task] = {}
        self.persisted: dict[str, Task] = {}
        self.new: dict[str, str | None] = {}
        self._metrics = metrics
        self._decisions = metrics.decisions
        self._by_cause: dict[str, Counter] = {}  # labelled children, looked up once per cause
        self.on_commit: Callable[[Task, int], None] | None = None

    def task_changed(self, task: Task, cause: str) -> None:
        """See ``ControllerListener``."""
        self.dirty[task.id] = task
        counter = self._by_cause.get(cause)
        if counter is None:
            counter = self._by_cause[cause] = self._decisions.labels(cause)
        counter.inc()
        if task.state is TaskState.COMPLETED:
            self._metrics.task_completed(task)

    def committed(self, task: Task) -> None:
        """``task`` is now the stored record."""
        before = self.persisted.get(task.id)
        if task.state.is_terminal:
            self.persisted.pop(task.id, None)
        else:
            self.persisted[task.id] = task
        if self.on_commit is not None:
            self.on_commit(task, 0 if before is None else len(before.history))


@dataclass(slots=True)
class Batch:
    """What a command sees while it runs in the worker.

    Attributes:
        found: Stored tasks by (tenant, idempotency key) for the keys of the batch's commands.
        audit: Audit entries to commit with the batch.
    """

    found: dict[tuple[str, str], Task]
    audit: list[AuditEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Command:
    """A unit of work for the worker.

    Attributes:
        run: Runs in the worker thread; its value answers the caller after the commit.
        keys: (tenant, idempotency key) pairs ``run`` will look for in ``Batch.found``.
        future: Where the caller waits for the answer.
    """

    run: Callable[[Batch], Any]
    keys: tuple[tuple[str, str], ...] = ()
    future: Future[Any] = field(default_factory=Future)


_STOP = Command(lambda _: None)


class Worker:
    """Runs commands in batches and commits each batch at once (see the module docstring).

    Args:
        controller: The controller the commands act on (replaced by commands that load a
            new topology; only the worker thread touches it).
        recorder: The controller's listener.
        journal: Where batches are committed.
        metrics: Where batch sizes and commit times go.
        max_batch: Most commands per batch.
        tick: Called in the worker about once per ``tick_s`` (queue expiry, gauges).
        after_commit: Called after each successful commit (publishing placements).
        tick_s: Interval of ``tick``.
    """

    def __init__(
        self,
        controller: Controller,
        recorder: Recorder,
        journal: TaskJournal,
        metrics: PlaneMetrics,
        *,
        max_batch: int,
        tick: Callable[[Batch], None],
        after_commit: Callable[[], None],
        tick_s: float = 1.0,
    ) -> None:
        self.controller = controller
        self._recorder, self._journal, self._metrics = recorder, journal, metrics
        self._max_batch, self._tick, self._after_commit = max_batch, tick, after_commit
        self._tick_s = tick_s
        self._last_tick_s = 0.0
        self._queue: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._backlog: list[AuditEvent] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="suanwang-writer", daemon=True)

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the commands already queued, then stop; later commands are refused."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout_s)
        self._stopped.set()

    def call(
        self, run: Callable[[Batch], Any], keys: tuple[tuple[str, str], ...] = ()
    ) -> Future[Any]:
        """Queue ``run``; the future holds its value once the batch is committed."""
        command = Command(run, keys)
        if self._stopped.is_set():
            command.future.set_exception(ShuttingDownError("the control plane is stopping"))
        else:
            self._queue.put(command)
        return command.future

    # ----------------------------------------------------------------- the thread

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=self._tick_s)
            except queue.Empty:
                first = None
            batch: list[Command] = []
            if first is _STOP:
                stopping = True
            elif first is not None:
                batch.append(first)
            while not stopping and len(batch) < self._max_batch:
                try:
                    command = self._queue.get_nowait()
                except queue.Empty:
                    break
                if command is _STOP:
                    stopping = True
                else:
                    batch.append(command)
            try:
                self._run(batch)
            except Exception:  # the writer must outlive any single bad batch
                log.exception("a batch failed unexpectedly")
                for command in batch:
                    if not command.future.done():
                        command.future.set_exception(StoreUnavailableError("internal error"))
        self._stopped.set()
        self._refuse_rest()

    def _refuse_rest(self) -> None:
        while True:
            try:
                command = self._queue.get_nowait()
            except queue.Empty:
                return
            if not command.future.done():
                command.future.set_exception(ShuttingDownError("the control plane is stopping"))

    def _run(self, commands: list[Command]) -> None:
        keys = [key for command in commands for key in command.keys]
        try:
            found = self._journal.find(keys) if keys else {}
        except StoreUnavailableError as exc:
            for command in commands:
                command.future.set_exception(exc)
            return
        batch = Batch(found, self._backlog)
        self._backlog = []
        answers: list[tuple[Future[Any], Any]] = []
        for command in commands:
            try:
                answers.append((command.future, command.run(batch)))
            except Exception as exc:  # a refused request; the others go on
                command.future.set_exception(exc)
        now_s = time.monotonic()
        if now_s - self._last_tick_s >= self._tick_s:
            self._last_tick_s = now_s
            self._tick(batch)
        started_s = time.perf_counter()
        try:
            wrote = self._commit(batch)
        except Exception as exc:
            log.error("group commit failed: %s", exc)
            self._undo(batch, transient=isinstance(exc, StoreUnavailableError))
            for future, _ in answers:
                future.set_exception(
                    exc
                    if isinstance(exc, StoreUnavailableError)
                    else StoreUnavailableError(str(exc))
                )
            return
        if wrote:
            self._metrics.commit_seconds.observe(time.perf_counter() - started_s)
        if commands:
            self._metrics.batch_size.observe(len(commands))
        self._after_commit()
        for future, value in answers:
            future.set_result(value)

    def _commit(self, batch: Batch) -> bool:
        """Write what the batch changed; False when there was nothing to write."""
        recorder = self._recorder
        added = [(recorder.dirty[task_id], key) for task_id, key in recorder.new.items()]
        updated = [
            (stored, task)
            for task_id, task in recorder.dirty.items()
            if task_id not in recorder.new
            and (stored := recorder.persisted.get(task_id)) is not None
            and len(task.history) > len(stored.history)
        ]
        if not (added or updated or batch.audit):
            recorder.dirty.clear()  # changes that need no write (a task queued again)
            return False
        self._journal.write(added, updated, batch.audit)
        for task, _ in added:
            recorder.committed(task)
        for _, task in updated:
            recorder.committed(task)
        recorder.new.clear()
        recorder.dirty.clear()
        return True

    def _undo(self, batch: Batch, *, transient: bool) -> None:
        """Withdraw the batch's new tasks; keep older tasks' updates for a retry if transient."""
        recorder = self._recorder
        lost = list(recorder.new)
        recorder.new.clear()
        for task_id in lost:
            self.controller.cancel(task_id, "not stored: the database refused the write")
        for task_id in lost:
            recorder.dirty.pop(task_id, None)
        if not transient:
            recorder.dirty.clear()
            return
        targets = {f"task:{task_id}" for task_id in lost}
        self._backlog = [entry for entry in batch.audit if entry.target not in targets]
