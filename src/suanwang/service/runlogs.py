"""The runs' stdout and stderr as their agents reported them, kept in memory, bounded.

An agent sends a run's logs once, when the run ends (finished, or killed after a cancel or a
move), each stream already bounded by the agent (its first and last parts). The plane keeps
them per task (a replacement run ``<task id>~<n>`` is one more run of its task) until the total
passes ``max_total_bytes``; then the oldest runs' logs go first. They do not outlive the
process: a restarted control plane has none (the agent's copies stay in its run directories).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

MAX_STREAM_CHARS = 262_144
"""Longest stream one report may carry (the agent keeps its first and last parts)."""


@dataclass(frozen=True, slots=True)
class RunLog:
    """One run's logs: which run, where it ran, how it ended, and what it wrote."""

    run_id: str
    node_id: str
    outcome: str
    stdout: str
    stderr: str
    at_s: float

    @property
    def size_chars(self) -> int:
        """What the run's logs weigh in the store."""
        return len(self.stdout) + len(self.stderr)


def task_of_run(run_id: str) -> str:
    """The task a run id belongs to (``<task id>`` or a replacement's ``<task id>~<n>``)."""
    return run_id.split("~", 1)[0]


class RunLogs:
    """The logs of recent runs, per task, at most ``max_total_chars`` in all (thread-safe)."""

    def __init__(self, max_total_chars: int = 64 * 1024 * 1024) -> None:
        if max_total_chars < 1:
            raise ValueError(f"max_total_chars: must be at least 1 (got {max_total_chars})")
        self.max_total_chars = max_total_chars
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, RunLog] = OrderedDict()  # oldest first
        self._by_task: dict[str, list[str]] = {}
        self._total_chars = 0

    def put(self, log: RunLog) -> None:
        """Keep ``log`` (a run reported again replaces its earlier logs)."""
        with self._lock:
            if log.run_id in self._runs:
                self._drop(log.run_id)
            self._runs[log.run_id] = log
            self._by_task.setdefault(task_of_run(log.run_id), []).append(log.run_id)
            self._total_chars += log.size_chars
            while self._total_chars > self.max_total_chars and len(self._runs) > 1:
                self._drop(next(iter(self._runs)))

    def _drop(self, run_id: str) -> None:
        dropped = self._runs.pop(run_id)
        self._total_chars -= dropped.size_chars
        task_id = task_of_run(run_id)
        runs = self._by_task[task_id]
        runs.remove(run_id)
        if not runs:
            del self._by_task[task_id]

    def of_task(self, task_id: str) -> list[RunLog]:
        """The kept logs of ``task_id``'s runs, in the order they were reported."""
        with self._lock:
            return [self._runs[run_id] for run_id in self._by_task.get(task_id, ())]
