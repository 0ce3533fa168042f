"""The local engine's worker pool: handing it waiting tasks, and replacing it when it breaks.

``PoolKeeper`` is the part of ``LocalEngine`` (``local``) that owns the ``ProcessPoolExecutor``:
it starts a fresh pool's workers together, hands one waiting task per free worker, and when a
worker process dies fails what the pool held and puts a fresh pool in its place, at once for
the first ``FREE_REPLACEMENTS`` in a row that completed nothing, then after a doubling wait
(the crash-loop backoff of ``local``'s module docstring). Every method runs with the run
book's lock held.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import queue
import signal
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial

from suanwang.control.ports import EngineReports
from suanwang.execution.kinds import Work, WorkOutcome
from suanwang.execution.runbook import Run, RunBook
from suanwang.execution.workers import run_limited

_log = logging.getLogger("suanwang.execution.local")  # the engine's one logger

FREE_REPLACEMENTS = 3
"""Pools in a row that may break before completing a task and still be replaced at once."""
BACKOFF_FIRST_S = 1.0
"""Wait before the first replacement past ``FREE_REPLACEMENTS``; doubles with each next one."""
BACKOFF_MAX_S = 60.0
"""Longest wait before a replacement."""
EngineEvent = tuple[str, str, int, object]
"""(what, task id, token, detail): ``started``, ``failed`` (detail: reason), ``done`` (detail:
the future), ``broken`` and ``replace`` (token: the pool's generation)."""


class PoolKeeper:
    """The worker pool of a ``LocalEngine`` (see the module docstring)."""

    max_workers: int
    _allow: bool
    _max_run_s: float | None
    _max_run_s_by_tenant: dict[str, float]
    _book: RunBook
    _pool: ProcessPoolExecutor | None
    _generation: int
    _in_pool: dict[Future[WorkOutcome], Run]
    _launched: bool
    _pool_completed: bool
    _strikes: int
    _replaced: int
    _timer: threading.Timer | None
    _waiting: deque[Run]
    _events: queue.SimpleQueue[EngineEvent | None]
    _reports: EngineReports | None
    _closed: bool

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.max_workers, mp_context=multiprocessing.get_context("spawn")
        )

    @staticmethod
    def _launch(pool: ProcessPoolExecutor) -> None:
        """Start all of a fresh pool's workers before its first task (lock held).

        A spawning pool otherwise starts workers one by one as tasks come, and registers a new
        one only after waking its manager thread for the task; a worker that dies before the
        manager looks again goes unnoticed, and its task never ends. Started together before
        the manager, every worker is watched. (A private method: skipped where it is missing.)
        """
        launch = getattr(pool, "_launch_processes", None)
        if callable(launch):
            launch()

    def _dispatch(self) -> None:
        """Hand waiting tasks to free workers (caller holds the book's lock)."""
        while self._pool is not None and self._waiting and len(self._in_pool) < self.max_workers:
            run = self._waiting.popleft()
            work = Work.of(run.task.id, run.task.spec)
            try:
                if not self._launched:
                    self._launched = True
                    self._launch(self._pool)
                limit_s = self._max_run_s_by_tenant.get(run.task.tenant, self._max_run_s)
                future = self._pool.submit(run_limited, run.kind, work, self._allow, limit_s)
            except BrokenProcessPool:  # a worker died while idle: the task waits for a new pool
                self._waiting.appendleft(run)
                self._events.put(("broken", "", self._generation, None))
                return
            except (RuntimeError, OSError) as error:  # shut down, or no worker can start
                self._events.put(("failed", run.task.id, run.token, f"worker pool: {error}"))
                continue
            self._in_pool[future] = run
            run.handle = future
            self._events.put(("started", run.task.id, run.token, None))
            # The callback may run at once in this thread; it only queues an event.
            future.add_done_callback(partial(self._done, run.task.id, run.token))

    def _done(self, task_id: str, token: int, future: Future[WorkOutcome]) -> None:
        self._events.put(("done", task_id, token, future))

    def _pool_broke(self) -> None:
        """Fail what the broken pool held and put a new pool in its place (lock held)."""
        pool = self._pool
        assert pool is not None
        cause = _death_cause(pool)
        lost = list(self._in_pool.values())
        self._in_pool.clear()
        self._generation += 1
        self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)  # broken: its workers are gone already
        reason = f"worker process died ({cause}); the task may have killed it"
        for run in lost:  # a cancelled one is no longer current: the book drops it
            self._book.deliver_finished(self._reports, run.task.id, run.token, None, reason)
        if self._closed:
            return
        if self._pool_completed:
            self._strikes = 0
        self._strikes += 1
        excess = self._strikes - FREE_REPLACEMENTS
        if excess <= 0:
            self._replace_pool(cause, len(lost))
            return
        delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2.0 ** (excess - 1))
        _log.error(
            "local engine: worker pool broke (%s) with %d task(s) in it; %d pools in a row "
            "broke before completing a task, so the next one starts in %.1f s",
            cause,
            len(lost),
            self._strikes,
            delay,
        )
        self._replace_later(delay)

    def _replace_later(self, delay_s: float) -> None:
        """Have the reporter start the next pool after ``delay_s`` (lock held)."""
        event: EngineEvent = ("replace", "", self._generation, None)
        self._timer = threading.Timer(delay_s, self._events.put, (event,))
        self._timer.daemon = True
        self._timer.start()

    def _replace_pool(self, cause: str = "", lost: int = 0) -> None:
        """Start a fresh pool and hand it the waiting tasks (lock held)."""
        try:
            self._pool = self._new_pool()
        except OSError:  # out of descriptors or processes, say: try again later
            _log.exception("local engine: cannot start a worker pool; retrying in %.1f s", 5.0)
            self._replace_later(5.0)
            return
        self._launched = False
        self._pool_completed = False
        self._replaced += 1
        if cause:
            _log.warning(
                "local engine: worker pool broke (%s) with %d task(s) in it, failed them; "
                "replaced it with a fresh pool (%d replaced so far)",
                cause,
                lost,
                self._replaced,
            )
        else:
            _log.warning(
                "local engine: started a fresh worker pool after a delay (%d replaced so far)",
                self._replaced,
            )
        self._dispatch()


def _death_cause(pool: ProcessPoolExecutor) -> str:
    """Which worker of a broken pool died and how, as far as can be told (best effort)."""
    try:
        processes = list((pool._processes or {}).values())  # private: there is no public view
        ready = multiprocessing.connection.wait([p.sentinel for p in processes], timeout=0)
        exited = [p for p in processes if p.sentinel in ready]
        deadline = time.monotonic() + 0.5
        # Reaping it can take a moment, and the pool's thread may be reaping it too.
        while any(p.exitcode is None for p in exited) and time.monotonic() < deadline:
            time.sleep(0.005)
        dead = [(p.pid, p.exitcode) for p in exited if p.exitcode is not None]
    except Exception:  # a pool's internals are not an API: never fail on them
        return "cause unknown"
    # The pool terminates (SIGTERM) the other workers once one died: leave those out.
    first = [d for d in dead if d[1] != -signal.SIGTERM] or dead
    if not first:
        return "cause unknown"
    return ", ".join(f"pid {pid}, {_exit_text(code)}" for pid, code in first)


def _exit_text(code: int) -> str:
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"
