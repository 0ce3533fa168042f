"""Digital-twin runs started through the API: one at a time, in the background, with reports.

A run is queued on a single worker thread (the twin is CPU-bound; one run at a time keeps the
control plane responsive), writes its report folder under the data folder, and is kept in
memory with its summary for polling. The twin is imported when the first run starts.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from suanwang.control.stores import ConflictError
from suanwang.model import Scenario

log = logging.getLogger(__name__)

RunState = Literal["queued", "running", "done", "failed"]


@dataclass(slots=True)
class TwinRun:
    """One run and what it has produced so far.

    Attributes:
        id: Run id.
        tenant: Tenant that started it (others cannot see it).
        scenario: Scenario name.
        profile: Scheduling profile.
        state: queued, running, done or failed.
        submitted_at_s: When it was started (wall clock).
        finished_at_s: When it ended.
        error: Why it failed.
        summary: Figures of a finished run (``twin.summary.summarise``).
        files: Report files written, relative to ``folder``.
        folder: Where the report is written.
    """

    id: str
    tenant: str
    scenario: str
    profile: str
    state: RunState = "queued"
    submitted_at_s: float = field(default_factory=time.time)
    finished_at_s: float | None = None
    error: str = ""
    summary: dict[str, Any] | None = None
    files: list[str] = field(default_factory=list)
    folder: Path = Path()


KEPT_RUNS = 100
"""Run records kept in memory (the oldest finished ones are dropped beyond this)."""


class TwinRuns:
    """Queues twin runs on one thread and keeps their outcome.

    Args:
        folder: Parent folder of the run reports.
        max_waiting: Runs that may wait for the thread; more are refused.
    """

    def __init__(self, folder: Path, max_waiting: int = 4) -> None:
        self._folder, self._max_waiting = folder, max_waiting
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="suanwang-twin")
        self._lock = threading.Lock()
        self._runs: dict[str, TwinRun] = {}

    def start(
        self, tenant: str, scenario: Scenario, profile: str, options: dict[str, Any]
    ) -> TwinRun:
        """Queue a run of ``scenario`` under ``profile``; ``options`` are ``TwinConfig`` fields.

        Raises:
            ConflictError: too many runs are waiting already.
        """
        run_id = uuid.uuid4().hex
        run = TwinRun(run_id, tenant, scenario.name, profile, folder=self._folder / run_id)
        with self._lock:
            waiting = sum(1 for r in self._runs.values() if r.state in ("queued", "running"))
            if waiting >= self._max_waiting:
                raise ConflictError(f"{waiting} twin runs are waiting; try again later")
            self._runs[run_id] = run
            finished = [
                key for key, r in self._runs.items() if r.state not in ("queued", "running")
            ]
            for key in finished[: max(0, len(self._runs) - KEPT_RUNS)]:
                del self._runs[key]  # the oldest finished records go; their files stay on disk
        self._executor.submit(self._run, run, scenario, options)
        return replace(run)

    def get(self, run_id: str, scope: str | None) -> TwinRun | None:
        """A copy of the run, or None if absent or of another tenant than ``scope``."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or (scope is not None and run.tenant != scope):
                return None
            return replace(run, files=list(run.files))

    def list(self, scope: str | None, limit: int = KEPT_RUNS) -> list[TwinRun]:
        """Copies of the latest ``limit`` runs visible to ``scope``, oldest first."""
        with self._lock:
            runs = [r for r in self._runs.values() if scope is None or r.tenant == scope]
            return [replace(run, files=list(run.files)) for run in runs[-limit:]]

    def close(self) -> None:
        """Stop taking runs; a run in progress finishes in the background."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _set(self, run: TwinRun, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(run, name, value)

    def _run(self, run: TwinRun, scenario: Scenario, options: dict[str, Any]) -> None:
        from suanwang.twin import TwinConfig, TwinError, run_twin  # noqa: PLC0415 (heavy)
        from suanwang.twin.report import write_report  # noqa: PLC0415
        from suanwang.twin.summary import summarise  # noqa: PLC0415

        self._set(run, state="running")
        try:
            result = run_twin(scenario, TwinConfig(profile=run.profile, **options))
            files = write_report(result, run.folder)
            summary = summarise(result)
        except TwinError as exc:
            self._set(run, state="failed", error=str(exc), finished_at_s=time.time())
            return
        except Exception as exc:  # a run must never take the server's thread down
            log.exception("twin run %s failed", run.id)
            self._set(
                run, state="failed", error=f"internal error: {exc}", finished_at_s=time.time()
            )
            return
        names = [path.name for path in files]
        self._set(run, state="done", summary=summary, files=names, finished_at_s=time.time())
