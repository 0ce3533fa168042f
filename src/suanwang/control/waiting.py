"""The controller's wait queue, its order of service, and the waits it predicts.

A task no node has room for now waits here (PENDING) for capacity. Whenever capacity comes back
the controller serves the queue in one fixed order (``WaitQueue.in_order``), the same in the live
plane and in the twin, so that where a freed node goes follows from what waits, not from the
history of failed tries:

* work with a deadline (a latency budget or a completion deadline) first, earliest deadline
  first: its deadline is when its patience runs out (submission plus budget or deadline), ties
  by submission, then by arrival in the queue;
* then work without one, in order of submission;
* with backfill: the tasks of one *demand* (one tenant, one spec) are tried in that order, and
  the first of them the caller leaves waiting ends its demand's turn for the pass, while the
  other demands go on. A smaller task may so take a node a waiting larger one cannot use,
  but a task never passes one of its demand served before it.

A task waits at most its patience (``expired``); past it the controller rejects it.

Predicted wait (``ReleaseBook``): a placed run holds its cores, memory and devices until it ends,
and its end is expected at its start plus its estimated network and compute time. A task with
``ahead`` tasks of its *kind* (``queue_key``: one kind needs the same resources and has the same
patience) served before it starts, at the earliest, when the ``ahead + 1``-th run of its kind
ends (that release frees exactly what one more task of the kind needs); while fewer runs of the
kind hold anything, the ends of every run count instead. Service is taken as deterministic and
other kinds' waiting tasks are not counted, so the prediction is a lower bound under contention
between kinds; the twin checks it against what happens per class.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from suanwang.model import Task, TaskSpec

QueueKey = tuple[object, ...]
Demand = tuple[str, TaskSpec]
"""A tenant and a spec: tasks of one demand are refused and placed alike."""
Rank = tuple[int, float, float, int]
"""Order of service: (0 with a deadline / 1 without, deadline s, submitted s, arrival)."""


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


def service_rank(task: Task, expires_s: float, arrival: int) -> Rank:
    """Where ``task``, waiting until ``expires_s``, is served (module docstring)."""
    spec = task.spec
    if spec.latency_budget_ms is not None or spec.deadline_s is not None:
        return (0, expires_s, task.submitted_at_s, arrival)
    return (1, task.submitted_at_s, task.submitted_at_s, arrival)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a waiting task was last refused: the plugin and its reason."""

    plugin: str
    reason: str


@dataclass(frozen=True, slots=True)
class _Entry:
    rank: Rank
    demand: Demand
    kind: QueueKey
    expires_s: float


class WaitQueue:
    """The waiting tasks in their order of service, with their patience and last refusal."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._demands: dict[Demand, list[tuple[Rank, str]]] = {}  # each sorted by rank
        self._kinds: dict[QueueKey, list[Rank]] = {}  # each sorted
        self._expiry: list[tuple[float, int, str]] = []  # heap; entries of removed tasks stay
        self._refusal: dict[str, Refusal] = {}
        self._arrivals = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._entries

    def __bool__(self) -> bool:
        return bool(self._entries)

    def add(self, task: Task, patience_s: float) -> int:
        """Queue ``task``, which may wait until ``patience_s`` after its submission.

        Returns how many tasks of its kind are served before it.
        """
        arrival = next(self._arrivals)
        expires_s = task.submitted_at_s + patience_s
        rank = service_rank(task, expires_s, arrival)
        entry = _Entry(rank, (task.tenant, task.spec), queue_key(task.spec), expires_s)
        self._entries[task.id] = entry
        bisect.insort(self._demands.setdefault(entry.demand, []), (rank, task.id))
        ranks = self._kinds.setdefault(entry.kind, [])
        ahead = bisect.bisect_left(ranks, rank)
        ranks.insert(ahead, rank)
        if len(self._expiry) > 2 * len(self._entries) + 64:  # drop the removed tasks' entries
            self._expiry = [item for item in self._expiry if self._live(item)]
            heapq.heapify(self._expiry)
        heapq.heappush(self._expiry, (expires_s, arrival, task.id))
        return ahead

    def remove(self, task_id: str) -> None:
        """Take ``task_id`` out of the queue (placed, cancelled, expired)."""
        entry = self._entries.pop(task_id)
        group = self._demands[entry.demand]
        del group[bisect.bisect_left(group, (entry.rank, task_id))]
        if not group:
            del self._demands[entry.demand]
        ranks = self._kinds[entry.kind]
        del ranks[bisect.bisect_left(ranks, entry.rank)]
        if not ranks:
            del self._kinds[entry.kind]
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

    def in_order(self) -> Iterator[str]:
        """The waiting tasks in their order of service, for one pass of the caller's tries.

        The caller removes each task it places before asking for the next. One it leaves
        waiting ends the turn of its demand: no later task of that demand is given in this
        pass (it needs what that one could not get), while other demands go on (backfill).
        """
        ties = itertools.count()  # a head may be queued twice: never compare the demands
        heads = [(group[0], next(ties), demand) for demand, group in self._demands.items()]
        heapq.heapify(heads)
        done: set[Demand] = set()
        while heads:
            (_, task_id), _, demand = heapq.heappop(heads)
            group = self._demands.get(demand)
            if not group or demand in done:
                continue
            if group[0][1] != task_id:  # its head changed meanwhile: queue the current one
                heapq.heappush(heads, (group[0], next(ties), demand))
                continue
            yield task_id
            if task_id in self._entries:
                done.add(demand)
                continue
            group = self._demands.get(demand)
            if group:
                heapq.heappush(heads, (group[0], next(ties), demand))

    def expired(self, now_s: float) -> Iterator[str]:
        """Tasks that have waited past their patience, the earliest to run out first.

        The caller removes each one it is given before asking for the next.
        """
        while self._expiry:
            item = self._expiry[0]
            if not self._live(item):
                heapq.heappop(self._expiry)
                continue
            if now_s <= item[0]:
                return
            yield item[2]
            if self._live(item):
                return  # the caller kept it: stop rather than loop

    def _live(self, item: tuple[float, int, str]) -> bool:
        entry = self._entries.get(item[2])
        return entry is not None and entry.rank[3] == item[1]


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
