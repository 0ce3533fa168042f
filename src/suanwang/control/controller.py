"""The controller: takes tasks, has the scheduler place them, runs them, heals around failures.

One ``Controller`` serves live mode and the digital twin alike: it talks to the outside through
the ports (``Clock``, ``ExecutionEngine``, and a ``ControllerListener`` that persists or
measures), and decides with the real ``Scheduler``.

The life of a task here:

* ``submit`` -> the scheduler places it (SCHEDULED, reservations held) and the engine starts it;
  or it is REJECTED at once when no node could take it even on an empty network (the reason is
  that empty-network diagnosis); otherwise it waits in the queue (PENDING) for capacity.
* The queue is FIFO per kind of demand. Whenever capacity comes back (a task ends, a node
  returns) the heads of the queues are tried again, most promising first. A task waits at most
  its patience: its latency budget, else its deadline, else ``max_wait_s``; past it the task
  is REJECTED with the reason it kept being refused. For a single node with ``c`` cores and
  1-core tasks this is exactly an M/M/c queue.
* ``node_down`` / ``link_down`` (failure detection, or the twin's failure models) take every
  task that holds the node or link back to PENDING and place it again (a re-placement); a task
  re-placed more than ``max_replacements`` times FAILS. ``node_up`` / ``link_up`` return them
  to the pool.
* ``drain`` (an operator's drain, or a node suspected by failure detection) places nothing new
  on a node and moves its long-running services (``TaskSpec.long_running``) off it
  make-before-break: a replacement run is placed and started elsewhere while the task keeps
  RUNNING where it is, and only when the replacement has started is the old run cancelled and
  released (RUNNING -> RUNNING with the new placement, cause ``moved``). Should the old run be
  lost first (its node goes down, its run fails), the replacement takes over at once; should
  the replacement fail, the task keeps running where it was. Batch tasks finish where they
  are. ``node_up`` ends a drain.

Engine runs: the engine sees a task under its *run id*. That is the task id, except after a
move, when it is ``<task id>~<n>`` (two runs of one task exist while it moves); reservations
are held under run ids too, and reports are mapped back to the task.

Nothing accepted is dropped: every task ends COMPLETED, FAILED, CANCELLED or REJECTED with a
reason, and the listener hears every transition.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from suanwang.control.ports import Clock, ExecutionEngine
from suanwang.model import ACCELERATOR_KINDS, Placement, Task, TaskSpec, TaskState
from suanwang.scheduling import ClusterState, Request, Scheduler
from suanwang.scheduling.framework import Code, Status


class ControllerListener(Protocol):
    """Hears every transition the controller makes (a store, metrics, a log).

    Contract: called synchronously after each transition with the new task record and a short
    stable ``cause`` key for counting (``submitted``, ``resumed``, ``placed``, ``started``,
    ``completed``, ``failed``, ``queued``, ``cancelled``, ``replaced``, ``moving``, ``moved``,
    ``move-failed``, ``expired:<plugin>`` or ``rejected:<plugin>``). It must not call back into
    the controller.
    """

    def task_changed(self, task: Task, cause: str) -> None:
        """Record ``task`` as it now is."""
        ...


class _Silent:
    def task_changed(self, task: Task, cause: str) -> None:
        return None


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    """Tunables of the controller.

    Attributes:
        max_wait_s: Patience in the queue of a task with neither latency budget nor deadline.
        max_replacements: Re-placements a task may have before it fails.
        retries_per_release: Failed placement attempts allowed per returned capacity (bounds
            the work a completion costs while the network is overloaded).
    """

    max_wait_s: float = 3600.0
    max_replacements: int = 3
    retries_per_release: int = 4


_QueueKey = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class _Move:
    """A long-running task's replacement run, started while its current run still serves."""

    run_id: str
    placement: Placement


def _queue_key(spec: TaskSpec) -> _QueueKey:
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


