"""Deployments: long-running services kept at an autoscaled number of replicas.

A deployment names a replica's task template (a long-running ``TaskSpec``) and its scaling
policy (``control.autoscale``). At every writer tick the reconciler, for each deployment:

1. forgets replicas whose task ended (completed, failed, cancelled, rejected) and cancels those
   that fail the health check (the task runs on a node that is down, quarantined, retired or
   has no agent: the controller re-places tasks of a node it takes down itself, so this catches
   what it does not move);
2. measures each running replica's load: its node's CPU utilisation as the scheduler sees it
   (reserved share, or the share the node's agent measured where higher) and decides the
   desired count (scale up at once, down after the stabilisation window);
3. submits missing replicas to the live scheduler as ordinary tasks of the deployment's tenant,
   asking them to avoid the sites that already hold one (``TaskSpec.avoid_sites``); when no
   other site can take one, it is asked again without that, and the spread is skipped until a
   replica goes away; a replica the scheduler rejects even so is not kept: the refusal is an
   event with its reason, and the next try waits ``RETRY_BASE_S`` doubled per refusal in a row
   (at most ``RETRY_MAX_S``; an update of the deployment tries at once), so a template no node
   can take costs one rejected task per wait, not one per tick;
4. cancels surplus replicas: waiting ones first, then on the site holding the most, newest first.

Deployment records are kept by the plane in memory (not durable): a restart forgets them, while
their replicas, stored tasks like any other, resume and run on as plain tasks until cancelled.
Every method runs on the writer thread (through ``ControlPlane.call``).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from suanwang.control.autoscale import Recommendation, ScaleDecision, ScalePolicy, decide
from suanwang.control.stores import ConflictError, NotFoundError, Principal
from suanwang.model import Task, TaskSpec, TaskState

if TYPE_CHECKING:
    from suanwang.service.plane import ControlPlane
    from suanwang.service.worker import Batch

_SEGMENT = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
NAME_RE = re.compile(rf"^{_SEGMENT}(/{_SEGMENT})?$")
"""A deployment's name: lower-case letters, digits and inner hyphens, at most 63 characters;
a template's component runs as ``<template>/<component>`` (``service.templates``)."""

MAX_DEPLOYMENTS = 256
"""Most deployments one plane keeps."""

RETRY_BASE_S = 1.0
"""Wait after a deployment's first rejected replica before it asks again (doubled per refusal)."""

RETRY_MAX_S = 60.0
"""Longest wait between two placements of a deployment whose replicas are rejected."""

_UNHEALTHY_NODES = frozenset({"down", "quarantined", "retired", "no-agent"})


@dataclass(frozen=True, slots=True)
class Deployment:
    """What a tenant asks for.

    Attributes:
        name: Unique name (``NAME_RE``).
        tenant: Owner; its replicas are tasks of this tenant.
        template: A replica's demand (made long-running).
        policy: Replica bounds, target load and the stabilisation window.
    """

    name: str
    tenant: str
    template: TaskSpec
    policy: ScalePolicy

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise ValueError(
                f"name must be lower-case letters, digits and inner hyphens (at most 63; "
                f"<template>/<component> for a template's), got {self.name!r}"
            )
        if self.template.avoid_sites:
            raise ValueError("template.avoid_sites is set by the deployment's spread, not given")
        if not self.template.long_running:
            object.__setattr__(
                self, "template", dataclasses.replace(self.template, long_running=True)
            )


@dataclass(frozen=True, slots=True)
class ReplicaView:
    """One replica as shown: its task, state, node and site (None while not placed)."""

    task_id: str
    state: TaskState
    node_id: str | None
    site_id: str | None


@dataclass(frozen=True, slots=True)
class DeploymentView:
    """A deployment with its replicas, desired count and last scaling decision."""

    deployment: Deployment
    desired: int
    replicas: tuple[ReplicaView, ...]
    last_decision: ScaleDecision | None
    events: tuple[str, ...]


