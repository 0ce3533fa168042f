"""The Ray engine's gatherer: one thread, one ``ray.wait`` loop, reports in batches.

The engine submits tasks to Ray back to back and hands the gatherer each round of submissions
(``Flight`` entries, or ``Refusal`` entries for tasks that could not be submitted) in one
``put``. The gatherer's thread is the only one that reports, and it does so in rounds:

1. it takes every round handed over since it last looked and reports their starts (and the
   refusals as failures) under one hold of the engine's lock;
2. it waits, with one ``ray.wait`` over every ref in flight, until all are done or ``wait_s``
   has passed, fetches the results of the ready ones with one ``ray.get`` (one at a time only
   when that raised, to tell which failed and why), and reports those ends under one hold of
   the lock — through the receiver's ``tasks_finished`` when it has one (a batch entry point,
   see ``control.batching``), else ``task_finished`` for each.

Why not a future per ref: a per-ref callback runs Python on Ray's own I/O thread, which then
waits for the GIL while the driver submits, and stalls Ray's dispatch behind it; ``ray.wait``
releases the GIL while it waits and costs about 0.15 us of driver CPU per ref scanned. The wait
starts at ``MIN_WAIT_S`` after anything happened and doubles while nothing does, up to
``MAX_WAIT_S`` (longer with very many refs in flight, so that scanning them stays a small share
of a core): an end is seen within that wait, and a round handed over while the thread waits is
taken when the wait returns.

A run whose task was cancelled (or started again) is no longer current in the ``RunBook``, so
its end is dropped there; an artefact's result is kept in the object store only while its run
is current (``finish_code``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from suanwang.control.batching import BatchReports
from suanwang.control.ports import EngineReports
from suanwang.execution.kinds import WorkOutcome
from suanwang.execution.ray_code import StagedCode
from suanwang.execution.runbook import RunBook
from suanwang.model import Task

MIN_WAIT_S = 0.002
"""Wait of one ``ray.wait`` after anything was handed over or ended."""
MAX_WAIT_S = 0.010
"""Longest wait while nothing happens (with up to ``MAX_WAIT_S / SCAN_S_PER_REF / 50`` refs)."""
SCAN_S_PER_REF = 3e-6
"""Wait allowed per ref in flight: scanning 1 ref costs ~0.15 us, so under 5 % of a core."""

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Flight:
    """One run Ray has: its ref, its run, and the Ray node it must run on.

    Attributes:
        ref: Ray's object ref of the task's result.
        task: The task as started (its id is the run id).
        token: The run's token in the engine's ``RunBook``.
        expected: Ray node id it is pinned to (None: not checked).
        staged: The staged artefact, for an artefact's run (None for a kind).
    """

    ref: Any
    task: Task
    token: int
    expected: str | None
    staged: StagedCode | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A run that never reached Ray: it is reported failed with ``reason``."""

    task_id: str
    token: int
    reason: str


Entry = Flight | Refusal
End = tuple[str, int, WorkOutcome | None, str]
"""(task id, run token, outcome or None, failure): what ``RunBook.deliver_finished`` takes."""
CodeFinisher = Callable[[Flight, Any], End | None]
"""Turns an artefact run's Ray result into its end (None: nothing to report)."""


def reason_of(error: BaseException) -> str:
    """``Type: message`` of the error a Ray task raised (its cause when Ray wrapped it)."""
    cause = getattr(error, "cause", None) or error
    return f"{type(cause).__name__}: {cause}"


