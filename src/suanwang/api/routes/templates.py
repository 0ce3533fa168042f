"""Service templates: apply (``POST /v1/templates``, ``?dry_run=true``), list, read, delete.

The body is one template as its file writes it (``suanwang template apply -f``), as JSON. The
answer holds the difference (components added, changed, removed, unchanged), whether it was
applied and the instance's status: 201 when something was applied, 200 when nothing was (an
unchanged template, or a dry run, which touches nothing). A bad template is a 422 naming
``field`` and ``value``. Reads and deletes are scoped to the caller's tenant (admins see all;
another tenant's template is a 404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from suanwang.api.auth import PEOPLE, SUBMITTERS, allow, tenant_scope
from suanwang.api.deps import PlaneDep, answer
from suanwang.api.problems import ApiError
from suanwang.api.routes.objects import check_task_data, objects_of
from suanwang.control.stores import Principal
from suanwang.scenario import ScenarioError, format_path
from suanwang.scenario.template import template_from_data
from suanwang.service.template_specs import template_deployments
from suanwang.service.templates import Applied, Templates, TemplateView

router = APIRouter(tags=["templates"])

People = Annotated[Principal, Depends(allow(*PEOPLE))]
Submitter = Annotated[Principal, Depends(allow(*SUBMITTERS))]
NamePath = Annotated[str, Path(min_length=1, max_length=63)]
TemplateBody = Annotated[dict[str, Any], Body(description="One template as its file writes it")]


class ComponentOut(BaseModel):
    """One component's deployment and its replicas."""

    component: str
    deployment: str
    desired: int
    ready: int
    waiting: int
    unhealthy: int


class TemplateOut(BaseModel):
    """A template instance: totals over its components, each component, and the document."""

    name: str
    tenant: str
    revision: int
    applied_at_s: float
    desired: int
    ready: int
    unhealthy: int
    components: list[ComponentOut]
    document: dict[str, Any]

    @classmethod
    def of(cls, view: TemplateView) -> TemplateOut:
        """The document of ``view``."""
        return cls(
            name=view.name,
            tenant=view.tenant,
            revision=view.revision,
            applied_at_s=view.applied_at_s,
            desired=view.desired,
            ready=view.ready,
            unhealthy=view.unhealthy,
            components=[
                ComponentOut(
                    component=c.component,
                    deployment=c.deployment,
                    desired=c.desired,
                    ready=c.ready,
                    waiting=c.waiting,
                    unhealthy=c.unhealthy,
                )
                for c in view.components
            ],
            document=view.document,
        )


class DiffOut(BaseModel):
    """Components of the template by what applying it does to them."""

    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: list[str]


class AppliedOut(BaseModel):
    """The difference, whether it was applied, and the instance (null: a new one's dry run)."""

    dry_run: bool
    applied: bool
    diff: DiffOut
    template: TemplateOut | None

    @classmethod
    def of(cls, done: Applied, dry_run: bool) -> AppliedOut:
        """The document of ``done``."""
        d = done.diff
        return cls(
            dry_run=dry_run,
            applied=done.applied,
            diff=DiffOut(
                added=list(d.added),
                changed=list(d.changed),
                removed=list(d.removed),
                unchanged=list(d.unchanged),
            ),
            template=None if done.view is None else TemplateOut.of(done.view),
        )


def templates_of(request: Request) -> Templates:
    """The server's template instances (made with its plane, in the app's lifespan)."""
    templates: Templates = request.app.state.templates
    return templates


def _bad_template(error: ScenarioError) -> ApiError:
    field = f"body.{format_path(error.path)}" if error.path else "body"
    value = error.value if isinstance(error.value, str | int | float | bool) else None
    errors = [{"path": field, "message": error.message}]
    return ApiError(422, str(error), field=field, value=value, errors=errors)


def _check_datasets(field: str, datasets: tuple[str, ...], known: frozenset[str]) -> None:
    """Refuse (422, naming the field and the id) a dataset the live topology does not hold."""
    for j, dataset_id in enumerate(datasets):
        if dataset_id not in known:
            path = f"{field}.datasets[{j}]"
            message = f"unknown dataset {dataset_id!r}; known: {', '.join(sorted(known)) or 'none'}"
            raise ApiError(422, f"{path}: {message}", errors=[{"path": path, "message": message}])


@router.post("/v1/templates", operation_id="applyTemplate", status_code=201)
async def apply_template(
    body: TemplateBody,
    *,
    request: Request,
    plane: PlaneDep,
    who: Submitter,
    response: Response,
    dry_run: Annotated[bool, Query(description="Answer the difference only")] = False,
) -> AppliedOut:
    """Apply a template: create, update or remove its components' deployments as it differs."""
    try:
        doc = template_from_data(body, "body")
        wanted = template_deployments(doc, who.tenant)
    except ScenarioError as error:
        raise _bad_template(error) from None
    except ValueError as error:  # a figure breaks a task's rule; the message names the field
        path = f"body.{str(error).split(':', 1)[0]}"
        raise ApiError(
            422, f"body.{error}", errors=[{"path": path, "message": str(error)}]
        ) from None
    # An unknown dataset, or a missing artefact or input, would fail every replica, and each be
    # replaced.
    known = frozenset(plane.live.scenario.topology.datasets)
    for name, deployment in wanted.items():
        field = f"body.components.{name.split('/', 1)[1]}.task"
        _check_datasets(field, deployment.template.datasets, known)
        check_task_data(objects_of(request), who.tenant, deployment.template, field=field)
    templates = templates_of(request)
    done = await answer(plane.call(lambda batch: templates.apply(batch, who, doc, dry_run=dry_run)))
    if not done.applied:
        response.status_code = 200
    return AppliedOut.of(done, dry_run)


@router.get("/v1/templates", operation_id="listTemplates")
async def list_templates(request: Request, plane: PlaneDep, who: People) -> list[TemplateOut]:
    """The template instances of the caller's tenant (every tenant's for admins), by name."""
    scope, templates = tenant_scope(who), templates_of(request)
    views = await answer(plane.call(lambda _: templates.listed(scope)))
    return [TemplateOut.of(v) for v in views]


@router.get("/v1/templates/{name}", operation_id="getTemplate")
async def get_template(
    name: NamePath, request: Request, plane: PlaneDep, who: People
) -> TemplateOut:
    """One template instance: ready against desired replicas, per component and in total."""
    scope, templates = tenant_scope(who), templates_of(request)
    return TemplateOut.of(await answer(plane.call(lambda _: templates.get(name, scope))))


@router.delete("/v1/templates/{name}", operation_id="deleteTemplate")
async def delete_template(
    name: NamePath, request: Request, plane: PlaneDep, who: Submitter
) -> dict[str, int]:
    """Delete a template instance: every deployment of it, and their replicas."""
    scope, templates = tenant_scope(who), templates_of(request)
    cancelled = await answer(plane.call(lambda batch: templates.delete(batch, who, name, scope)))
    return {"cancelled": cancelled}
