"""Worker processes whose tasks can be stopped one by one: the maximum run time of a task.

A ``ProcessPoolExecutor`` cannot stop one task: it does not say which process runs it, and
killing one of its processes breaks the whole pool (every other task in it fails). An agent
must stop a task that runs past its maximum run time without harming the others, so
``WorkerPool`` keeps its own spawned processes, each serving one task at a time over a pipe.
It knows which process runs which task; a task past its deadline is stopped by killing its
process (SIGKILL: work in native code cannot be interrupted any other way), its future fails
with ``RunTimeExceeded``, and a fresh process takes the slot. A process that dies on its own
fails its task with ``WorkerDied`` and is replaced the same way.

``run_limited`` is the cooperative form, for pools that cannot kill one process (the local
engine's ``ProcessPoolExecutor``): the worker arms a timer that raises ``RunTimeExceeded`` in
the task at its deadline. Built-in kinds compute in bounded numpy calls, so it fires within one
call; a user function stuck in native code finishes that call first.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing.connection
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from suanwang.execution.kinds import Work, WorkOutcome, run_work

log = logging.getLogger("suanwang.workers")

_POLL_S = 0.1
"""Longest the supervisor waits before it looks at deadlines and new slots again."""


class RunTimeExceeded(Exception):  # noqa: N818 (says what happened to the task)
    """A task ran past its maximum run time and was stopped."""


class RunCancelled(Exception):  # noqa: N818 (says what happened to the task)
    """A task was cancelled (its process killed, or taken from the queue before it began)."""


class WorkerDied(Exception):  # noqa: N818 (says what happened to the process)
    """The process running a task died before it answered."""


def _limit_text(max_run_s: float) -> str:
    return f"stopped after {max_run_s:g} s: past its maximum run time of {max_run_s:g} s"


def run_limited(
    name: str, work: Work, allow_user_functions: bool, max_run_s: float | None
) -> WorkOutcome:
    """``run_work`` with a timer that raises ``RunTimeExceeded`` at ``max_run_s`` (worker side)."""
    if max_run_s is None:
        return run_work(name, work, allow_user_functions)

    def expired(_signal: int, _frame: FrameType | None) -> None:
        raise RunTimeExceeded(_limit_text(max_run_s))

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, max_run_s)
    try:
        return run_work(name, work, allow_user_functions)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)


def _serve(connection: Connection, initializer: Callable[[], None] | None) -> None:
    """A worker's loop: run what comes over the pipe, answer, until told to stop."""
    if initializer is not None:
        initializer()
    import numpy  # noqa: F401, PLC0415 (warm before the first task, not during it)

    connection.send(("ready", None))
    while True:
        try:
            job = connection.recv()
        except EOFError:
            return
        if job is None:
            return
        name, work, allow = job
        try:
            connection.send(("ok", run_work(name, work, allow)))
        except Exception as error:  # answered, not raised: the worker serves on
            try:
                connection.send(("error", error))
            except Exception:  # not picklable: send its text
                connection.send(("error", RuntimeError(f"{type(error).__name__}: {error}")))


@dataclass(slots=True)
class _Job:
    task_id: str
    name: str
    work: Work
    max_run_s: float | None
    future: Future[WorkOutcome] = field(default_factory=Future)
    deadline_s: float = float("inf")  # monotonic, set when a process takes it


@dataclass(slots=True)
class _Slot:
    process: BaseProcess
    connection: Connection
    ready: bool = False
    job: _Job | None = None


