"""Tasks: submit (idempotent), read, list, cancel, explain; placements; agents' task reports."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from suanwang.api.access import audit_read
from suanwang.api.auth import PEOPLE, SUBMITTERS, allow, tenant_scope
from suanwang.api.deps import IdPath, PlaneDep, answer, plane_of
from suanwang.api.etag import NOT_MODIFIED, conditional_json
from suanwang.api.explanations import ExplanationOut
from suanwang.api.problems import ApiError
from suanwang.api.routes.objects import check_task_data, objects_of
from suanwang.api.schemas import (
    AgentReportIn,
    Name,
    TaskOut,
    TaskPageOut,
    TaskSpecIn,
)
from suanwang.control.stores import MAX_KEY_CHARS, MAX_PAGE_SIZE, Principal, Role
from suanwang.model import TaskSpec, TaskState, Topology

router = APIRouter(tags=["tasks"])

CODE_FIELDS = frozenset({"artefact", "entry", "inputs", "datasets"})
"""Fields a spec's own check names first in its message (the rest default to work_gflop)."""


def check_datasets(spec: TaskSpec, topology: Topology) -> None:
    """Refuse (422, naming the field and the id) a dataset the live topology does not hold."""
    for j, dataset_id in enumerate(spec.datasets):
        if dataset_id not in topology.datasets:
            path = f"body.datasets[{j}]"
            known = ", ".join(sorted(topology.datasets)) or "none"
            message = f"unknown dataset {dataset_id!r}; known: {known}"
            raise ApiError(422, f"{path}: {message}", errors=[{"path": path, "message": message}])


People = Annotated[Principal, Depends(allow(*PEOPLE))]
Submitter = Annotated[Principal, Depends(allow(*SUBMITTERS))]
Agent = Annotated[Principal, Depends(allow(Role.AGENT))]


@router.post(
    "/v1/tasks",
    operation_id="submitTask",
    status_code=201,
    response_model=TaskOut,
    responses={200: {"description": "The task an earlier call with this key created."}},
)
async def submit_task(
    body: TaskSpecIn,
    request: Request,
    who: Submitter,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY_CHARS)
    ] = None,
) -> Response:
    """Submit a task; it is stored before the answer.

    A repeated ``Idempotency-Key`` returns the task the first call created (200) instead of
    creating another.
    """
    plane = plane_of(request)  # not a dependency: this is the hot path
    try:
        spec = body.to_spec(plane.live.scenario.workload)
    except ValueError as exc:
        named = str(exc).split(" ", 1)[0]
        path = f"body.{named}" if named in CODE_FIELDS else "body.work_gflop"
        raise ApiError(
            422, f"{path}: {exc}", errors=[{"path": path, "message": str(exc)}]
        ) from None
    check_datasets(spec, plane.live.scenario.topology)
    if spec.artefact is not None:
        store = objects_of(request)
        spec = await run_in_threadpool(check_task_data, store, who.tenant, spec)
    submitted = await answer(plane.submit(who, spec, idempotency_key))
    # Serialised here once: the hot path skips the framework's second validation pass.
    return Response(
        TaskOut.of(submitted.task).model_dump_json(),
        status_code=201 if submitted.created else 200,
        headers={"Location": f"/v1/tasks/{submitted.task.id}"},
        media_type="application/json",
    )


class TaskListOut(TaskPageOut):
    """One page of tasks; ``total`` counts every match over all pages when asked for."""

    total: int | None = None


