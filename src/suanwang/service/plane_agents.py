"""The control plane's agent use-cases: pulls, reports, key binding and signed metrics.

Reports and audit entries run as commands of the writer (a ``Future``); pulls and metric
ingestion do not (the dispatch and the aggregator's lock make them thread-safe). The writer's
tick runs ``_agents_tick``: dispatch timeouts and the write-behind of report marks.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future

from suanwang.control.stores import ConflictError, NotFoundError, Principal, StoreError
from suanwang.model import Task
from suanwang.security import SignedEnvelope, Verdict, key_id_of
from suanwang.service.joining import RAW_KEY_BYTES
from suanwang.service.plane_core import PlaneCore
from suanwang.service.worker import Batch

log = logging.getLogger(__name__)

_ADMIT_TIMEOUT_S = 30.0
"""Longest a key binding waits for the writer to return its no-agent node to the pool."""


class PlaneAgents(PlaneCore):
    """Agent use-cases of ``ControlPlane`` (see the module docstring)."""

    def _agents_tick(self, batch: Batch) -> None:
        """Dispatch timeout and the write-behind of report marks (writer thread)."""
        swept = self.agents.sweep(self.live)
        for node_id, moved in swept.no_agent.items():
            detail = f"no agent took its tasks; {moved} placed again"
            self._audit(batch, "system", "node.no-agent", f"node:{node_id}", detail)
        try:
            self.agents.flush_marks()
        except StoreError:
            log.warning("report marks not stored yet; retried at the next tick", exc_info=True)

    def pull(self, node_id: str, limit: int) -> list[Task]:
        """Published tasks for ``node_id``'s agent (thread-safe; no commit needed)."""
        return self.live.dispatch.pull(node_id, limit)

    def max_run_s(self, tenant: str) -> float | None:
        """Longest a task of ``tenant`` may run before its agent stops it (None: no limit)."""
        return self.agents.policy.run_limit_s(tenant)

    def report(
        self,
        who: Principal,
        node_id: str,
        task_id: str,
        *,
        finished: bool,
        ok: bool,
        reason: str,
        measured_compute_ms: float | None = None,
    ) -> Future[Task]:
        """An agent's report that a task of its node started, or finished (``ok`` or not).

        A finished, ok report with the compute time the agent measured also teaches the
        live efficiency table (``LiveNetwork.learn``).
        """

        def run(batch: Batch) -> Task:
            dispatch = self.live.dispatch
            if dispatch.node_of(task_id) != node_id:
                raise NotFoundError(f"task {task_id!r} is not dispatched to node {node_id}")
            # The agent knows the task by its run id: the task id, or a replacement's id.
            placed = self.live.controller.task_of_run(task_id)
            owner = task_id if placed is None else placed.id
            if finished and ok and measured_compute_ms is not None and placed is not None:
                self.live.learn(placed, measured_compute_ms)
            if finished:
                accepted = dispatch.report_finished(task_id, node_id, ok, reason)
            else:
                accepted = dispatch.report_started(task_id, node_id)
            if not accepted:
                raise ConflictError(f"task {task_id} was already reported started")
            event = "finished" if finished else "started"
            detail = reason if owner == task_id else f"run {task_id}: {reason}"
            self._audit(batch, who.id, f"task.{event}", f"task:{owner}", detail)
            task = self._latest(owner)
            assert task is not None  # the report just moved it, so it is dirty
            return task

        return self._worker.call(run)

    def bind_agent_key(self, who: Principal, node_id: str, public_key: bytes) -> str:
        """Let ``who``'s Ed25519 key sign metric reports for ``node_id``; returns its key id.

        The binding is stored before this returns (it survives a restart); a ``no-agent``
        node is then back in the pool.

        Raises:
            ValueError: the key is not a raw Ed25519 public key or not the one bound to ``who``.
            NotFoundError: the node does not exist.
        """
        live = self.live
        if node_id not in live.scenario.topology.nodes:
            raise NotFoundError(f"node {node_id!r} does not exist")
        if len(public_key) != RAW_KEY_BYTES:
            raise ValueError(f"a raw Ed25519 public key has {RAW_KEY_BYTES} bytes")
        key_id = key_id_of(public_key)
        if key_id != who.agent_key_id:
            raise ValueError(f"key {key_id} is not the key bound to principal {who.id}")
        self.agents.bind(live, who, node_id, public_key, key_id)
        self.attestor.join(node_id)
        if self.health is not None:
            self.health.watch(node_id)
        if node_id in live.no_agent_nodes:
            admitted = self._worker.call(lambda _: self.agents.admit(live, node_id))
            admitted.result(_ADMIT_TIMEOUT_S)
        return key_id

    def ingest(self, envelope: SignedEnvelope) -> Verdict:
        """Verify a signed metric report and apply it (see ``Aggregator.ingest``)."""
        live = self.live
        with live.aggregator_lock:
            return live.aggregator.ingest(envelope).verdict

    def record(self, who: Principal, action: str, target: str, detail: str = "") -> Future[None]:
        """Write an audit entry with the next group commit."""
        return self._worker.call(lambda batch: self._audit(batch, who.id, action, target, detail))
