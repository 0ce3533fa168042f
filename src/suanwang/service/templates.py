"""Service templates: one request opens a set of deployments, declaratively.

A template (``scenario.template``) runs as one deployment per component, named
``<template>/<component>`` (``template_specs`` derives each). ``apply`` compares what the
template asks for with what its instance runs now, component by component (a component
differs when its replica's task spec or its scaling policy does), and applies exactly the
difference: added components are created, changed ones updated (as a deployment's update: its
policy and template are replaced, its running replicas carry on), removed ones deleted with
their replicas cancelled. An unchanged template changes nothing: no deployment is touched and
one ``template.apply`` audit entry notes that nothing was applied. A dry run answers the
difference and touches nothing. ``delete`` deletes every deployment of the instance. The whole
of one apply or delete runs in one writer command, and is checked before anything is changed
(the name is another tenant's, or the plane would hold too many deployments), so it applies
entirely or not at all.

Instances are kept where deployments are: in the plane's memory, not durably. A restart forgets
both; the replicas, stored tasks, run on until cancelled. Every method runs on the writer
thread (through ``ControlPlane.call``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from suanwang.control.stores import ConflictError, NotFoundError, Principal
from suanwang.model import TaskState
from suanwang.scenario.template import TemplateDoc
from suanwang.service.deployments import MAX_DEPLOYMENTS, Deployment
from suanwang.service.template_specs import template_deployments

if TYPE_CHECKING:
    from suanwang.service.plane import ControlPlane
    from suanwang.service.worker import Batch

MAX_TEMPLATES = 64
"""Most template instances one plane keeps."""

UNHEALTHY_NODE_STATES = frozenset({"down", "quarantined", "retired", "no-agent"})
"""Node states whose replicas the deployments' health check replaces (counted unhealthy)."""


@dataclass(frozen=True, slots=True)
class TemplateDiff:
    """What applying a template changes, by component name (each sorted)."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]

    @property
    def empty(self) -> bool:
        """Whether applying it changes nothing."""
        return not (self.added or self.changed or self.removed)

    def summary(self) -> str:
        """One line: the components added, changed and removed (or that nothing changes)."""
        parts = [
            f"{what} {', '.join(names)}"
            for what, names in (
                ("added", self.added),
                ("changed", self.changed),
                ("removed", self.removed),
            )
            if names
        ]
        return "; ".join(parts) or "unchanged"


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    """One component's deployment: replicas desired, ready (running), waiting and unhealthy."""

    component: str
    deployment: str
    desired: int
    ready: int
    waiting: int
    unhealthy: int


@dataclass(frozen=True, slots=True)
class TemplateView:
    """One template instance: its document, revision and its components' replicas."""

    name: str
    tenant: str
    revision: int
    applied_at_s: float
    document: dict[str, Any]
    components: tuple[ComponentStatus, ...]

    @property
    def desired(self) -> int:
        """Replicas every component together asks for now."""
        return sum(c.desired for c in self.components)

    @property
    def ready(self) -> int:
        """Replicas running on healthy nodes."""
        return sum(c.ready for c in self.components)

    @property
    def unhealthy(self) -> int:
        """Replicas on a node that is down, quarantined, retired or without an agent."""
        return sum(c.unhealthy for c in self.components)


@dataclass(frozen=True, slots=True)
class Applied:
    """The answer of ``apply``: the difference, whether it was applied, and the instance.

    ``view`` is None only for a dry run of a template not applied before.
    """

    diff: TemplateDiff
    applied: bool
    view: TemplateView | None


@dataclass(slots=True)
class _Instance:
    doc: TemplateDoc
    tenant: str
    deployments: dict[str, Deployment]  # by component name
    revision: int
    applied_at_s: float


