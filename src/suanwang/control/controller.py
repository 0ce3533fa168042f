"""The controller: takes tasks, has the scheduler place them, runs them, heals around failures.

One ``Controller`` serves live mode and the digital twin alike: it talks to the outside through
the ports (``Clock``, ``ExecutionEngine``, and a ``ControllerListener`` that persists or
measures), and decides with the real ``Scheduler``.

The life of a task here:

* ``submit`` -> the scheduler places it (SCHEDULED, reservations held) and the engine starts it;
  or it is REJECTED at once when the scheduler says UNRESOLVABLE (no node could take it even on
  an idle network: the reason is the scheduler's); otherwise it waits in the queue (PENDING,
  ``control.waiting``) for capacity, with a wait predicted from the runs the controller holds.
* Whenever capacity comes back (a task ends, a node returns) the queue is tried again in its
  order of service: earliest deadline first, then work without one by submission, with
  backfill (``control.waiting``). A task waits at most its patience: its
  latency budget, else its deadline, else ``max_wait_s``; past it the task is REJECTED with the
  reason it kept being refused. A task tried from the queue is scheduled with the time it has
  waited (``Request.waited_ms``), so its budget is judged end to end. For a single node with
  ``c`` cores and 1-core tasks this is exactly an M/M/c queue.
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

Engine runs: the engine sees a task under its *run id* (``control.runs``). That is the task id,
except after a move, when it is ``<task id>~<n>`` (two runs of one task exist while it moves);
reservations are held under run ids too, and reports are mapped back to the task.

Nothing accepted is dropped: every task ends COMPLETED, FAILED, CANCELLED or REJECTED with a
reason, and the listener hears every transition.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from suanwang.control.batching import BatchMixin
from suanwang.control.config import ControllerConfig
from suanwang.control.moves import MovesMixin
from suanwang.control.ports import Clock, ControllerListener, ExecutionEngine
from suanwang.control.runs import RunBook
from suanwang.control.waiting import ReleaseBook, WaitQueue
from suanwang.control.windows import WindowMixin
from suanwang.model import ACCELERATOR_KINDS, Placement, Task, TaskSpec, TaskState
from suanwang.scheduling import ClusterState, Request, Scheduler
from suanwang.scheduling.framework import Code, Status

__all__ = ["Controller", "ControllerConfig"]  # the config is read where the controller is built


class _Silent:
    def task_changed(self, task: Task, cause: str) -> None:
        return None


class Controller(MovesMixin, WindowMixin, BatchMixin):
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
        self._queue = WaitQueue()
        self._releases = ReleaseBook()
        self._predicted: dict[str, float | None] = {}  # queued task -> wait predicted, s
        self._runs = RunBook()
        self._draining: set[int] = set()
        self._open_window()
        self._node_index = {node: i for i, node in enumerate(self.state.arrays.node_ids)}
        self._link_index = {link: i for i, link in enumerate(self.state.arrays.link_ids)}
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
        return len(self._queue)

    def predicted_wait_s(self, task_id: str) -> float | None:
        """The wait predicted when ``task_id`` joined the queue (None: nothing to go by).

        Kept while the task is active, so a listener can compare it with the wait that
        happened when the task is placed (see ``control.waiting``).
        """
        return self._predicted.get(task_id)

    def task_of_run(self, run_id: str) -> Task | None:
        """The active task engine run ``run_id`` belongs to.

        A run id is the task id, or the id of a replacement run made while the task moves.
        """
        return self._tasks.get(self._runs.owner(run_id))

    def draining(self) -> tuple[str, ...]:
        """Nodes being drained (nothing new is placed there)."""
        ids = self.state.arrays.node_ids
        return tuple(ids[node] for node in sorted(self._draining))

    def runs_on(self, node_id: str) -> int:
        """Engine runs (tasks and their replacements) placed on ``node_id`` now."""
        return len(self._runs.on_node(self._node_index[node_id]))

    def grow(self, scheduler: Scheduler) -> None:
        """Go on with ``scheduler``, whose state is this one's over a topology that grew.

        The new topology lists the old nodes and links first, in order, so every index held
        (runs, drains, reservations carried with ``Reservations.carried_to``) stays right; the
        tasks, runs and queue go on untouched. Call on the writer thread.
        """
        self.scheduler = scheduler
        self.state = scheduler.state
        self._node_index = {node: i for i, node in enumerate(self.state.arrays.node_ids)}
        self._link_index = {link: i for i, link in enumerate(self.state.arrays.link_ids)}
        self._retry_queue(None)

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
        if self._windowed(spec):
            self._join_window(task)
            return task
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
        self._leave_window(task_id)  # a task held there is PENDING: nothing else holds it
        if task_id in self._queue:
            self._queue.remove(task_id)
        elif task.state in (TaskState.SCHEDULED, TaskState.RUNNING):
            run_id = self._runs.run(task_id)
            self._engine.cancel(run_id)
            self._release(run_id)
        return self._final(task, TaskState.CANCELLED, reason, "cancelled")

    def expire(self) -> int:
        """Reject queued tasks whose patience has run out; returns how many."""
        expired = 0
        for task_id in self._queue.expired(self._clock.now_s()):
            self._give_up(self._tasks[task_id])
            expired += 1
        return expired

    # ----------------------------------------------------------------- engine reports

    def task_started(self, task_id: str) -> None:
        """The engine began run ``task_id``: SCHEDULED -> RUNNING, or a move completes.

        Its input has arrived, so it no longer shares its path's links with the flows a new
        task's transfer estimate counts.
        """
        self.state.reservations.input_arrived(task_id)
        owner = self._runs.owner(task_id)
        task = self._tasks.get(owner)
        if task is None:
            return
        move = self._runs.move(owner)
        if move is not None and move.run_id == task_id:
            self._complete_move(task)
            return
        if task.state is not TaskState.SCHEDULED or task_id != self._runs.run(owner):
            return
        node = task.placement.node_id if task.placement else "?"
        self._set(task.transition(TaskState.RUNNING, self._now(task), f"running on {node}"))
        self._listener.task_changed(self._tasks[owner], "started")

    def task_finished(self, task_id: str, ok: bool, reason: str) -> None:
        """The engine ended run ``task_id``: release what it held, finish it, retry the queue.

        A task that is moving is handled as the module docstring says.
        """
        owner = self._runs.owner(task_id)
        task = self._tasks.get(owner)
        if task is None or task.state not in (TaskState.SCHEDULED, TaskState.RUNNING):
            return
        move = self._runs.move(owner)
        if move is not None:
            if task_id == move.run_id:
                if not ok:
                    self._abort_move(owner)
                    where = task.placement.node_id if task.placement else "?"
                    why = f"its replacement on {move.placement.node_id} failed: {reason}"
                    self._note(task, f"{why}; it keeps running on {where}", "move-failed")
                    return
                task = self._complete_move(task)  # it did the work: it ends below
            elif task_id == self._runs.run(owner) and not ok:
                self._take_over(task, f"its run failed: {reason or 'no reason given'}")
                return
        if task_id != self._runs.run(owner):
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
        self._capacity_back(None if held is None else held.node)

    # ----------------------------------------------------------------- failures

    def node_down(self, node_id: str, reason: str) -> int:
        """Take a node out of the pool and re-place its tasks; returns how many were moved."""
        node = self._node_index[node_id]
        self._draining.discard(node)
        self.state.mark_node(node, down=True)
        return self._replace_all(self._runs.take_node(node), f"node {node_id} down: {reason}")

    def drain(self, node_id: str, reason: str) -> int:
        """Place nothing new on a node; move its long-running services off make-before-break.

        Returns how many began to move (see the module docstring).

        A long-running task placed there but not yet started is simply placed again (nothing
        serves yet); batch tasks finish where they are. ``node_up`` ends the drain.
        """
        node = self._node_index[node_id]
        self.state.mark_node(node, down=True)
        self._draining.add(node)
        why = f"node {node_id} draining: {reason}"
        moved = 0
        for run_id in sorted(self._runs.on_node(node)):
            owner = self._runs.owner(run_id)
            task = self._tasks.get(owner)
            if task is None or not task.spec.long_running or self._runs.move(owner):
                continue
            if run_id != self._runs.run(owner):
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
        self._retry_queue(node)

    def link_down(self, link_id: str, reason: str) -> int:
        """Take a link out of routing and re-place the tasks whose path uses it."""
        link = self._link_index[link_id]
        self.state.mark_link(link, down=True)
        return self._replace_all(self._runs.take_link(link), f"link {link_id} down: {reason}")

    def link_up(self, link_id: str) -> None:
        """Return a link to routing and try the queue."""
        self.state.mark_link(self._link_index[link_id], down=False)
        self._retry_queue(None)

    # ----------------------------------------------------------------- internals

    def _now(self, task: Task) -> float:
        # A live clock may step back a little (NTP); a task's history never does.
        return max(self._clock.now_s(), task.history[-1].at_s)

    def _set(self, task: Task) -> None:
        self._tasks[task.id] = task

    def _patience_s(self, spec: TaskSpec) -> float:
        if spec.latency_budget_ms is not None:
            return spec.latency_budget_ms / 1000.0
        if spec.deadline_s is not None:
            return spec.deadline_s
        return self.config.max_wait_s

    def _place(self, task: Task, *, queued: bool) -> Task:
        """Try to place ``task`` now; queue or reject it when that fails. Returns it as it is."""
        run_id = self._runs.run(task.id)
        # From the queue, the time waited since the task became PENDING counts against its
        # budget (the queue adds no transition, so that is the time of the last one).
        waited_ms = (self._clock.now_s() - task.history[-1].at_s) * 1000.0 if queued else 0.0
        request = Request(run_id, task.spec, task.tenant, waited_ms=max(waited_ms, 0.0))
        decision = self.scheduler.schedule(request)
        placement = decision.placement
        if placement is not None:
            if queued:
                self._queue.remove(task.id)
            return self._start(task, placement, waited_ms)
        status = decision.status
        if queued:
            self._queue.refused(task.id, status.plugin or "unschedulable", status.reason)
            return task
        if status.code in (Code.ERROR, Code.UNRESOLVABLE):
            return self._reject(task, status)
        self._enqueue(task, status)
        return task

    def _start(self, task: Task, placement: Placement, waited_ms: float) -> Task:
        """The scheduler placed ``task``'s run (it holds the reservation): start it."""
        run_id = self._runs.run(task.id)
        task = task.transition(
            TaskState.SCHEDULED, self._now(task), f"placed on {placement.node_id}", placement
        )
        self._set(task)
        self._hold(run_id, task.spec, placement, waited_ms)
        self._listener.task_changed(task, "placed")
        self._dispatch(task if run_id == task.id else dataclasses.replace(task, id=run_id))
        return task

    def _reject(self, task: Task, status: Status) -> Task:
        cause = f"rejected:{status.plugin or 'none'}"
        return self._final(task, TaskState.REJECTED, status.reason, cause)

    def _enqueue(self, task: Task, status: Status) -> None:
        ahead = self._queue.add(task, self._patience_s(task.spec))
        self._queue.refused(task.id, status.plugin or "unschedulable", status.reason)
        now_s = self._clock.now_s()
        self._predicted[task.id] = self._releases.predict_wait_s(task.spec, ahead, now_s)
        self._listener.task_changed(task, "queued")

    def _give_up(self, task: Task) -> None:
        refusal = self._queue.refusal(task.id)
        waited_s = self._clock.now_s() - task.submitted_at_s
        self._queue.remove(task.id)
        self._final(
            task,
            TaskState.REJECTED,
            f"waited {waited_s:.3f} s, past its patience of {self._patience_s(task.spec):g} s; "
            f"last refusal: {refusal.reason}",
            f"expired:{refusal.plugin}",
        )

    def _final(self, task: Task, state: TaskState, reason: str, cause: str) -> Task:
        if self._runs.move(task.id) is not None:
            self._abort_move(task.id)
        task = task.transition(state, self._now(task), reason)
        del self._tasks[task.id]
        self._replacements.pop(task.id, None)
        self._runs.forget(task.id)
        self._listener.task_changed(task, cause)
        self._predicted.pop(task.id, None)
        return task

    def _hold(
        self, run_id: str, spec: TaskSpec, placement: Placement, waited_ms: float = 0.0
    ) -> None:
        held = self.state.reservations.held(run_id)
        if held is None:
            return
        self._runs.hold(run_id, held)
        self.state.reservations.input_moving(run_id)  # the engine starts it next
        # It holds its resources from now until its input is in, computed and sent back.
        estimate = placement.estimate
        holding_ms = estimate.network_ms + estimate.compute_ms
        holding_ms += max(estimate.queueing_ms - waited_ms, 0.0)  # contention stretches it
        self._releases.hold(run_id, spec, self._clock.now_s() + holding_ms / 1000.0)

    def _release(self, run_id: str) -> None:
        held = self.state.reservations.held(run_id)
        if held is not None:
            self._runs.release(run_id, held)
        self._releases.release(run_id)
        self.scheduler.release(run_id)

    def _replace_all(self, run_ids: set[str], reason: str) -> int:
        """Re-place the tasks of runs that lost their node or path; returns how many."""
        moved = 0
        for run_id in sorted(run_ids):
            task_id = self._runs.owner(run_id)
            task = self._tasks.get(task_id)
            if task is None or task.state not in (TaskState.SCHEDULED, TaskState.RUNNING):
                continue
            move = self._runs.move(task_id)
            if move is not None and move.run_id == run_id:
                self._abort_move(task_id)
                where = task.placement.node_id if task.placement else "?"
                why = f"{reason}: its replacement there was lost; it keeps running on {where}"
                self._note(task, why, "move-failed")
                continue
            if run_id != self._runs.run(task_id):
                continue
            if move is not None:
                self._take_over(task, reason)
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

    def retry_queued(self) -> None:
        """Try the queue heads again after the measured state changed (writer thread).

        Releases, nodes and links coming back retry the queue themselves; a fresher agent
        report (a node measured free again), a new hour or a changed latency frees nothing in
        the ledger, so the live plane calls this after each feed tick: without it a task
        queued while a node was measured busy would wait for an unrelated release.
        """
        if self._queue:
            self._retry_queue(None)

    def _retry_queue(self, node: int | None) -> None:
        """Serve the queue after capacity came back (on ``node``, or anywhere when None).

        In the queue's order of service (``WaitQueue.in_order``); a task that does not fit
        ``node`` is left waiting without asking the scheduler, and the pass ends after
        ``retries_per_release`` refusals.
        """
        self.expire()
        failures = 0
        for task_id in self._queue.in_order():
            task = self._tasks[task_id]
            if node is not None and not self._fits(task.spec, node):
                continue  # left waiting: the rest of its demand waits too
            if self._place(task, queued=True).state is not TaskState.SCHEDULED:
                failures += 1
                if failures >= self.config.retries_per_release:
                    break


def nodes_by_state(state: ClusterState) -> dict[str, int]:
    """Count of nodes up and down (for health and metrics)."""
    down = int(np.count_nonzero(state.node_down))
    return {"up": len(state.node_down) - down, "down": down}
