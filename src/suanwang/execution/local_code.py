"""The local engine's runs of tenants' artefacts: staged from the store, run in a sandbox.

A task that names an artefact does not go to the engine's worker pool (a pool process cannot
be killed without breaking the pool): it is staged from the object store
(``execution.storerun``) and run by ``execution.sandbox`` in a fresh interpreter of its own,
with its limits (``coderun.limits_for``) and its requirements installed from the wheelhouse
(``execution.requirements``), on a thread that waits for it. Cancelling kills the
run's whole process tree at once. Its output folder, zipped, is stored as the task's result.

Events go to the engine's reporter through ``emit``, as the engine's own do: ``started`` once
the sandbox's process is up, then ``coded`` (detail: the ``WorkOutcome``) or ``failed``
(detail: the reason); a cancelled run sends nothing more.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from suanwang.control.objects import ObjectStore
from suanwang.execution.coderun import WAIT_SLICE_S, CodeRunCancelledError, limits_for
from suanwang.execution.kinds import WorkOutcome
from suanwang.execution.requirements import Wheelhouse, requirement_paths
from suanwang.execution.runbook import Run
from suanwang.execution.sandbox import Sandbox, SandboxHandle, SandboxRun
from suanwang.execution.storerun import StoreCache, keep_result, stage_from_store, zipped_outputs

Emit = Callable[[tuple[str, str, int, object]], None]
"""Queues an event (what, task id, run token, detail) for the engine's reporter."""


class LocalCodeRunner:
    """Runs artefact tasks in sandboxes under ``work_dir`` (see the module docstring).

    Args:
        objects: The store the artefacts, inputs and results are in.
        work_dir: Folder of the object cache (``cache``) and the sandboxes (``runs``).
        emit: Where events go.
        max_runs: Runs at once; more wait for a thread.
        wheelhouse: Where artefacts' requirements come from (None: an artefact that declares
            any fails).
    """

    def __init__(
        self,
        objects: ObjectStore,
        work_dir: Path,
        emit: Emit,
        max_runs: int,
        wheelhouse: Wheelhouse | None = None,
    ) -> None:
        self.objects = objects
        self.wheelhouse = wheelhouse
        self.cache = StoreCache(objects, Path(work_dir) / "cache")
        self.sandbox = Sandbox(Path(work_dir) / "runs")
        self._emit = emit
        self._threads = ThreadPoolExecutor(max_runs, thread_name_prefix="local-code")
        self._lock = threading.Lock()
        self._cancelled: dict[int, threading.Event] = {}
        self._handles: dict[int, SandboxHandle] = {}

    def start(self, run: Run, max_run_s: float | None) -> None:
        """Run ``run`` on a thread of its own; returns at once."""
        with self._lock:
            self._cancelled[run.token] = threading.Event()
        self._threads.submit(self._run, run, max_run_s)

    def cancel(self, token: int) -> None:
        """Kill the run of ``token`` now (its process tree), or keep it from starting."""
        with self._lock:
            flag, handle = self._cancelled.get(token), self._handles.get(token)
            if flag is not None:
                flag.set()
        if handle is not None:
            handle.cancel()

    def close(self) -> None:
        """Wait for the runs in flight (cancelled ones end at once)."""
        self._threads.shutdown(wait=True)

    def _run(self, run: Run, max_run_s: float | None) -> None:
        task, token = run.task, run.token
        try:
            outcome = self._stage_and_run(run, max_run_s)
        except CodeRunCancelledError:
            return
        except Exception as error:  # staging, the sandbox, the store: the run fails, said why
            self._emit(("failed", task.id, token, f"{type(error).__name__}: {error}"))
            return
        finally:
            with self._lock:
                self._cancelled.pop(token, None)
                self._handles.pop(token, None)
        self._emit(("coded", task.id, token, outcome))

    def _stage_and_run(self, run: Run, max_run_s: float | None) -> WorkOutcome:
        task, token = run.task, run.token
        flag = self._cancelled[token]
        with tempfile.TemporaryDirectory(prefix="stage-", dir=self.cache.root) as folder:
            staged = stage_from_store(self.cache, Path(folder), task.tenant, task.spec)
            sandbox_run = SandboxRun(
                run_id=f"{task.id.replace('~', '-r')}-r{token}",
                tenant=task.tenant,
                artefact_path=staged.archive,
                entry=task.spec.entry or staged.artefact.entry,
                input_dir=staged.input_dir,
                root_dir=self.sandbox.root_dir,
                limits=limits_for(task.spec, max_run_s),
                paths=requirement_paths(staged.archive, self.wheelhouse),
            )
            with self._lock:
                if flag.is_set():
                    raise CodeRunCancelledError(task.id)
                handle = self._handles[token] = self.sandbox.start(sandbox_run)
            started_at_s = time.time()
            self._emit(("started", task.id, token, None))
            result = None
            while result is None:  # ends: the sandbox's wall-time limit kills the run
                if flag.is_set():
                    handle.cancel()
                result = handle.wait(WAIT_SLICE_S)
            if result.outcome == "cancelled" or flag.is_set():
                raise CodeRunCancelledError(task.id)
            if result.outcome != "ok":
                tail = result.stderr.strip().splitlines()[-3:]
                raise RuntimeError(result.reason + (f": {' | '.join(tail)}" if tail else ""))
            zipped, files = zipped_outputs(result.output_dir)
        digest = keep_result(self.objects, task.tenant, task.id, zipped)
        summary = {
            "result": digest,
            "files": files,
            "staged_bytes": staged.staged_bytes,
            "staging_ms": round(staged.staging_s * 1000, 1),
            "stdout": result.stdout[-4096:],
        }
        where = f"pid {handle.pid}, sandbox {self.sandbox.isolation}"
        return WorkOutcome(summary, result.wall_s, started_at_s, where)