class Gatherer:
    """The reporting thread of a ``RayEngine`` (see the module docstring).

    Args:
        ray: The ``ray`` module.
        book: The engine's runs; reports are delivered through it, under its lock.
        finish_code: Turns an artefact run's result into its end (stores its output).
    """

    def __init__(self, ray: Any, book: RunBook, finish_code: CodeFinisher) -> None:
        self.reports: EngineReports | None = None
        self._ray = ray
        self._book = book
        self._finish_code = finish_code
        self._inbox: queue.SimpleQueue[list[Entry] | None] = queue.SimpleQueue()
        self._pending: dict[Any, Flight] = {}
        self._thread: threading.Thread | None = threading.Thread(
            target=self._loop, name="ray-engine", daemon=True
        )
        self._thread.start()

    def hand_over(self, entries: list[Entry]) -> None:
        """A round of submissions (and refusals), in the order they were made."""
        if entries:
            self._inbox.put(entries)

    def close(self, timeout_s: float) -> None:
        """Stop the thread once it has taken what was handed over (idempotent)."""
        if self._thread is not None:
            self._inbox.put(None)
            self._thread.join(timeout_s)
            self._thread = None

    # ------------------------------------------------------------------ the thread

    def _loop(self) -> None:
        wait_s = MIN_WAIT_S
        while True:
            rounds = self._take(block=not self._pending)
            if rounds is None:
                return
            if rounds:
                self._begin(rounds)
                wait_s = MIN_WAIT_S
            if not self._pending:
                continue
            if self._gather(wait_s):
                wait_s = MIN_WAIT_S
            else:
                ceiling_s = max(MAX_WAIT_S, SCAN_S_PER_REF * len(self._pending))
                wait_s = min(2.0 * wait_s, ceiling_s)

    def _take(self, *, block: bool) -> list[list[Entry]] | None:
        """Every round handed over so far (waiting for one when ``block``); None: closed."""
        rounds: list[list[Entry]] = []
        try:
            entries = self._inbox.get() if block else self._inbox.get_nowait()
            while entries is not None:
                rounds.append(entries)
                entries = self._inbox.get_nowait()
            return None
        except queue.Empty:
            return rounds

    def _begin(self, rounds: list[list[Entry]]) -> None:
        """Report the rounds' starts and refusals under one lock hold; track the flights."""
        book, reports = self._book, self.reports
        refused: list[End] = []
        with book.lock:
            for entries in rounds:
                for entry in entries:
                    if isinstance(entry, Refusal):
                        refused.append((entry.task_id, entry.token, None, entry.reason))
                        continue
                    book.deliver_started(reports, entry.task.id, entry.token)
                    self._pending[entry.ref] = entry
            self._deliver(refused)

    def _gather(self, wait_s: float) -> bool:
        """Wait up to ``wait_s`` for the flights; report the ends. False when none ended."""
        refs = list(self._pending)
        try:
            ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=wait_s)
        except Exception as error:  # the cluster is gone: nothing in flight will end
            why = f"Ray wait failed: {error}"
            self._deliver([(f.task.id, f.token, None, why) for f in self._pending.values()])
            self._pending.clear()
            return True
        if not ready:
            return False
        flights = [self._pending.pop(ref) for ref in ready]
        try:
            values: list[Any] | None = self._ray.get(ready)
        except Exception:  # one of them failed: fetch each to tell which, and why
            values = None
        ends = []
        for i, flight in enumerate(flights):
            try:
                end = self._end_of(flight, values[i] if values is not None else _UNFETCHED)
            except Exception as error:  # a result not of the expected shape, a store failure
                _log.exception("reading the end of run %s", flight.task.id)
                end = (flight.task.id, flight.token, None, f"its end unreadable: {error}")
            if end is not None:
                ends.append(end)
        self._deliver(ends)
        return True

    def _end_of(self, flight: Flight, value: Any) -> End | None:
        task_id, token = flight.task.id, flight.token
        if value is _UNFETCHED:
            try:
                value = self._ray.get(flight.ref)
            except self._ray.exceptions.TaskCancelledError:
                return None  # cancelled: its run was dropped then
            except Exception as error:
                return (task_id, token, None, reason_of(error))
        if flight.staged is not None:
            return self._finish_code(flight, value)
        outcome: WorkOutcome = value
        failure = ""
        if flight.expected is not None and outcome.ran_on != flight.expected:
            failure = f"ran on Ray node {outcome.ran_on}, not {flight.expected}"
        return (task_id, token, outcome, failure)

    def _deliver(self, ends: list[End]) -> None:
        """Report ``ends`` under one lock hold, as a batch when the receiver takes one."""
        if not ends:
            return
        book, reports = self._book, self.reports
        with book.lock:
            if not isinstance(reports, BatchReports):
                for task_id, token, outcome, failure in ends:
                    book.deliver_finished(reports, task_id, token, outcome, failure)
                return
            batch = []
            for task_id, token, outcome, failure in ends:
                record = book.deliver_finished(None, task_id, token, outcome, failure)
                if record is not None:
                    batch.append((task_id, record.ok, record.reason))
            if batch:
                try:
                    reports.tasks_finished(batch)
                except Exception:  # a faulty receiver must not stop the thread
                    _log.exception("tasks_finished of %d runs raised", len(batch))


_UNFETCHED = object()
"""Marks a ready ref whose value the batched ``ray.get`` did not return."""