class WorkerPool:
    """``workers`` spawned processes running one task each (see the module docstring).

    Args:
        workers: Processes, at least 1.
        initializer: Called first in every process.
        allow_user_functions: Let tasks name ``module:function`` kinds (trusted use only).
    """

    def __init__(
        self,
        workers: int,
        initializer: Callable[[], None] | None = None,
        *,
        allow_user_functions: bool = False,
    ) -> None:
        if workers < 1:
            raise ValueError(f"a pool needs at least one worker, got {workers}")
        self._context = get_context("spawn")
        self._initializer = initializer
        self._allow = allow_user_functions
        self._lock = threading.Lock()
        self._queue: deque[_Job] = deque()
        self._closed = False
        self.replaced = 0
        self._slots = [self._spawn() for _ in range(workers)]
        self._thread = threading.Thread(target=self._supervise, name="worker-pool", daemon=True)
        self._thread.start()

    def _spawn(self) -> _Slot:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_serve, args=(theirs, self._initializer), name="suanwang-worker", daemon=True
        )
        process.start()
        theirs.close()
        return _Slot(process, ours)

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait until every process is warm (numpy imported); False if one is not in time."""
        deadline_s = time.monotonic() + timeout_s
        while time.monotonic() < deadline_s:
            with self._lock:
                if all(slot.ready for slot in self._slots):
                    return True
            time.sleep(0.02)
        return False

    def submit(
        self, task_id: str, name: str, work: Work, max_run_s: float | None = None
    ) -> Future[WorkOutcome]:
        """Run kind ``name`` on ``work`` in the next free process.

        The future fails with ``RunTimeExceeded`` after ``max_run_s`` seconds of running (None:
        no limit), or with ``WorkerDied``.
        """
        job = _Job(task_id, name, work, max_run_s)
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is shut down")
            self._queue.append(job)
            self._dispatch()
        return job.future

    def cancel(self, task_id: str) -> int | None:
        """Stop ``task_id`` now; its future fails with ``RunCancelled``.

        A running task's process is killed (a fresh one takes the slot); a queued one leaves the
        queue. Returns the killed process's pid (None when it was only queued, or is not here).
        """
        with self._lock:
            for job in self._queue:
                if job.task_id == task_id:
                    self._queue.remove(job)
                    job.future.set_exception(RunCancelled(f"task {task_id} cancelled"))
                    return None
            for index, slot in enumerate(self._slots):
                if slot.job is not None and slot.job.task_id == task_id:
                    pid = slot.process.pid
                    slot.process.kill()
                    self._replace(index, RunCancelled(f"task {task_id} cancelled (pid {pid})"))
                    return pid
        return None

    def _dispatch(self) -> None:
        """Hand queued jobs to ready, idle processes (lock held)."""
        for slot in self._slots:
            if not self._queue:
                return
            if not slot.ready or slot.job is not None:
                continue
            job = self._queue.popleft()
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                slot.connection.send((job.name, job.work, self._allow))
            except OSError as error:  # the process is gone: the supervisor replaces it
                job.future.set_exception(WorkerDied(f"worker process unreachable: {error}"))
                continue
            slot.job = job
            if job.max_run_s is not None:
                job.deadline_s = time.monotonic() + job.max_run_s

    def _supervise(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                slots = list(self._slots)
                deadline_s = min((s.job.deadline_s for s in slots if s.job), default=float("inf"))
            wait_s = min(_POLL_S, max(0.0, deadline_s - time.monotonic()))
            handles: list[Any] = [s.connection for s in slots] + [s.process.sentinel for s in slots]
            ready = set(multiprocessing.connection.wait(handles, timeout=wait_s))
            with self._lock:
                for index, slot in enumerate(slots):
                    if self._closed or self._slots[index] is not slot:
                        continue
                    if slot.connection in ready and self._answer(slot):
                        continue
                    if slot.process.sentinel in ready and not slot.process.is_alive():
                        self._replace(index, WorkerDied(_death(slot.process)))
                    elif slot.job is not None and time.monotonic() >= slot.job.deadline_s:
                        assert slot.job.max_run_s is not None
                        slot.process.kill()
                        self._replace(index, RunTimeExceeded(_limit_text(slot.job.max_run_s)))
                self._dispatch()

    def _answer(self, slot: _Slot) -> bool:
        """Take one answer of ``slot`` (lock held); False when its pipe is closed (it died)."""
        try:
            what, detail = slot.connection.recv()
        except (EOFError, OSError):
            return False
        if what == "ready":
            slot.ready = True
            return True
        job, slot.job = slot.job, None
        if job is not None:
            if what == "ok":
                job.future.set_result(detail)
            else:
                job.future.set_exception(detail)
        return True

    def _replace(self, index: int, error: Exception) -> None:
        """Fail the slot's task with ``error`` and start a fresh process there (lock held)."""
        slot = self._slots[index]
        slot.process.join(5.0)
        slot.connection.close()
        self._slots[index] = self._spawn()
        self.replaced += 1
        if slot.job is not None:  # told last, when the slot is whole again
            slot.job.future.set_exception(error)
            log.warning("task %s: %s", slot.job.task_id, error)

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop every process (running tasks are killed; queued ones cancelled)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for job in self._queue:
                job.future.cancel()
            self._queue.clear()
            slots = list(self._slots)
        self._thread.join(timeout_s)
        for slot in slots:
            with contextlib.suppress(OSError):
                slot.connection.send(None)
        for slot in slots:
            slot.process.join(timeout_s if slot.job is None else 0.0)
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(5.0)
            if slot.job is not None and not slot.job.future.done():
                slot.job.future.set_exception(WorkerDied("the worker pool was shut down"))
            slot.connection.close()


def _death(process: BaseProcess) -> str:
    code = process.exitcode
    if code is None or code >= 0:
        return f"worker process died (pid {process.pid}, exit code {code})"
    try:
        how = signal.Signals(-code).name
    except ValueError:
        how = f"signal {-code}"
    return f"worker process died (pid {process.pid}, killed by {how})"
