"""What every group of the control plane's use-cases shares: its state and the helpers on it.

``ControlPlane`` (``plane``) is ``PlaneCore`` plus the use-case groups ``plane_tasks``,
``plane_topology`` and ``plane_agents``; each group reads the attributes declared here, which
``ControlPlane.__init__`` sets before anything runs. Helpers that touch the controller run on
the writer thread (inside a command given to ``call``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from suanwang.control.controller import ControllerConfig
from suanwang.control.ports import Clock, DispatchFactory
from suanwang.control.stores import AuditEvent, NotFoundError, Stores, TaskStore
from suanwang.model import Task
from suanwang.scheduling import Profile
from suanwang.scheduling.leases import NodeLeases
from suanwang.service.agents import AgentRegistry
from suanwang.service.attest import Attestor
from suanwang.service.health import HealthMonitor
from suanwang.service.joining import Joining
from suanwang.service.live import LiveNetwork
from suanwang.service.livefile import LiveScenarioFile, Staged
from suanwang.service.metrics import PlaneMetrics
from suanwang.service.registry import Registry
from suanwang.service.worker import Batch, Recorder, Worker

T = TypeVar("T")


class PlaneCore:
    """The control plane's shared state (set by ``ControlPlane.__init__``) and helpers."""

    stores: Stores
    clock: Clock
    metrics: PlaneMetrics
    agents: AgentRegistry
    attestor: Attestor
    joining: Joining
    registry: Registry
    health: HealthMonitor | None
    node_leases: NodeLeases
    live: LiveNetwork
    _profile: Profile
    _config: ControllerConfig | None
    _dispatch: DispatchFactory
    _live_file: LiveScenarioFile | None
    _staged: tuple[Staged, float] | None
    _recorder: Recorder
    _worker: Worker

    @property
    def tasks(self) -> TaskStore:
        """The task store, for reads."""
        return self.stores.tasks

    def _audit(self, batch: Batch, who: str, action: str, target: str, detail: str = "") -> None:
        batch.audit.append(AuditEvent(who, action, target, detail, self.clock.now_s()))

    audit = _audit
    """Add an audit entry to the writer's batch (for use-cases run as writer commands)."""

    def call(self, command: Callable[[Batch], T]) -> Future[T]:
        """Run ``command`` on the writer; its batch commits before the future resolves."""
        return self._worker.call(command)

    def _latest(self, task_id: str) -> Task | None:
        """The newest record of a task the worker knows of (None: ask the store)."""
        return self._recorder.dirty.get(task_id) or self.live.controller.task(task_id)

    def _visible(self, task_id: str, scope: str | None) -> Task:
        task = self._latest(task_id) or self.stores.tasks.get(task_id, scope)
        if task is None or (scope is not None and task.tenant != scope):
            raise NotFoundError(f"task {task_id!r} does not exist")
        return task
