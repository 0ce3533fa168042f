"""The control plane's task use-cases: submit, cancel, explain and the active placements.

A submission is accepted at most once per idempotency key. Each runs as a command of the
writer and returns a ``Future``; tenant scoping as in ``plane`` (a ``scope`` of None acts
across tenants, a task of another tenant reads as absent).
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass

from suanwang.control.stores import ConflictError, Principal, check_key
from suanwang.model import Task, TaskSpec
from suanwang.service.live import Explanation
from suanwang.service.plane_core import PlaneCore
from suanwang.service.worker import Batch


@dataclass(frozen=True, slots=True)
class Submitted:
    """The answer to a submission: the task and whether this call created it."""

    task: Task
    created: bool


class PlaneTasks(PlaneCore):
    """Task use-cases of ``ControlPlane`` (see the module docstring)."""

    def submit_now(self, batch: Batch, who: str, spec: TaskSpec, tenant: str) -> Task:
        """Submit ``spec`` for ``tenant`` from a command already on the writer (deployments)."""
        task_id = uuid.uuid4().hex
        task = self.live.controller.submit(task_id, spec, tenant)
        self._recorder.new[task_id] = None
        self._audit(batch, who, "task.submit", f"task:{task_id}", spec.task_type or "")
        return task

    def submit(self, who: Principal, spec: TaskSpec, key: str | None = None) -> Future[Submitted]:
        """Accept a task for ``who``'s tenant, at most once per idempotency key.

        The future raises ``ConflictError`` when the key was used for a different spec.

        Raises:
            ValueError: the key is empty or too long (checked here, so that it cannot fail
                the commit of the requests it would share a batch with).
        """
        check_key(key)
        tenant = who.tenant

        def run(batch: Batch) -> Submitted:
            if key is not None:
                existing = batch.found.get((tenant, key))
                if existing is not None:
                    if existing.spec != spec:
                        raise ConflictError(
                            f"idempotency key {key!r} was used for another task ({existing.id})"
                        )
                    return Submitted(self._latest(existing.id) or existing, False)
            task_id = uuid.uuid4().hex
            started_s = time.perf_counter()
            task = self.live.controller.submit(task_id, spec, tenant)
            self.metrics.decision_seconds.observe(time.perf_counter() - started_s)
            self._recorder.new[task_id] = key
            if key is not None:
                batch.found[(tenant, key)] = task
            self._audit(batch, who.id, "task.submit", f"task:{task_id}", spec.task_type or "")
            return Submitted(task, True)

        return self._worker.call(run, () if key is None else ((tenant, key),))

    def cancel(self, who: Principal, task_id: str, scope: str | None) -> Future[Task]:
        """Cancel an active task; ``ConflictError`` if it is already final."""

        def run(batch: Batch) -> Task:
            task = self._visible(task_id, scope)
            if task.state.is_terminal:
                raise ConflictError(f"task {task_id} is already {task.state}")
            cancelled = self.live.controller.cancel(task_id, f"cancelled by {who.id}")
            if cancelled is None:
                raise ConflictError(f"task {task_id} is not active on this network")
            self._audit(batch, who.id, "task.cancel", f"task:{task_id}")
            return cancelled

        return self._worker.call(run)

    def explain(
        self, task_id: str, scope: str | None, node_id: str | None = None
    ) -> Future[tuple[Task, Explanation]]:
        """The task and where its spec would go now, or why nowhere (nothing is reserved).

        The future raises ``KeyError`` when ``node_id`` names no node.
        """

        def run(_: Batch) -> tuple[Task, Explanation]:
            task = self._visible(task_id, scope)
            return task, self.live.explain(task, node_id)

        return self._worker.call(run)

    def placements(self, scope: str | None, node_id: str | None, limit: int) -> Future[list[Task]]:
        """Active tasks holding a placement (on ``node_id`` when given), oldest first."""

        def run(_: Batch) -> list[Task]:
            controller, out = self.live.controller, []
            for task_id in controller.active_ids():
                task = controller.task(task_id)
                if task is None or task.placement is None:
                    continue
                if scope is not None and task.tenant != scope:
                    continue
                if node_id is not None and task.placement.node_id != node_id:
                    continue
                out.append(task)
                if len(out) >= limit:
                    break
            return out

        return self._worker.call(run)