@router.get(
    "/v1/tasks", operation_id="listTasks", response_model=TaskListOut, responses=NOT_MODIFIED
)
def list_tasks(
    *,
    request: Request,
    plane: PlaneDep,
    who: People,
    state: TaskState | None = None,
    task_type: Annotated[Name | None, Query()] = None,
    id_prefix: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only ids starting so.")
    ] = None,
    tenant: Annotated[Name | None, Query(description="Admins only: one tenant.")] = None,
    order: Annotated[
        Literal["oldest", "newest"], Query(description="Submission order: oldest or newest first.")
    ] = "oldest",
    include_total: Annotated[
        bool, Query(description="Also count every matching task (one more query).")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """List tasks in submission order, oldest first unless ``order=newest``, page by page.

    A cursor continues the listing it came from: pass the same filters and order with it.
    With an ``ETag``: a poll sending it back in ``If-None-Match`` gets 304 while the page and
    its count are unchanged.
    """
    scope = tenant_scope(who)
    if scope is not None and tenant is not None and tenant != scope:
        raise ApiError(403, "only admins read other tenants' tasks")
    filters = (scope or tenant, state, task_type)
    page = plane.tasks.list(
        *filters, limit, cursor, newest_first=order == "newest", id_prefix=id_prefix
    )
    # A second query, not a snapshot: a task added or moved between the two may be counted
    # and not listed (a display figure, as the page itself is by the next poll).
    total = plane.tasks.count(*filters, id_prefix=id_prefix) if include_total else None
    audit_read(request, who, "tasks", (t.tenant for t in page.tasks))
    document = TaskListOut(
        items=[TaskOut.of(t) for t in page.tasks], next_cursor=page.next_cursor, total=total
    )
    return conditional_json(request, document)


@router.get("/v1/tasks/{task_id}", operation_id="getTask")
def get_task(task_id: IdPath, request: Request, plane: PlaneDep, who: People) -> TaskOut:
    """One task with its placement and history."""
    task = plane.tasks.get(task_id, tenant_scope(who))
    if task is None:
        raise ApiError(404, f"task {task_id!r} does not exist")
    audit_read(request, who, f"task:{task_id}", [task.tenant])
    return TaskOut.of(task)


@router.post("/v1/tasks/{task_id}/cancel", operation_id="cancelTask")
async def cancel_task(task_id: IdPath, plane: PlaneDep, who: Submitter) -> TaskOut:
    """Cancel a task that is not final yet (409 if it is)."""
    return TaskOut.of(await answer(plane.cancel(who, task_id, tenant_scope(who))))


@router.get("/v1/tasks/{task_id}/explain", operation_id="explainTask")
async def explain_task(
    task_id: IdPath,
    request: Request,
    plane: PlaneDep,
    who: People,
    node_id: Annotated[Name | None, Query(description="Also say why not this node.")] = None,
) -> ExplanationOut:
    """Where the task's spec would be placed now, or why nowhere ("why not node X")."""
    try:
        task, explanation = await answer(plane.explain(task_id, tenant_scope(who), node_id))
    except KeyError:
        raise ApiError(404, f"node {node_id!r} does not exist") from None
    audit_read(request, who, f"explanation:{task_id}", [task.tenant])
    return ExplanationOut.of(task, explanation)


@router.get("/v1/placements", operation_id="listPlacements")
async def list_placements(
    plane: PlaneDep,
    who: People,
    node_id: Annotated[Name | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
) -> list[TaskOut]:
    """Active tasks that hold a placement (scheduled or running), oldest first."""
    tasks = await answer(plane.placements(tenant_scope(who), node_id, limit))
    return [TaskOut.of(t) for t in tasks]


@router.post("/v1/tasks/{task_id}/report", operation_id="reportTask")
async def report_task(task_id: IdPath, body: AgentReportIn, plane: PlaneDep, who: Agent) -> TaskOut:
    """An agent reports that a task of its node started or finished."""
    if body.node_id not in who.node_ids:
        raise ApiError(403, f"this agent does not speak for node {body.node_id}")
    finished = body.event == "finished"
    future = plane.report(
        who,
        body.node_id,
        task_id,
        finished=finished,
        ok=body.ok,
        reason=body.reason,
        measured_compute_ms=body.measured_compute_ms,
    )
    return TaskOut.of(await answer(future))
