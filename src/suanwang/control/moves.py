"""Make-before-break moves of long-running services, as a part of the ``Controller``.

A drained or suspected node's long-running service gets a replacement run elsewhere while it
keeps running; the old run is released only when the replacement has started. These methods
are the controller's (``Controller`` mixes them in); they live here to keep each module small.
See ``control.controller`` for the whole life of a task and ``control.runs`` for run ids.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod

from suanwang.control.ports import ControllerListener, ExecutionEngine
from suanwang.control.runs import Move, RunBook
from suanwang.model import Placement, Task, TaskSpec, TaskState
from suanwang.scheduling import Request, Scheduler


class MovesMixin:
    """The moves of a ``Controller`` (which provides the attributes and methods declared)."""

    scheduler: Scheduler
    _engine: ExecutionEngine
    _listener: ControllerListener
    _runs: RunBook
    _tasks: dict[str, Task]

    @abstractmethod
    def _now(self, task: Task) -> float: ...

    @abstractmethod
    def _set(self, task: Task) -> None: ...

    @abstractmethod
    def _hold(
        self, run_id: str, spec: TaskSpec, placement: Placement, waited_ms: float = 0.0
    ) -> None: ...

    @abstractmethod
    def _release(self, run_id: str) -> None: ...

    def _note(self, task: Task, reason: str, cause: str) -> Task:
        """Record a step of a RUNNING task's move (RUNNING -> RUNNING, same placement)."""
        task = task.transition(TaskState.RUNNING, self._now(task), reason)
        self._set(task)
        self._listener.task_changed(task, cause)
        return task

    def _start_move(self, task: Task, reason: str) -> int:
        """Place and start a replacement run of RUNNING ``task``; 1 if it began, else 0."""
        run_id = self._runs.next_run_id(task.id)
        decision = self.scheduler.schedule(Request(run_id, task.spec, task.tenant))
        placement = decision.placement
        where = task.placement.node_id if task.placement else "?"
        if placement is None:
            why = f"{reason}; no other node can take it now ({decision.status.reason})"
            self._note(task, f"{why}: it keeps running on {where}", "move-failed")
            return 0
        self._runs.begin_move(task.id, Move(run_id, placement))
        self._hold(run_id, task.spec, placement)
        self._note(
            task,
            f"{reason}; its replacement is placed on {placement.node_id} and starts before the "
            f"run on {where} is released",
            "moving",
        )
        self._engine.start(dataclasses.replace(task, id=run_id, placement=placement))
        return 1

    def _complete_move(self, task: Task) -> Task:
        """The replacement started: release the old run; the task now runs where it went."""
        old_run, move = self._runs.switch(task.id)
        self._engine.cancel(old_run)
        self._release(old_run)
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

    def _take_over(self, task: Task, reason: str) -> None:
        """The old run was lost mid-move: the replacement, already starting, becomes the run."""
        old_run, move = self._runs.switch(task.id)
        self._engine.cancel(old_run)
        self._release(old_run)
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
        move = self._runs.drop_move(task_id)
        self._engine.cancel(move.run_id)
        self._release(move.run_id)
