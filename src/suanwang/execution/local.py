"""The local engine: placed tasks run as real work on this machine's worker processes.

``LocalEngine`` implements the ``ExecutionEngine`` port for the embedded default, where one
machine stands for every node it is given: a task placed on any of them runs its kind
(``suanwang.execution.kinds``) in a process of a ``ProcessPoolExecutor`` (spawned, never
forked: the engine has threads, and a forked child would inherit their locks mid-flight). A
pool starts all its ``max_workers`` processes with its first task.

The engine keeps its own FIFO of tasks waiting for a worker and hands the pool one task per
free worker, so ``task_started`` means a worker took the task and a cancelled waiting task
never reaches a process. A task already in a worker cannot be stopped safely (killing a pool
process breaks the whole pool), so cancelling it only drops it: the worker finishes, its slot
frees, and nothing is reported. Every report comes from the engine's reporter thread.

A worker process that dies (killed by the OS or the OOM killer, a crash in native code, a user
function calling ``os._exit``) breaks the whole pool: every task in it at that moment is
reported finished, not ok, once — "worker process died (pid, exit code or signal); the task
may have killed it" — and a cancelled one reports nothing. The engine then puts a fresh pool
in its place and goes on with the tasks waiting in its FIFO (which never reached the broken
pool and so lose nothing); ``pools_replaced`` counts the replacements, each logged as a
warning. A worker that dies while idle is noticed at the next start, which goes to the fresh
pool. Against a crash loop (workers that die at once, every time): after
``FREE_REPLACEMENTS`` pools in a row broke before completing any task, each further
replacement waits, ``BACKOFF_FIRST_S`` doubling up to ``BACKOFF_MAX_S`` (logged as an error),
while new tasks queue in the FIFO; a pool that completes a task ends the streak.

A maximum run time (``max_run_s``, or a tenant's in ``max_run_s_by_tenant``) is enforced in
the worker (``workers.run_limited``): a timer raises in the task at its deadline, so the task
is reported failed, "stopped after N s: past its maximum run time", and the worker and the
pool live on (a kill would break the whole pool).

Each finished run leaves a ``RunRecord`` — the estimate next to the measured compute time —
in a bounded history, and is handed to ``on_record`` (for example
``EfficiencyFeedback.observe_record``).

A task that names an artefact (a tenant's own code) runs in a sandbox of its own instead,
staged from the object store the engine is given (``objects``), its result stored back there
(``execution.local_code``); its cancel kills it at once. Without ``objects`` it fails, said why.

numpy's BLAS may use every core in each worker; where several workers compute at once, set
``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``) in the environment that starts suanwang.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path
from types import TracebackType

from suanwang.control.objects import ObjectStore
from suanwang.control.ports import EngineReports
from suanwang.execution.kinds import KindError, Work, WorkOutcome, select_kind
from suanwang.execution.local_code import LocalCodeRunner
from suanwang.execution.requirements import Wheelhouse
from suanwang.execution.runbook import RecordHook, ReentrantLock, Run, RunBook, RunRecord
from suanwang.execution.storerun import ARTEFACT_KIND
from suanwang.execution.workers import run_limited
from suanwang.model import Task

_log = logging.getLogger(__name__)

FREE_REPLACEMENTS = 3
"""Pools in a row that may break before completing a task and still be replaced at once."""
BACKOFF_FIRST_S = 1.0
"""Wait before the first replacement past ``FREE_REPLACEMENTS``; doubles with each next one."""
BACKOFF_MAX_S = 60.0
"""Longest wait before a replacement."""

_Event = tuple[str, str, int, object]
"""(what, task id, token, detail): ``started``, ``failed`` (detail: reason), ``done`` (detail:
the future), ``broken`` and ``replace`` (token: the pool's generation)."""


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
        max_run_s: Longest a task may run before it is stopped and fails (None: no limit).
        max_run_s_by_tenant: Per-tenant limits replacing ``max_run_s``.
        objects: The store tenants' artefacts, inputs and results are in (None: tasks that
            name an artefact fail).
        code_dir: Folder of the artefact runs' cache and sandboxes (None: a temporary one).
        wheelhouse: A folder of wheels or an index URL artefacts' requirements are installed
            from (``execution.requirements``); None: an artefact that declares any fails.
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
        max_run_s: float | None = None,
        max_run_s_by_tenant: Mapping[str, float] | None = None,
        objects: ObjectStore | None = None,
        code_dir: Path | None = None,
        wheelhouse: str | None = None,
    ) -> None:
        self._nodes = tuple(dict.fromkeys(node_ids))
        self._max_run_s = max_run_s
        self._max_run_s_by_tenant = dict(max_run_s_by_tenant or {})
        self._node_set = frozenset(self._nodes)
        self.max_workers = max_workers or os.cpu_count() or 1
        if self.max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {self.max_workers}")
        self._allow = allow_user_functions
        self._book = RunBook(on_record, history, lock)
        # The pool and what is in it; all below is guarded by the book's lock.
        self._pool: ProcessPoolExecutor | None = self._new_pool()  # None: awaiting a new one
        self._generation = 0  # of the pool slot: events of a replaced pool are told apart
        self._in_pool: dict[Future[WorkOutcome], Run] = {}  # submitted, done not yet handled
        self._launched = False  # whether the current pool's workers were started
        self._pool_completed = False  # whether the current pool completed any task
        self._strikes = 0  # pools in a row that broke before completing a task
        self._replaced = 0
        self._timer: threading.Timer | None = None  # a delayed replacement
        self._waiting: deque[Run] = deque()
        self._events: queue.SimpleQueue[_Event | None] = queue.SimpleQueue()
        self._reports: EngineReports | None = None
        self._closed = False
        self._scratch = None if code_dir or objects is None else tempfile.TemporaryDirectory()
        self._code = None
        if objects is not None:
            folder = code_dir or Path(self._scratch.name if self._scratch else ".")
            house = Wheelhouse(wheelhouse, folder / "requirements") if wheelhouse else None
            self._code = LocalCodeRunner(objects, folder, self._events.put, self.max_workers, house)
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
        if task.spec.artefact is not None:
            self._start_code(task)
            return
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
        if run.kind == ARTEFACT_KIND and self._code is not None:
            self._code.cancel(run.token)
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

    @property
    def pools_replaced(self) -> int:
        """Worker pools replaced after one of their processes died."""
        with self._book.lock:
            return self._replaced

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop taking work and drop what waits; let running work end; stop the reporter.

        Tasks still waiting for a worker are dropped unreported, as if cancelled. Waits for
        the workers' current tasks, then up to ``timeout_s`` for the reporter to finish.
        Idempotent; works with a broken pool or while a replacement is pending.
        """
        with self._book.lock:
            if self._closed:
                return
            self._closed = True
            self._waiting.clear()
            pool, timer = self._pool, self._timer
            self._timer = None
        if timer is not None:
            timer.cancel()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._code is not None:
            self._code.close()
        self._events.put(None)
        self._thread.join(timeout_s)
        if self._scratch is not None:
            self._scratch.cleanup()

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

    def _start_code(self, task: Task) -> None:
        """Hand an artefact's run to the sandbox runner (module docstring)."""
        run = self._book.begin(task, ARTEFACT_KIND)
        assert task.placement is not None
        why = ""
        if self._code is None:
            why = "the local engine was given no object store (objects): it cannot run artefacts"
        elif task.placement.node_id not in self._node_set:
            why = f"node {task.placement.node_id} is not served by this engine"
        if why:
            self._events.put(("failed", task.id, run.token, why))
            return
        assert self._code is not None
        self._code.start(run, self._max_run_s_by_tenant.get(task.tenant, self._max_run_s))

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

    def _report_loop(self) -> None:
        while (event := self._events.get()) is not None:
            what, task_id, token, detail = event
            if what == "started":
                self._book.deliver_started(self._reports, task_id, token)
            elif what == "failed":
                self._book.deliver_finished(self._reports, task_id, token, None, str(detail))
            elif what == "coded":  # an artefact's run ended well
                assert isinstance(detail, WorkOutcome)
                self._book.deliver_finished(self._reports, task_id, token, detail, "")
            elif what == "broken":
                with self._book.lock:
                    if token == self._generation and self._pool is not None:
                        self._pool_broke()
            elif what == "replace":
                with self._book.lock:
                    if token == self._generation and self._pool is None and not self._closed:
                        self._timer = None
                        self._replace_pool()
            else:
                assert isinstance(detail, Future)
                self._handle_done(task_id, token, detail)

    def _handle_done(self, task_id: str, token: int, future: Future[WorkOutcome]) -> None:
        with self._book.lock:
            if future not in self._in_pool:
                return  # its pool was replaced, and its run settled then
            if not future.cancelled() and isinstance(future.exception(), BrokenProcessPool):
                self._pool_broke()  # settles this run and every other one in the pool
                return
            del self._in_pool[future]
            if not future.cancelled():
                self._pool_completed = True
            if not self._closed:
                self._dispatch()  # the worker is free again, cancelled run or not
        self._finish(task_id, token, future)

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
        event: _Event = ("replace", "", self._generation, None)
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

    def _finish(self, task_id: str, token: int, future: Future[WorkOutcome]) -> None:
        if future.cancelled():
            return  # only a cancel does that, and the run was dropped then
        error = future.exception()
        if error is not None:
            reason = f"{type(error).__name__}: {error}"
            self._book.deliver_finished(self._reports, task_id, token, None, reason)
            return
        self._book.deliver_finished(self._reports, task_id, token, future.result(), "")


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
