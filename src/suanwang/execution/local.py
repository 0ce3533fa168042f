"""The local engine: placed tasks run as real work on this machine's worker processes.

``LocalEngine`` implements the ``ExecutionEngine`` port for the embedded default, where one
machine stands for every node it is given: a task placed on any of them runs its kind
(``suanwang.execution.kinds``) in a process of a ``ProcessPoolExecutor`` (spawned, never
forked: the engine has threads, and a forked child would inherit their locks mid-flight).

The engine keeps its own FIFO of tasks waiting for a worker and hands the pool one task per
free worker, so ``task_started`` means a worker took the task and a cancelled waiting task
never reaches a process. A task already in a worker cannot be stopped safely (killing a pool
process breaks the whole pool), so cancelling it only drops it: the worker finishes, its slot
frees, and nothing is reported. Every report comes from the engine's reporter thread.

Each finished run leaves a ``RunRecord`` — the estimate next to the measured compute time —
in a bounded history, and is handed to ``on_record`` (for example
``EfficiencyFeedback.observe_record``).

numpy's BLAS may use every core in each worker; where several workers compute at once, set
``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``) in the environment that starts suanwang.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from types import TracebackType

from suanwang.control.ports import EngineReports
from suanwang.execution.kinds import KindError, Work, WorkOutcome, run_work, select_kind
from suanwang.execution.runbook import RecordHook, ReentrantLock, Run, RunBook, RunRecord
from suanwang.model import Task

_Event = tuple[str, str, int, object]
"""(what, task id, run token, detail): ``started``, ``failed`` (detail: reason), ``done``."""


class LocalEngine:
    """Runs tasks on worker processes of this machine (see the module docstring).

    Args:
        node_ids: Nodes this machine stands for (``inventory``).
        max_workers: Worker processes (default: the CPU count).
        allow_user_functions: Let tasks name ``module:function`` kinds (trusted use only).
        on_record: Called with every ``RunRecord``, from the reporter thread.
        history: Most run records kept.
        lock: Reentrant lock reports are delivered under; pass the one held around calls
            into the controller (see ``suanwang.execution.runbook``).
    """

    def __init__(
        self,
        node_ids: Iterable[str],
        *,
        max_workers: int | None = None,
        allow_user_functions: bool = False,
        on_record: RecordHook | None = None,
        history: int = 10_000,
        lock: ReentrantLock | None = None,
    ) -> None:
        self._nodes = tuple(dict.fromkeys(node_ids))
        self._node_set = frozenset(self._nodes)
        self.max_workers = max_workers or os.cpu_count() or 1
        if self.max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {self.max_workers}")
        self._allow = allow_user_functions
        self._book = RunBook(on_record, history, lock)
        self._pool = ProcessPoolExecutor(
            self.max_workers, mp_context=multiprocessing.get_context("spawn")
        )
        self._waiting: deque[Run] = deque()
        self._in_pool = 0
        self._events: queue.SimpleQueue[_Event | None] = queue.SimpleQueue()
        self._reports: EngineReports | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._report_loop, name="local-engine", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ the port

    def attach(self, reports: EngineReports) -> None:
        """Where starts and ends are reported."""
        self._reports = reports

    def inventory(self) -> tuple[str, ...]:
        """The node ids this machine stands for."""
        return self._nodes

    def start(self, task: Task) -> None:
        """Queue a scheduled task for a worker; returns at once.

        Raises:
            ValueError: The task has no placement, or the engine is closed.
        """
        if task.placement is None:
            raise ValueError(f"task {task.id!r} has no placement: it was not scheduled")
        if self._closed:
            raise ValueError("the local engine is closed")
        try:
            kind = select_kind(task.spec, allow_user_functions=self._allow)
        except KindError as error:
            run = self._book.begin(task, "")
            self._events.put(("failed", task.id, run.token, str(error)))
            return
        run = self._book.begin(task, kind)
        if task.placement.node_id not in self._node_set:
            why = f"node {task.placement.node_id} is not served by this engine"
            self._events.put(("failed", task.id, run.token, why))
            return
        with self._book.lock:
            self._waiting.append(run)
            self._dispatch()

    def cancel(self, task_id: str) -> None:
        """Drop a task: a waiting one never runs; a running one finishes unreported."""
        run = self._book.cancel(task_id)
        if run is None:
            return
        with self._book.lock:
            if run in self._waiting:
                self._waiting.remove(run)
        if isinstance(run.handle, Future):
            run.handle.cancel()  # succeeds only while the pool has not handed it out yet

    # ------------------------------------------------------------------ extras

    def records(self) -> tuple[RunRecord, ...]:
        """The latest run records, oldest first."""
        return self._book.records()

    @property
    def running(self) -> int:
        """Tasks started or waiting for a worker, not yet reported finished."""
        return self._book.active

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop taking work and drop what waits; let running work end; stop the reporter.

        Tasks still waiting for a worker are dropped unreported, as if cancelled. Waits for
        the workers' current tasks, then up to ``timeout_s`` for the reporter to finish.
        """
        if self._closed:
            return
        self._closed = True
        with self._book.lock:
            self._waiting.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._events.put(None)
        self._thread.join(timeout_s)

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _dispatch(self) -> None:
        """Hand waiting tasks to free workers (caller holds the book's lock)."""
        while self._waiting and self._in_pool < self.max_workers:
            run = self._waiting.popleft()
            work = Work.of(run.task.id, run.task.spec)
            try:
                future = self._pool.submit(run_work, run.kind, work, self._allow)
            except RuntimeError as error:  # shut down or broken: the task cannot run here
                self._events.put(("failed", run.task.id, run.token, f"worker pool: {error}"))
                continue
            self._in_pool += 1
            run.handle = future
            self._events.put(("started", run.task.id, run.token, None))
            # The callback may run at once in this thread; it only queues an event.
            future.add_done_callback(partial(self._done, run.task.id, run.token))

    def _done(self, task_id: str, token: int, future: Future[WorkOutcome]) -> None:
        self._events.put(("done", task_id, token, future))

    def _report_loop(self) -> None:
        while (event := self._events.get()) is not None:
            what, task_id, token, detail = event
            if what == "started":
                self._book.deliver_started(self._reports, task_id, token)
            elif what == "failed":
                self._book.deliver_finished(self._reports, task_id, token, None, str(detail))
            else:
                assert isinstance(detail, Future)
                with self._book.lock:
                    self._in_pool -= 1  # the worker is free again, cancelled run or not
                    if not self._closed:
                        self._dispatch()
                self._finish(task_id, token, detail)

    def _finish(self, task_id: str, token: int, future: Future[WorkOutcome]) -> None:
        if future.cancelled():
            return  # only a cancel does that, and the run was dropped then
        error = future.exception()
        if error is not None:
            reason = f"{type(error).__name__}: {error}"
            self._book.deliver_finished(self._reports, task_id, token, None, reason)
            return
        self._book.deliver_finished(self._reports, task_id, token, future.result(), "")
