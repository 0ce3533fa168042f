"""``AgentDispatch``: an execution engine whose workers are node agents that pull their tasks.

The controller starts a task on a node; the task then waits here until that node's agent asks
for work (``pull``), runs it, and reports back (``report_started`` / ``report_finished``), which
this engine forwards to the controller as the ``ExecutionEngine`` contract asks.

Started tasks are first *staged*: ``publish`` makes them visible to agents. The control plane
publishes after it has committed the placements, so an agent never runs a task whose placement
a crash could still undo.

A published task that no agent pulls is not left holding its reservations for ever: ``overdue``
names the tasks published longer than a dispatch timeout ago and still not pulled, and
``expire`` ends one as failed with the reason (the control plane decides which, and whether
their node has an agent at all).

A task cancelled or moved after its agent pulled it is *withdrawn*: the agent, which names the
runs it holds (``withdrawn``), hears which of them this engine no longer holds on its node and
kills them; it confirms each kill (``confirm_killed``), which this engine answers with the
seconds from the withdrawal to the confirmation and keeps in ``kills`` (bounded).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from suanwang.control.ports import EngineReports
from suanwang.model import Task

MAX_WITHDRAWN = 10_000
"""Withdrawn runs remembered until their agent confirms the kill (the oldest are dropped)."""


@dataclass(frozen=True, slots=True)
class Kill:
    """A withdrawn run its agent killed: where, and how long after its withdrawal."""

    run_id: str
    node_id: str
    after_s: float


class AgentDispatch:
    """Per node, the started tasks waiting for the node's agent (in memory; thread-safe).

    Args:
        node_ids: Nodes with an agent (the inventory).
    """

    def __init__(self, node_ids: Iterable[str]) -> None:
        self._lock = threading.Lock()
        self._nodes = tuple(node_ids)
        self._reports: EngineReports | None = None
        self._staged: dict[str, Task] = {}
        self._ready: dict[str, deque[Task]] = {}
        self._node_of: dict[str, str] = {}
        self._running: set[str] = set()
        self._published_at_s: dict[str, float] = {}  # published, not yet pulled (publish order)
        self._withdrawn: OrderedDict[str, tuple[str, float]] = OrderedDict()  # run -> node, at
        self.kills: deque[Kill] = deque(maxlen=MAX_WITHDRAWN)

    # ----------------------------------------------------------------- ExecutionEngine

    def attach(self, reports: EngineReports) -> None:
        """Where agents' reports are forwarded."""
        self._reports = reports

    def start(self, task: Task) -> None:
        """Stage a scheduled task for its node's agent (visible after ``publish``)."""
        if task.placement is None:
            raise ValueError(f"task {task.id!r} has no placement")
        with self._lock:
            self._staged[task.id] = task
            self._node_of[task.id] = task.placement.node_id

    def cancel(self, task_id: str) -> None:
        """Forget a task wherever it is; its agent's later reports are refused."""
        with self._lock:
            pulled = task_id not in self._staged and task_id not in self._published_at_s
            self._staged.pop(task_id, None)
            self._published_at_s.pop(task_id, None)
            node = self._node_of.pop(task_id, None)
            self._running.discard(task_id)
            if node is not None and pulled:  # its agent may be running it: tell it to stop
                self._withdrawn[task_id] = (node, time.monotonic())
                while len(self._withdrawn) > MAX_WITHDRAWN:
                    self._withdrawn.popitem(last=False)
            if node is not None and self._ready.get(node):
                # Rare (a cancel before the agent pulled): a linear scan of one node's queue.
                self._ready[node] = deque(t for t in self._ready[node] if t.id != task_id)

    def inventory(self) -> tuple[str, ...]:
        """Nodes that have an agent."""
        return self._nodes

    # ----------------------------------------------------------------- control plane side

    def publish(self, now_s: float | None = None) -> int:
        """Make every staged task visible to its agent; returns how many.

        Args:
            now_s: Time of publication, which ``overdue`` counts from (default: the wall clock).
        """
        published_at_s = time.time() if now_s is None else now_s
        with self._lock:
            staged, self._staged = self._staged, {}
            for task in staged.values():
                node = self._node_of.get(task.id)
                if node is not None:
                    self._ready.setdefault(node, deque()).append(task)
                    self._published_at_s[task.id] = published_at_s
            return len(staged)

    def overdue(self, now_s: float, timeout_s: float) -> list[tuple[str, str]]:
        """Published tasks not pulled within ``timeout_s`` of ``now_s``, oldest first.

        Returns:
            (task id, node id) pairs.
        """
        out: list[tuple[str, str]] = []
        with self._lock:
            # Publication order is time order, so the scan stops at the first task in time.
            for task_id, published_at_s in self._published_at_s.items():
                if now_s - published_at_s <= timeout_s:
                    break
                out.append((task_id, self._node_of[task_id]))
        return out

    def expire(self, task_id: str, reason: str) -> bool:
        """End a published, not yet pulled task as failed for ``reason``; False if it was pulled."""
        with self._lock:
            if task_id not in self._published_at_s:
                return False
        self.cancel(task_id)
        self._forward().task_finished(task_id, False, reason)
        return True

    def waiting(self, node_id: str) -> int:
        """Published tasks of ``node_id`` not yet pulled."""
        with self._lock:
            return len(self._ready.get(node_id, ()))

    def node_of(self, task_id: str) -> str | None:
        """Node a dispatched task was started on, or None if this engine does not hold it."""
        with self._lock:
            return self._node_of.get(task_id)

    # ----------------------------------------------------------------- agent side

    def pull(self, node_id: str, limit: int) -> list[Task]:
        """Hand ``node_id``'s agent up to ``limit`` published tasks, oldest first."""
        with self._lock:
            queue = self._ready.get(node_id)
            if not queue:
                return []
            pulled = [queue.popleft() for _ in range(min(limit, len(queue)))]
            for task in pulled:
                self._published_at_s.pop(task.id, None)
            return pulled

    def report_started(self, task_id: str, node_id: str) -> bool:
        """The agent of ``node_id`` began the task; False if it holds no such task."""
        with self._lock:
            if self._node_of.get(task_id) != node_id or task_id in self._running:
                return False
            self._running.add(task_id)
        self._forward().task_started(task_id)
        return True

    def report_finished(self, task_id: str, node_id: str, ok: bool, reason: str) -> bool:
        """The agent of ``node_id`` ended the task; False if it holds no such task."""
        with self._lock:
            if self._node_of.get(task_id) != node_id:
                return False
            del self._node_of[task_id]
            self._running.discard(task_id)
            self._staged.pop(task_id, None)
            if self._published_at_s.pop(task_id, None) is not None and self._ready.get(node_id):
                # Published again (a restart re-placed it) and ended by a report its agent
                # kept from before: it must not be pulled and run once more.
                self._ready[node_id] = deque(t for t in self._ready[node_id] if t.id != task_id)
        # A task may end without a reported start (it failed to launch): the controller
        # accepts an end from SCHEDULED as well as from RUNNING.
        self._forward().task_finished(task_id, ok, reason)
        return True

    def withdrawn(self, node_id: str, run_ids: Iterable[str]) -> list[str]:
        """Of the runs ``node_id``'s agent says it holds, those no longer held there."""
        with self._lock:
            return [r for r in run_ids if self._node_of.get(r) != node_id]

    def confirm_killed(self, node_id: str, run_id: str) -> float | None:
        """The agent of ``node_id`` killed ``run_id``.

        Returns the seconds since its withdrawal (the kill is kept in ``kills``), or None if it
        was not withdrawn from that node.
        """
        with self._lock:
            withdrawn = self._withdrawn.get(run_id)
            if withdrawn is None or withdrawn[0] != node_id:
                return None
            del self._withdrawn[run_id]
            kill = Kill(run_id, node_id, time.monotonic() - withdrawn[1])
            self.kills.append(kill)
            return kill.after_s

    def _forward(self) -> EngineReports:
        if self._reports is None:
            raise RuntimeError("AgentDispatch is not attached to a controller")
        return self._reports