class Templates:
    """The plane's template instances (module docstring); writer thread only."""

    def __init__(self, plane: ControlPlane) -> None:
        self._plane = plane
        self._kept: dict[str, _Instance] = {}

    def apply(
        self, batch: Batch, who: Principal, doc: TemplateDoc, *, dry_run: bool = False
    ) -> Applied:
        """Apply ``doc`` for ``who``'s tenant, or with ``dry_run`` only say what would change.

        Raises:
            ValueError: a component's figures break a task spec's or a policy's rule (named).
            ConflictError: the name is another tenant's template, or too many templates or
                deployments.
        """
        wanted = {
            name.split("/", 1)[1]: deployment
            for name, deployment in template_deployments(doc, who.tenant).items()
        }
        kept = self._kept.get(doc.name)
        if kept is not None and kept.tenant != who.tenant:
            raise ConflictError(f"template name {doc.name!r} is taken")
        diff = _diff({} if kept is None else kept.deployments, wanted)
        if dry_run:
            return Applied(diff, False, None if kept is None else self._view(doc.name, kept))
        target = f"template:{doc.name}"
        if diff.empty and kept is not None:
            self._plane.audit(batch, who.id, "template.apply", target, "unchanged: nothing applied")
            return Applied(diff, False, self._view(doc.name, kept))
        self._check_room(kept, diff)
        deployments = self._plane.deployments
        for component in diff.removed:
            assert kept is not None  # nothing is removed from a new instance
            deployments.delete(batch, who, kept.deployments[component].name, who.tenant)
        for component in (*diff.added, *diff.changed):
            deployments.apply(batch, who, wanted[component])
        revision = 1 if kept is None else kept.revision + 1
        now_s = self._plane.clock.now_s()
        instance = self._kept[doc.name] = _Instance(doc, who.tenant, wanted, revision, now_s)
        detail = f"revision {revision}: {diff.summary()}"
        self._plane.audit(batch, who.id, "template.apply", target, detail)
        return Applied(diff, True, self._view(doc.name, instance))

    def _check_room(self, kept: _Instance | None, diff: TemplateDiff) -> None:
        if kept is None and len(self._kept) >= MAX_TEMPLATES:
            raise ConflictError(f"at most {MAX_TEMPLATES} templates")
        held = len(self._plane.deployments.listed(None))
        if held + len(diff.added) - len(diff.removed) > MAX_DEPLOYMENTS:
            raise ConflictError(
                f"at most {MAX_DEPLOYMENTS} deployments: {held} are held and this template adds "
                f"{len(diff.added)}"
            )

    def delete(self, batch: Batch, who: Principal, name: str, scope: str | None) -> int:
        """Delete the instance ``name`` and every deployment of it; returns replicas cancelled."""
        kept = self._find(name, scope)
        cancelled = 0
        for deployment in kept.deployments.values():
            cancelled += self._plane.deployments.delete(batch, who, deployment.name, None)
        del self._kept[name]
        self._plane.audit(batch, who.id, "template.delete", f"template:{name}", "")
        return cancelled

    def get(self, name: str, scope: str | None) -> TemplateView:
        """One instance with its components' replicas (``NotFoundError`` when not visible)."""
        return self._view(name, self._find(name, scope))

    def listed(self, scope: str | None) -> list[TemplateView]:
        """Every instance of ``scope`` (all for None), by name."""
        return [
            self._view(name, kept)
            for name, kept in sorted(self._kept.items())
            if scope is None or kept.tenant == scope
        ]

    def owner_of(self, deployment: str) -> str | None:
        """The template whose component runs as ``deployment``, if any."""
        template, _, component = deployment.partition("/")
        kept = self._kept.get(template)
        return template if kept is not None and component in kept.deployments else None

    def _find(self, name: str, scope: str | None) -> _Instance:
        kept = self._kept.get(name)
        if kept is None or (scope is not None and kept.tenant != scope):
            raise NotFoundError(f"template {name!r} does not exist")
        return kept

    def _view(self, name: str, kept: _Instance) -> TemplateView:
        live = self._plane.live
        rows = []
        for component, deployment in sorted(kept.deployments.items()):
            view = self._plane.deployments.get(deployment.name, None)
            ready = waiting = unhealthy = 0
            for replica in view.replicas:
                node = replica.node_id
                if node is not None and live.node_state(node) in UNHEALTHY_NODE_STATES:
                    unhealthy += 1
                elif replica.state is TaskState.RUNNING:
                    ready += 1
                else:
                    waiting += 1
            rows.append(
                ComponentStatus(component, deployment.name, view.desired, ready, waiting, unhealthy)
            )
        return TemplateView(
            name, kept.tenant, kept.revision, kept.applied_at_s, kept.doc.data(), tuple(rows)
        )


def _diff(running: dict[str, Deployment], wanted: dict[str, Deployment]) -> TemplateDiff:
    return TemplateDiff(
        added=tuple(sorted(wanted.keys() - running.keys())),
        changed=tuple(sorted(n for n in wanted.keys() & running.keys() if wanted[n] != running[n])),
        removed=tuple(sorted(running.keys() - wanted.keys())),
        unchanged=tuple(
            sorted(n for n in wanted.keys() & running.keys() if wanted[n] == running[n])
        ),
    )
