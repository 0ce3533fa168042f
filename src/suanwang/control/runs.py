"""The controller's book of engine runs: whose run is whose, what each holds, moves under way.

The engine and the ledger know a task by its *run id*: the task id, except after a move, when
it is ``<task id>~<n>`` (two runs of one task exist while a long-running service moves, its
replacement started before the old run is released). ``RunBook`` maps runs to tasks and back,
numbers replacement runs, keeps the move under way per task, and indexes the runs holding each
node and link (what a lost node or link must re-place).
"""

from __future__ import annotations

from dataclasses import dataclass

from suanwang.model import Placement
from suanwang.scheduling.reservations import Reservation


@dataclass(frozen=True, slots=True)
class Move:
    """A long-running task's replacement run, started while its current run still serves."""

    run_id: str
    placement: Placement


class RunBook:
    """Runs of the active tasks (see the module docstring)."""

    def __init__(self) -> None:
        self._run_of: dict[str, str] = {}  # task id -> run id, where it is not the task id
        self._task_of: dict[str, str] = {}  # run id -> task id, where it is not the task id
        self._moves: dict[str, Move] = {}  # task id -> its replacement being started
        self._made: dict[str, int] = {}  # task id -> replacement runs made (numbers them)
        self._on_node: dict[int, set[str]] = {}
        self._on_link: dict[int, set[str]] = {}

    # ----------------------------------------------------------------- ids

    def run(self, task_id: str) -> str:
        """The id the engine and the ledger know the task's current run by."""
        return self._run_of.get(task_id, task_id)

    def owner(self, run_id: str) -> str:
        """The task run ``run_id`` belongs to."""
        return self._task_of.get(run_id, run_id)

    def next_run_id(self, task_id: str) -> str:
        """The id the task's next replacement run would get (nothing is recorded)."""
        return f"{task_id}~{self._made.get(task_id, 0) + 1}"

    # ----------------------------------------------------------------- moves

    def move(self, task_id: str) -> Move | None:
        """The move under way of ``task_id``, if any."""
        return self._moves.get(task_id) if self._moves else None

    def begin_move(self, task_id: str, move: Move) -> None:
        """Record a replacement run placed for ``task_id`` (its id from ``next_run_id``)."""
        self._made[task_id] = self._made.get(task_id, 0) + 1
        self._task_of[move.run_id] = task_id
        self._moves[task_id] = move

    def switch(self, task_id: str) -> tuple[str, Move]:
        """The move's run becomes the task's run; returns the old run id and the move."""
        move = self._moves.pop(task_id)
        old_run = self.run(task_id)
        self._task_of.pop(old_run, None)
        self._run_of[task_id] = move.run_id
        return old_run, move

    def drop_move(self, task_id: str) -> Move:
        """Forget the move of ``task_id`` (its replacement is stopped); returns it."""
        move = self._moves.pop(task_id)
        self._task_of.pop(move.run_id, None)
        return move

    def forget(self, task_id: str) -> None:
        """The task ended: forget its run ids (its move must have been dropped first)."""
        if self._made:  # only a task that has moved has a run id of its own
            self._made.pop(task_id, None)
            self._task_of.pop(self._run_of.pop(task_id, task_id), None)

    # ----------------------------------------------------------------- holdings

    def hold(self, run_id: str, held: Reservation) -> None:
        """Run ``run_id`` holds ``held``'s node and links."""
        self._on_node.setdefault(held.node, set()).add(run_id)
        for link in held.links:
            self._on_link.setdefault(link, set()).add(run_id)

    def release(self, run_id: str, held: Reservation) -> None:
        """Run ``run_id`` no longer holds ``held``'s node and links."""
        self._on_node.get(held.node, set()).discard(run_id)
        for link in held.links:
            self._on_link.get(link, set()).discard(run_id)

    def on_node(self, node: int) -> frozenset[str]:
        """Runs holding node index ``node``."""
        return frozenset(self._on_node.get(node, ()))

    def take_node(self, node: int) -> set[str]:
        """Runs holding node index ``node``, no longer indexed there (the node is lost)."""
        return self._on_node.pop(node, set())

    def take_link(self, link: int) -> set[str]:
        """Runs whose path uses link index ``link``, no longer indexed there (it is lost)."""
        return self._on_link.pop(link, set())
