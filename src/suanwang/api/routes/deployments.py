"""Deployments: autoscaled long-running services (create or update, list, read, delete)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from suanwang.api.auth import PEOPLE, SUBMITTERS, allow, tenant_scope
from suanwang.api.deps import PlaneDep, answer
from suanwang.api.problems import ApiError
from suanwang.api.routes.objects import check_task_data, objects_of
from suanwang.api.routes.templates import templates_of
from suanwang.api.schemas import TaskSpecIn
from suanwang.control.autoscale import MAX_REPLICAS, ScalePolicy
from suanwang.control.stores import Principal
from suanwang.service.deployments import Deployment, DeploymentView

router = APIRouter(tags=["deployments"])

People = Annotated[Principal, Depends(allow(*PEOPLE))]
Submitter = Annotated[Principal, Depends(allow(*SUBMITTERS))]
NamePath = Annotated[str, Path(min_length=1, max_length=127)]  # <template>/<component> too


class DeploymentIn(BaseModel):
    """A deployment: a replica's task template and how the replica count scales."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=63, description="Lower-case, digits, hyphens.")
    template: TaskSpecIn = Field(description="A replica's task (made long-running).")
    min_replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS)
    max_replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS)
    target_utilisation: float = Field(default=0.6, gt=0, le=1)
    tolerance: float = Field(default=0.1, ge=0, lt=1)
    scale_down_window_s: float = Field(default=60.0, ge=0, le=86_400)


class ReplicaOut(BaseModel):
    """One replica: its task, state, node and site (null while not placed)."""

    task_id: str
    state: str
    node_id: str | None
    site_id: str | None


class DecisionOut(BaseModel):
    """The last scaling decision."""

    at_s: float
    current: int
    desired: int
    measured: float | None
    reason: str


class DeploymentOut(BaseModel):
    """A deployment with its replicas, desired against current, and the last decision."""

    name: str
    tenant: str
    min_replicas: int
    max_replicas: int
    target_utilisation: float
    scale_down_window_s: float
    desired: int
    current: int
    replicas: list[ReplicaOut]
    last_decision: DecisionOut | None
    events: list[str]

    @classmethod
    def of(cls, view: DeploymentView) -> DeploymentOut:
        """The document of ``view``."""
        d, p = view.deployment, view.deployment.policy
        last = view.last_decision
        return cls(
            name=d.name,
            tenant=d.tenant,
            min_replicas=p.min_replicas,
            max_replicas=p.max_replicas,
            target_utilisation=p.target_utilisation,
            scale_down_window_s=p.scale_down_window_s,
            desired=view.desired,
            current=len(view.replicas),
            replicas=[
                ReplicaOut(task_id=r.task_id, state=r.state, node_id=r.node_id, site_id=r.site_id)
                for r in view.replicas
            ],
            last_decision=None
            if last is None
            else DecisionOut(
                at_s=last.at_s,
                current=last.current,
                desired=last.desired,
                measured=last.measured,
                reason=last.reason,
            ),
            events=list(view.events),
        )


def _invalid(path: str, exc: ValueError) -> ApiError:
    return ApiError(422, f"{path}: {exc}", errors=[{"path": path, "message": str(exc)}])


@router.post("/v1/deployments", operation_id="applyDeployment", status_code=201)
async def apply_deployment(
    body: DeploymentIn, request: Request, plane: PlaneDep, who: Submitter
) -> DeploymentOut:
    """Create a deployment, or replace its template and policy; its replicas follow."""
    try:
        policy = ScalePolicy(
            body.min_replicas,
            body.max_replicas,
            body.target_utilisation,
            body.tolerance,
            body.scale_down_window_s,
        )
    except ValueError as exc:
        raise _invalid("body", exc) from None
    try:
        spec = body.template.to_spec(plane.live.scenario.workload)
    except ValueError as exc:
        raise _invalid("body.template", exc) from None
    # A missing artefact or input would fail every replica at staging, and each be replaced.
    spec = check_task_data(objects_of(request), who.tenant, spec, field="body.template")
    if "/" in body.name:
        raise _invalid("body.name", ValueError(f"{body.name!r}: '/' names a template's component"))
    try:
        deployment = Deployment(body.name, who.tenant, spec, policy)
    except ValueError as exc:
        raise _invalid("body.name", exc) from None
    view = await answer(plane.call(lambda batch: plane.deployments.apply(batch, who, deployment)))
    return DeploymentOut.of(view)


@router.get("/v1/deployments", operation_id="listDeployments")
async def list_deployments(plane: PlaneDep, who: People) -> list[DeploymentOut]:
    """The deployments of the caller's tenant (every tenant's for admins), by name."""
    scope = tenant_scope(who)
    views = await answer(plane.call(lambda _: plane.deployments.listed(scope)))
    return [DeploymentOut.of(v) for v in views]


@router.get("/v1/deployments/{name:path}", operation_id="getDeployment")
async def get_deployment(name: NamePath, plane: PlaneDep, who: People) -> DeploymentOut:
    """One deployment: replicas with node and site, desired and current, the last decision."""
    scope = tenant_scope(who)
    return DeploymentOut.of(await answer(plane.call(lambda _: plane.deployments.get(name, scope))))


@router.delete("/v1/deployments/{name:path}", operation_id="deleteDeployment")
async def delete_deployment(
    name: NamePath, request: Request, plane: PlaneDep, who: Submitter
) -> dict[str, int]:
    """Remove a deployment and cancel its replicas (a template's: through its template)."""
    scope = tenant_scope(who)
    owner = await answer(plane.call(lambda _: templates_of(request).owner_of(name)))
    if owner is not None:
        raise ApiError(409, f"deployment {name!r} is template {owner!r}'s: apply or delete that")
    cancelled = await answer(
        plane.call(lambda batch: plane.deployments.delete(batch, who, name, scope))
    )
    return {"cancelled": cancelled}