@dataclass(slots=True)
class _Kept:
    deployment: Deployment
    desired: int
    replicas: list[str] = field(default_factory=list)
    history: tuple[Recommendation, ...] = ()
    last: ScaleDecision | None = None
    events: list[str] = field(default_factory=list)
    spread_refused: frozenset[str] | None = None  # an avoid set no node outside could take
    refusals: int = 0  # replicas rejected in a row
    retry_at_s: float = 0.0  # no placement before this after a rejection

    def note(self, event: str) -> None:
        self.events.append(event)
        del self.events[:-20]  # the last twenty are what a reader needs


class Deployments:
    """The plane's deployments (module docstring); writer thread only."""

    def __init__(self, plane: ControlPlane) -> None:
        self._plane = plane
        self._kept: dict[str, _Kept] = {}

    # ----------------------------------------------------------------- commands

    def apply(self, batch: Batch, who: Principal, deployment: Deployment) -> DeploymentView:
        """Create ``deployment`` or replace its template and policy (replicas carry on).

        Raises:
            ConflictError: the name belongs to another tenant, or too many deployments.
        """
        kept = self._kept.get(deployment.name)
        if kept is not None and kept.deployment.tenant != deployment.tenant:
            raise ConflictError(f"deployment name {deployment.name!r} is taken")
        if kept is None:
            if len(self._kept) >= MAX_DEPLOYMENTS:
                raise ConflictError(f"at most {MAX_DEPLOYMENTS} deployments")
            kept = self._kept[deployment.name] = _Kept(deployment, deployment.policy.min_replicas)
            kept.note(f"created with {kept.desired} replica(s)")
        else:
            kept.deployment = deployment
            kept.desired = deployment.policy.clamp(kept.desired)
            kept.refusals, kept.retry_at_s = 0, 0.0  # a new template may fit: try at once
            kept.note("updated")
        detail = f"min {deployment.policy.min_replicas} max {deployment.policy.max_replicas}"
        self._plane.audit(
            batch, who.id, "deployment.apply", f"deployment:{deployment.name}", detail
        )
        self._reconcile(batch, kept)
        return self._view(kept)

    def delete(self, batch: Batch, who: Principal, name: str, scope: str | None) -> int:
        """Remove a deployment and cancel its replicas; returns how many were cancelled."""
        kept = self._find(name, scope)
        cancelled = sum(self._cancel(tid, f"deployment {name} deleted") for tid in kept.replicas)
        del self._kept[name]
        self._plane.audit(batch, who.id, "deployment.delete", f"deployment:{name}")
        return cancelled

    def get(self, name: str, scope: str | None) -> DeploymentView:
        """One deployment (``NotFoundError`` when absent or another tenant's)."""
        return self._view(self._find(name, scope))

    def listed(self, scope: str | None) -> list[DeploymentView]:
        """Every deployment of ``scope`` (all for None), by name."""
        return [
            self._view(kept)
            for name, kept in sorted(self._kept.items())
            if scope is None or kept.deployment.tenant == scope
        ]

    def tick(self, batch: Batch) -> None:
        """Reconcile every deployment (the writer's tick)."""
        for kept in list(self._kept.values()):
            self._reconcile(batch, kept)

    # ----------------------------------------------------------------- reconciler

    def _reconcile(self, batch: Batch, kept: _Kept) -> None:
        live, now_s = self._plane.live, self._plane.clock.now_s()
        state = live.controller.state
        node_index = {node_id: i for i, node_id in enumerate(state.arrays.node_ids)}
        utilisation = state.cpu_utilisation()
        loads: list[float] = []
        healthy: list[str] = []
        for task_id in kept.replicas:
            task = live.controller.task(task_id)
            if task is None or task.state.is_terminal:
                kept.note(f"replica {task_id[:8]} ended; replaced")
                kept.spread_refused = None
                continue
            node_id = task.placement.node_id if task.placement is not None else None
            if node_id is not None and live.node_state(node_id) in _UNHEALTHY_NODES:
                self._cancel(task_id, f"node {node_id} is {live.node_state(node_id)}")
                kept.note(f"replica {task_id[:8]} on {node_id} unhealthy; replaced")
                kept.spread_refused = None
                continue
            healthy.append(task_id)
            if task.state is TaskState.RUNNING and node_id in node_index:
                loads.append(float(utilisation[node_index[node_id]]))
        kept.replicas = healthy
        decision, kept.history = decide(
            kept.deployment.policy, kept.history, now_s, kept.desired, loads
        )
        kept.last = decision
        if decision.desired != kept.desired:
            target = f"deployment:{kept.deployment.name}"
            self._plane.audit(batch, "system", "deployment.scale", target, decision.reason)
            kept.note(decision.reason)
            kept.desired = decision.desired
        while len(kept.replicas) < kept.desired and now_s >= kept.retry_at_s:
            task = self._place(batch, kept)
            if task.state is TaskState.REJECTED:
                wait_s = min(RETRY_MAX_S, RETRY_BASE_S * 2.0**kept.refusals)
                kept.refusals += 1
                kept.retry_at_s = now_s + wait_s
                why = task.history[-1].reason
                kept.note(f"replica rejected: {why}; next try in {wait_s:g} s")
                break
            kept.refusals = 0
            kept.replicas.append(task.id)
        surplus = len(kept.replicas) - kept.desired
        for task_id in self._surplus(kept, surplus):
            self._cancel(task_id, f"deployment {kept.deployment.name} scaled down")
            kept.replicas.remove(task_id)

    def _sites(self, kept: _Kept) -> list[str]:
        sites: list[str] = []
        for task_id in kept.replicas:
            site = self._site_of(self._plane.live.controller.task(task_id))
            if site is not None:
                sites.append(site)
        return sites

    def _place(self, batch: Batch, kept: _Kept) -> Task:
        deployment = kept.deployment
        avoid = frozenset(self._sites(kept))
        refused = kept.spread_refused
        if avoid and not (refused is not None and avoid >= refused):
            spec = dataclasses.replace(deployment.template, avoid_sites=tuple(sorted(avoid)))
            task = self._submit(batch, spec, deployment)
            if task.state is not TaskState.REJECTED:
                return task
            kept.spread_refused = avoid  # no node off these sites: place anywhere for now
        return self._submit(batch, deployment.template, deployment)

    def _submit(self, batch: Batch, spec: TaskSpec, deployment: Deployment) -> Task:
        who = f"deployment:{deployment.name}"
        return self._plane.submit_now(batch, who, spec, deployment.tenant)

    def _surplus(self, kept: _Kept, count: int) -> list[str]:
        if count <= 0:
            return []
        tasks = [self._plane.live.controller.task(t) for t in kept.replicas]
        present = [t for t in tasks if t is not None]
        per_site = Counter(self._site_of(t) for t in present)

        def order(item: tuple[int, Task]) -> tuple[int, int, int]:
            index, task = item
            waiting = task.state is not TaskState.RUNNING
            return (0 if waiting else 1, -per_site[self._site_of(task)], -index)

        chosen = sorted(enumerate(present), key=order)[:count]
        return [task.id for _, task in chosen]

    def _cancel(self, task_id: str, reason: str) -> bool:
        return self._plane.live.controller.cancel(task_id, reason) is not None

    def _site_of(self, task: Task | None) -> str | None:
        if task is None or task.placement is None:
            return None
        node = self._plane.live.scenario.topology.nodes.get(task.placement.node_id)
        return None if node is None else node.site_id

    def _find(self, name: str, scope: str | None) -> _Kept:
        kept = self._kept.get(name)
        if kept is None or (scope is not None and kept.deployment.tenant != scope):
            raise NotFoundError(f"deployment {name!r} does not exist")
        return kept

    def _view(self, kept: _Kept) -> DeploymentView:
        replicas = []
        for task_id in kept.replicas:
            task = self._plane.live.controller.task(task_id)
            if task is None:
                continue
            node_id = task.placement.node_id if task.placement is not None else None
            replicas.append(ReplicaView(task_id, task.state, node_id, self._site_of(task)))
        return DeploymentView(
            kept.deployment, kept.desired, tuple(replicas), kept.last, tuple(kept.events)
        )