class Controller:
    """Places, runs, queues and re-places tasks (see the module docstring).

    Args:
        scheduler: The brain; its state is the live view of the network this controller keeps.
        engine: Runs the placed tasks; attached to this controller here.
        clock: Time for every transition.
        listener: Hears every transition (default: nobody).
        config: Tunables.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        engine: ExecutionEngine,
        clock: Clock,
        *,
        listener: ControllerListener | None = None,
        config: ControllerConfig | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.state: ClusterState = scheduler.state
        self._engine = engine
        self._clock = clock
        self._listener: ControllerListener = listener or _Silent()
        self.config = config or ControllerConfig()
        self._tasks: dict[str, Task] = {}
        self._replacements: dict[str, int] = {}
        self._queues: dict[_QueueKey, dict[str, None]] = {}
        self._queued_key: dict[str, _QueueKey] = {}
        self._refusal: dict[str, tuple[str, str]] = {}
        # Run ids (see the module docstring) holding each node and link.
        self._on_node: dict[int, set[str]] = {}
        self._on_link: dict[int, set[str]] = {}
        self._run_of: dict[str, str] = {}  # task id -> run id, where it is not the task id
        self._task_of: dict[str, str] = {}  # run id -> task id, where it is not the task id
        self._moves: dict[str, _Move] = {}  # task id -> its replacement being started
        self._runs_made: dict[str, int] = {}  # task id -> replacement runs made (numbers them)
        self._draining: set[int] = set()
        self._node_index = {node: i for i, node in enumerate(self.state.arrays.node_ids)}
        self._link_index = {link: i for i, link in enumerate(self.state.arrays.link_ids)}
        self._empty = ClusterState(
            self.state.topology,
            hour_of_day=self.state.hour_of_day,
            efficiency=self.state.efficiency,
            node_down=self.state.node_down.copy(),
            link_down=self.state.link_down.copy(),
        )
        self._empty_scheduler = Scheduler(scheduler.profile, self._empty)
        self._feasible: dict[TaskSpec, Status] = {}
        engine.attach(self)

    # ----------------------------------------------------------------- queries

    def task(self, task_id: str) -> Task | None:
        """The task if it is still active (not yet in a final state)."""
        return self._tasks.get(task_id)

    @property
    def active(self) -> int:
        """Tasks not yet in a final state."""
        return len(self._tasks)

    def active_ids(self) -> tuple[str, ...]:
        """Ids of the tasks not yet in a final state, in order of submission."""
        return tuple(self._tasks)

    @property
    def queued(self) -> int:
        """Tasks waiting in the queue for capacity."""
        return len(self._queued_key)

    def task_of_run(self, run_id: str) -> Task | None:
        """The active task engine run ``run_id`` belongs to.

        A run id is the task id, or the id of a replacement run made while the task moves.
        """
        return self._tasks.get(self._task_of.get(run_id, run_id))

    def draining(self) -> tuple[str, ...]:
        """Nodes being drained (nothing new is placed there)."""
        ids = self.state.arrays.node_ids
        return tuple(ids[node] for node in sorted(self._draining))

    # ----------------------------------------------------------------- requests

    def submit(self, task_id: str, spec: TaskSpec, tenant: str = "") -> Task:
        """Accept a task and place it, queue it or reject it (see the module docstring).

        Raises:
            ValueError: ``task_id`` is already active.
        """
        if task_id in self._tasks:
            raise ValueError(f"task {task_id!r} is already active")
        task = Task.submit(task_id, spec, tenant, self._clock.now_s())
        self._tasks[task_id] = task
        self._listener.task_changed(task, "submitted")
        return self._place(task, queued=False)

    def resume(self, tasks: Iterable[Task]) -> int:
        """Take over non-terminal tasks after a restart and place each again; returns the count.

        Tasks that were SCHEDULED or RUNNING go back to PENDING first (their engine run is
        not known to survive the restart).
        """
        count = 0
        for stored in tasks:
            if stored.state.is_terminal or stored.id in self._tasks:
                continue
            task = stored
            if task.state is not TaskState.PENDING:
                task = task.transition(TaskState.PENDING, self._now(task), "controller restarted")
            self._tasks[task.id] = task
            self._listener.task_changed(task, "resumed")
            self._place(task, queued=False)
            count += 1
        return count

    def cancel(self, task_id: str, reason: str = "cancelled by the user") -> Task | None:
        """Cancel an active task; None if it is not active (unknown or already final)."""
        task = self._tasks.get(task_id)
        if task is None:
            return None
        if task_id in self._queued_key:
            self._dequeue(task_id)
        elif task.state in (TaskState.SCHEDULED, TaskState.RUNNING):
            run_id = self._run(task_id)
            self._engine.cancel(run_id)
            self._release(run_id)
        return self._final(task, TaskState.CANCELLED, reason, "cancelled")

    def expire(self) -> int:
        """Reject queued tasks whose patience has run out; returns how many."""
        now = self._clock.now_s()
        expired = 0
        for key in list(self._queues):
            group = self._queues[key]
            while group:
                task = self._tasks[next(iter(group))]
                if now - task.submitted_at_s <= self._patience_s(task.spec):
                    break
                self._give_up(task)  # drops the group from _queues when it empties
                expired += 1
        return expired

    # ----------------------------------------------------------------- engine reports

    def task_started(self, task_id: str) -> None:
        """The engine began run ``task_id``: SCHEDULED -> RUNNING, or a move completes."""
        owner = self._task_of.get(task_id, task_id)
        task = self._tasks.get(owner)
        if task is None:
            return
        move = self._moves.get(owner)
        if move is not None and move.run_id == task_id:
            self._complete_move(task, move)
            return
        if task.state is not TaskState.SCHEDULED or task_id != self._run(owner):
            return
        node = task.placement.node_id if task.placement else "?"
        self._set(task.transition(TaskState.RUNNING, self._now(task), f"running on {node}"))
        self._listener.task_changed(self._tasks[owner], "started")

    def task_finished(self, task_id: str, ok: bool, reason: str) -> None:
        """The engine ended run ``task_id``: release what it held, finish it, retry the queue.

        A task that is moving is handled as the module docstring says.
        """
        owner = self._task_of.get(task_id, task_id)
        task = self._tasks.get(owner)
        if task is None or task.state not in (TaskState.SCHEDULED, TaskState.RUNNING):
            return
        move = self._moves.get(owner) if self._moves else None
        if move is not None:
            if task_id == move.run_id:
                if not ok:
                    self._abort_move(owner)
                    where = task.placement.node_id if task.placement else "?"
                    why = f"its replacement on {move.placement.node_id} failed: {reason}"
                    self._note(task, f"{why}; it keeps running on {where}", "move-failed")
                    return
                task = self._complete_move(task, move)  # it did the work: it ends below
            elif task_id == self._run(owner) and not ok:
                self._take_over(task, move, f"its run failed: {reason or 'no reason given'}")
                return
        if task_id != self._run(owner):
            return  # a run released earlier
        held = self.state.reservations.held(task_id)
        self._release(task_id)
        if ok:
            if task.state is TaskState.SCHEDULED:  # done without a reported start
                self.task_started(task_id)
                task = self._tasks[owner]
            self._final(task, TaskState.COMPLETED, reason or "completed", "completed")
        else:
            self._final(task, TaskState.FAILED, reason or "failed on its node", "failed")
        if self._queues:
            self._retry_queue(None if held is None else held.node)

    # ----------------------------------------------------------------- failures

    def node_down(self, node_id: str, reason: str) -> int:
        """Take a node out of the pool and re-place its tasks; returns how many were moved."""
        node = self._node_index[node_id]
        self._draining.discard(node)
        self.state.mark_node(node, down=True)
        self._empty.mark_node(node, down=True)
        self._feasible.clear()
        return self._replace_all(self._on_node.pop(node, set()), f"node {node_id} down: {reason}")

    def drain(self, node_id: str, reason: str) -> int:
        """Place nothing new on a node; move its long-running services off make-before-break.

        Returns how many began to move (see the module docstring).

        A long-running task placed there but not yet started is simply placed again (nothing
        serves yet); batch tasks finish where they are. ``node_up`` ends the drain.
        """
        node = self._node_index[node_id]
        self.state.mark_node(node, down=True)
        self._empty.mark_node(node, down=True)
        self._feasible.clear()
        self._draining.add(node)
        why = f"node {node_id} draining: {reason}"
        moved = 0
        for run_id in sorted(self._on_node.get(node, ())):
            owner = self._task_of.get(run_id, run_id)
            task = self._tasks.get(owner)
            if task is None or not task.spec.long_running or owner in self._moves:
                continue
            if run_id != self._run(owner):
                continue
            if task.state is TaskState.RUNNING:
                moved += self._start_move(task, why)
            elif task.state is TaskState.SCHEDULED:
                moved += self._replace_all({run_id}, why)
        return moved

    def node_up(self, node_id: str) -> None:
        """Return a node to the pool (ending a drain) and try the queue on it."""
        node = self._node_index[node_id]
        self._draining.discard(node)
        self.state.mark_node(node, down=False)
        self._empty.mark_node(node, down=False)
        self._feasible.clear()
        self._retry_queue(node)

    def link_down(self, link_id: str, reason: str) -> int:
        """Take a link out of routing and re-place the tasks whose path uses it."""
        link = self._link_index[link_id]
        self.state.mark_link(link, down=True)
        self._empty.mark_link(link, down=True)
        self._feasible.clear()
        return self._replace_all(self._on_link.pop(link, set()), f"link {link_id} down: {reason}")

    def link_up(self, link_id: str) -> None:
        """Return a link to routing and try the queue."""
        link = self._link_index[link_id]
        self.state.mark_link(link, down=False)
        self._empty.mark_link(link, down=False)
        self._feasible.clear()
        self._retry_queue(None)

    # ----------------------------------------------------------------- internals

    def _now(self, task: Task) -> float:
        # A live clock may step back a little (NTP); a task's history never does.
        return max(self._clock.now_s(), task.history[-1].at_s)

    def _set(self, task: Task) -> None:
        self._tasks[task.id] = task

    def _run(self, task_id: str) -> str:
        """The id the engine and the ledger know the task's current run by."""
        return self._run_of.get(task_id, task_id)

    def _note(self, task: Task, reason: str, cause: str) -> Task:
        """Record a step of a RUNNING task's move (RUNNING -> RUNNING, same placement)."""
        task = task.transition(TaskState.RUNNING, self._now(task), reason)
        self._set(task)
        self._listener.task_changed(task, cause)
        return task

    def _start_move(self, task: Task, reason: str) -> int:
        """Place and start a replacement run of RUNNING ``task``; 1 if it began, else 0."""
        count = self._runs_made.get(task.id, 0) + 1
        run_id = f"{task.id}~{count}"
        decision = self.scheduler.schedule(Request(run_id, task.spec, task.tenant))
        placement = decision.placement
        where = task.placement.node_id if task.placement else "?"
        if placement is None:
            why = f"{reason}; no other node can take it now ({decision.status.reason})"
            self._note(task, f"{why}: it keeps running on {where}", "move-failed")
            return 0
        self._runs_made[task.id] = count
        self._task_of[run_id] = task.id
        self._moves[task.id] = _Move(run_id, placement)
        self._hold(run_id)
        self._note(
            task,
            f"{reason}; its replacement is placed on {placement.node_id} and starts before the "
            f"run on {where} is released",
            "moving",
        )
        self._engine.start(dataclasses.replace(task, id=run_id, placement=placement))
        return 1

    def _complete_move(self, task: Task, move: _Move) -> Task:
        """The replacement started: release the old run; the task now runs where it went."""
        old_run = self._run(task.id)
        self._engine.cancel(old_run)
        self._release(old_run)
        self._task_of.pop(old_run, None)
        del self._moves[task.id]
        self._run_of[task.id] = move.run_id
        where = task.placement.node_id if task.placement else "?"
        task = task.transition(
            TaskState.RUNNING,
            self._now(task),
            f"moved to {move.placement.node_id} without a break: its replacement started "
            f"before the run on {where} was released",
            move.placement,
        )
        self._set(task)
        self._listener.task_changed(task, "moved")
        return task

    def _take_over(self, task: Task, move: _Move, reason: str) -> None:
        """The old run was lost mid-move: the replacement, already starting, becomes the run."""
        old_run = self._run(task.id)
        self._engine.cancel(old_run)
        self._release(old_run)
        self._task_of.pop(old_run, None)
        del self._moves[task.id]
        self._run_of[task.id] = move.run_id
        node = move.placement.node_id
        task = task.transition(
            TaskState.PENDING, self._now(task), f"{reason}; its replacement on {node} takes over"
        )
        self._set(task)
        self._listener.task_changed(task, "replaced")
        task = task.transition(
            TaskState.SCHEDULED,
            self._now(task),
            f"placed on {node} (its replacement, started before the loss)",
            move.placement,
        )
        self._set(task)
        self._listener.task_changed(task, "placed")

    def _abort_move(self, task_id: str) -> None:
        """Stop and release a move's replacement run; the task stays where it runs."""
        move = self._moves.pop(task_id)
        self._engine.cancel(move.run_id)
        self._release(move.run_id)
        self._task_of.pop(move.run_id, None)

    def _patience_s(self, spec: TaskSpec) -> float:
        if spec.latency_budget_ms is not None:
            return spec.latency_budget_ms / 1000.0
        if spec.deadline_s is not None:
            return spec.deadline_s
        return self.config.max_wait_s

    def _place(self, task: Task, *, queued: bool) -> Task:
        """Try to place ``task`` now; queue or reject it when that fails. Returns it as it is."""
        run_id = self._run(task.id)
        decision = self.scheduler.schedule(Request(run_id, task.spec, task.tenant))
        placement = decision.placement
        if placement is not None:
            if queued:
                self._dequeue(task.id)
            task = task.transition(
                TaskState.SCHEDULED, self._now(task), f"placed on {placement.node_id}", placement
            )
            self._set(task)
            self._hold(run_id)
            self._listener.task_changed(task, "placed")
            self._engine.start(task if run_id == task.id else dataclasses.replace(task, id=run_id))
            return task
        status = decision.status
        self._refusal[task.id] = (status.plugin or "unschedulable", status.reason)
        if queued:
            return task
        if status.code is Code.ERROR:
            return self._reject(task, status)
        impossible = self._impossible(task.spec, task.tenant)
        if impossible is not None:
            return self._reject(task, impossible)
        self._enqueue(task)
        return task

    def _impossible(self, spec: TaskSpec, tenant: str) -> Status | None:
        """Why no node could take ``spec`` even on an empty network; None if one could."""
        status = self._feasible.get(spec)
        if status is None:
            probe = f"feasibility-{len(self._feasible)}"
            decision = self._empty_scheduler.schedule(Request(probe, spec, tenant))
            self._empty_scheduler.release(probe)
            status = self._feasible[spec] = decision.status
        return None if status.ok else status

    def _reject(self, task: Task, status: Status) -> Task:
        self._refusal.pop(task.id, None)
        cause = f"rejected:{status.plugin or 'none'}"
        return self._final(task, TaskState.REJECTED, status.reason, cause)

    def _enqueue(self, task: Task) -> None:
        key = _queue_key(task.spec)
        self._queues.setdefault(key, {})[task.id] = None
        self._queued_key[task.id] = key
        self._listener.task_changed(task, "queued")

    def _dequeue(self, task_id: str) -> None:
        key = self._queued_key.pop(task_id)
        group = self._queues[key]
        del group[task_id]
        if not group:
            del self._queues[key]
        self._refusal.pop(task_id, None)

    def _give_up(self, task: Task) -> None:
        plugin, reason = self._refusal.get(task.id, ("", "no capacity"))
        waited_s = self._clock.now_s() - task.submitted_at_s
        self._dequeue(task.id)
        self._final(
            task,
            TaskState.REJECTED,
            f"waited {waited_s:.3f} s, past its patience of {self._patience_s(task.spec):g} s; "
            f"last refusal: {reason}",
            f"expired:{plugin}",
        )

    def _final(self, task: Task, state: TaskState, reason: str, cause: str) -> Task:
        if task.id in self._moves:
            self._abort_move(task.id)
        task = task.transition(state, self._now(task), reason)
        del self._tasks[task.id]
        self._replacements.pop(task.id, None)
        if self._runs_made:  # only a task that has moved has a run id of its own
            self._runs_made.pop(task.id, None)
            self._task_of.pop(self._run_of.pop(task.id, task.id), None)
        self._listener.task_changed(task, cause)
        return task

    def _hold(self, run_id: str) -> None:
        held = self.state.reservations.held(run_id)
        if held is None:
            return
        self._on_node.setdefault(held.node, set()).add(run_id)
        for link in held.links:
            self._on_link.setdefault(link, set()).add(run_id)

    def _release(self, run_id: str) -> None:
        held = self.state.reservations.held(run_id)
        if held is not None:
            self._on_node.get(held.node, set()).discard(run_id)
            for link in held.links:
                self._on_link.get(link, set()).discard(run_id)
        self.scheduler.release(run_id)

    def _replace_all(self, run_ids: set[str], reason: str) -> int:
        """Re-place the tasks of runs that lost their node or path; returns how many."""
        moved = 0
        for run_id in sorted(run_ids):
            task_id = self._task_of.get(run_id, run_id)
            task = self._tasks.get(task_id)
            if task is None or task.state not in (TaskState.SCHEDULED, TaskState.RUNNING):
                continue
            move = self._moves.get(task_id)
            if move is not None and move.run_id == run_id:
                self._abort_move(task_id)
                where = task.placement.node_id if task.placement else "?"
                why = f"{reason}: its replacement there was lost; it keeps running on {where}"
                self._note(task, why, "move-failed")
                continue
            if run_id != self._run(task_id):
                continue
            if move is not None:
                self._take_over(task, move, reason)
                moved += 1
                continue
            self._engine.cancel(run_id)
            self._release(run_id)
            count = self._replacements.get(task_id, 0) + 1
            if count > self.config.max_replacements:
                why = f"{reason}; re-placed {count - 1} times already"
                self._final(task, TaskState.FAILED, why, "failed")
                continue
            self._replacements[task_id] = count
            task = task.transition(TaskState.PENDING, self._now(task), reason)
            self._set(task)
            self._listener.task_changed(task, "replaced")
            self._place(task, queued=False)
            moved += 1
        return moved

    def _fits(self, spec: TaskSpec, node: int) -> bool:
        """Whether ``node`` has the free cores, memory and devices for ``spec`` right now."""
        arrays, ledger = self.state.arrays, self.state.reservations
        if self.state.node_down[node]:
            return False
        if arrays.node_cpu_cores[node] - ledger.cpu_cores[node] < spec.cpu_cores - 1e-9:
            return False
        if arrays.node_mem_gib[node] - ledger.mem_gib[node] < spec.mem_gib - 1e-9:
            return False
        need = spec.accelerator
        if need is None:
            return True
        kind = ACCELERATOR_KINDS.index(need.kind)
        free = arrays.node_accel_count[node, kind] - ledger.accelerators[node, kind]
        return bool(free >= need.count)

    def _retry_queue(self, node: int | None) -> None:
        """Try queue heads after capacity came back (on ``node``, or anywhere when None)."""
        self.expire()
        failures = 0
        for key in list(self._queues):
            group = self._queues.get(key)
            while group:
                task = self._tasks[next(iter(group))]
                if node is not None and not self._fits(task.spec, node):
                    break
                if self._place(task, queued=True).state is not TaskState.SCHEDULED:
                    failures += 1
                    break
                group = self._queues.get(key)
            if failures >= self.config.retries_per_release:
                break
        if failures and len(self._queues) > 1:
            # Start the next round with another group, so that no kind of demand starves.
            first = next(iter(self._queues))
            self._queues[first] = self._queues.pop(first)


def nodes_by_state(state: ClusterState) -> dict[str, int]:
    """Count of nodes up and down (for health and metrics)."""
    down = int(np.count_nonzero(state.node_down))
    return {"up": len(state.node_down) - down, "down": down}
