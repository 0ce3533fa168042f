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

The pool itself (dispatch to free workers, replacement and its backoff) is ``local_pool``.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType

from suanwang.control.objects import ObjectStore
from suanwang.control.ports import EngineReports
from suanwang.execution.kinds import KindError, WorkOutcome, select_kind
from suanwang.execution.local_code import LocalCodeRunner
from suanwang.execution.local_pool import EngineEvent, PoolKeeper
from suanwang.execution.requirements import Wheelhouse
from suanwang.execution.runbook import RecordHook, ReentrantLock, Run, RunBook, RunRecord
from suanwang.execution.storerun import ARTEFACT_KIND
from suanwang.model import Task


class LocalEngine(PoolKeeper):
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
        self._events: queue.SimpleQueue[EngineEvent | None] = queue.SimpleQueue()
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

    def _finish(self, task_id: str, token: int, future: Future[WorkOutcome]) -> None:
        if future.cancelled():
            return  # only a cancel does that, and the run was dropped then
        error = future.exception()
        if error is not None:
            reason = f"{type(error).__name__}: {error}"
            self._book.deliver_finished(self._reports, task_id, token, None, reason)
            return
        self._book.deliver_finished(self._reports, task_id, token, future.result(), "")
