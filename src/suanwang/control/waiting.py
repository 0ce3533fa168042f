"""The controller's wait queue, and the waits it predicts from what it holds.

A task no node has room for now waits here (PENDING) for capacity. The queue is FIFO per *kind
of demand* (``queue_key``: tasks of one key need the same resources and have the same patience),
so a big task at the head of one kind does not block small ones of another.

Predicted wait (``ReleaseBook``): a placed run holds its cores, memory and devices until it ends,
and its end is expected at its start plus its estimated network and compute time. A task that
joins its kind's queue with ``ahead`` tasks before it starts, at the earliest, when the
``ahead + 1``-th run of its kind ends (that release frees exactly what one more task of the kind
needs); while fewer runs of the kind hold anything, the ends of every run count instead. Service
is taken as deterministic and other kinds' waiting tasks are not counted, so the prediction is a
lower bound under contention between kinds; the twin checks it against what happens per class.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass

from suanwang.model import Task, TaskSpec

QueueKey = tuple[object, ...]


def queue_key(spec: TaskSpec) -> QueueKey:
    """Tasks with one key need the same resources and have the same patience."""
    accelerator = spec.accelerator
    return (
        spec.task_type,
        spec.cpu_cores,
        spec.mem_gib,
        None if accelerator is None else (accelerator.kind, accelerator.count),
        spec.latency_budget_ms,
        spec.deadline_s,
    )


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a waiting task was last refused: the plugin and its reason."""

    plugin: str
    reason: str


class WaitQueue:
    """FIFO queues per kind of demand, with each waiting task's patience and last refusal."""

    def __init__(self) -> None:
        self._groups: dict[QueueKey, dict[str, None]] = {}
        self._key_of: dict[str, QueueKey] = {}
        self._deadline_s: dict[str, float] = {}
        self._refusal: dict[str, Refusal] = {}

    def __len__(self) -> int:
        return len(self._key_of)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._key_of

    def __bool__(self) -> bool:
        return bool(self._key_of)

    def add(self, task: Task, patience_s: float) -> int:
        """Put ``task`` at the end of its kind's queue; returns how many wait before it.

        It may wait until ``patience_s`` after its submission.
        """
        key = queue_key(task.spec)
        group = self._groups.setdefault(key, {})
        ahead = len(group)
        group[task.id] = None
        self._key_of[task.id] = key
        self._deadline_s[task.id] = task.submitted_at_s + patience_s
        return ahead

    def remove(self, task_id: str) -> None:
        """Take ``task_id`` out of its queue (placed, cancelled, expired)."""
        key = self._key_of.pop(task_id)
        del self._deadline_s[task_id]
        group = self._groups[key]
        del group[task_id]
        if not group:
            del self._groups[key]
        self._refusal.pop(task_id, None)

    def refused(self, task_id: str, plugin: str, reason: str) -> None:
        """Remember why ``task_id`` was last refused (said when it expires)."""
        self._refusal[task_id] = Refusal(plugin, reason)

    def refusal(self, task_id: str) -> Refusal:
        """The last refusal of ``task_id`` (a plain one when none was recorded)."""
        return self._refusal.get(task_id, Refusal("", "no capacity"))

    def forget_refusal(self, task_id: str) -> None:
        """Drop the refusal of a task that did not join the queue."""
        self._refusal.pop(task_id, None)

    def kinds(self) -> list[QueueKey]:
        """The kinds with waiting tasks, in the order they are tried."""
        return list(self._groups)

    def head(self, key: QueueKey) -> str | None:
        """The first waiting task of ``key``, or None when none waits."""
        group = self._groups.get(key)
        return next(iter(group)) if group else None

    def expired(self, now_s: float) -> Iterator[str]:
        """Heads, kind by kind, that have waited past their patience (oldest first).

        The caller removes each one it is given before asking for the next.
        """
        for key in list(self._groups):
            while True:
                task_id = self.head(key)
                if task_id is None or now_s <= self._deadline_s[task_id]:
                    break
                yield task_id
                if self.head(key) == task_id:
                    break  # the caller kept it: stop rather than loop

    def rotate(self) -> None:
        """Move the first kind to the end, so that no kind of demand starves."""
        if len(self._groups) > 1:
            first = next(iter(self._groups))
            self._groups[first] = self._groups.pop(first)


class ReleaseBook:
    """When each held run is expected to end, per kind of demand (see the module docstring)."""

    def __init__(self) -> None:
        self._ends: dict[QueueKey, dict[str, float]] = {}
        self._key_of: dict[str, QueueKey] = {}

    def __len__(self) -> int:
        return len(self._key_of)

    def hold(self, run_id: str, spec: TaskSpec, expected_end_s: float) -> None:
        """Run ``run_id`` of ``spec`` holds its resources until about ``expected_end_s``."""
        self.release(run_id)
        key = queue_key(spec)
        self._ends.setdefault(key, {})[run_id] = expected_end_s
        self._key_of[run_id] = key

    def release(self, run_id: str) -> None:
        """Run ``run_id`` gave back what it held (a no-op when it held nothing)."""
        key = self._key_of.pop(run_id, None)
        if key is None:
            return
        ends = self._ends[key]
        del ends[run_id]
        if not ends:
            del self._ends[key]

    def predict_wait_s(self, spec: TaskSpec, ahead: int, now_s: float) -> float | None:
        """Seconds until a task of ``spec`` with ``ahead`` before it could start, or None.

        None when fewer than ``ahead + 1`` runs hold anything (nothing known will free room).
        """
        want = ahead + 1
        ends = self._ends.get(queue_key(spec), {})
        if len(ends) >= want:
            return max(0.0, heapq.nsmallest(want, ends.values())[-1] - now_s)
        if len(self._key_of) < want:
            return None
        every = (end for group in self._ends.values() for end in group.values())
        return max(0.0, heapq.nsmallest(want, every)[-1] - now_s)
