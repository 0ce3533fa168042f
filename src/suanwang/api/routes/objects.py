"""Objects, artefacts and task results: uploads and downloads, each tenant in its own namespace.

People read and write their tenant's objects only (``/v1/objects``, ``/v1/artefacts``); a
task's result is read under the task's tenant scope (``/v1/tasks/{id}/result``). An agent reads
only the objects a run placed on its node names (its artefact, the archive, its inputs) and
stores only that run's result. Uploads stream past the app's body limit: each is counted
against the object store's own limit as it arrives (413 naming ``max_object_bytes``).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from suanwang.api.auth import PEOPLE, SUBMITTERS, allow, tenant_scope
from suanwang.api.deps import IdPath, PlaneDep
from suanwang.api.problems import ApiError
from suanwang.control.artefacts import ArtefactError, load_artefact, register
from suanwang.control.objects import (
    ObjectInfo,
    ObjectNotFoundError,
    ObjectStore,
    ObjectTooLargeError,
    check_ref,
)
from suanwang.control.stores import Principal, Role
from suanwang.model import Task, TaskSpec

router = APIRouter(tags=["objects"])

People = Annotated[Principal, Depends(allow(*PEOPLE))]
Submitter = Annotated[Principal, Depends(allow(*SUBMITTERS))]
Agent = Annotated[Principal, Depends(allow(Role.AGENT))]
DigestPath = Annotated[str, PathParam(pattern=r"^[0-9a-f]{64}$")]

STREAMED_UPLOADS = re.compile(r"^/v1/(objects|artefacts|agents/[^/]+/runs/[^/]+/result)$")
"""Paths whose bodies the app's body limit lets through (the object store's limit holds)."""

RESULT_REF = "result-{task_id}"
"""Reference naming a task's result object (a zip of what the run wrote)."""


class ObjectOut(BaseModel):
    """A stored object."""

    digest: str
    size_bytes: int
    stored_s: float
    age_s: float

    @classmethod
    def of(cls, info: ObjectInfo) -> ObjectOut:
        """The document of ``info``."""
        return cls(
            digest=info.digest,
            size_bytes=info.size_bytes,
            stored_s=info.stored_s,
            age_s=info.age_s,
        )


class ArtefactOut(BaseModel):
    """A registered artefact: name it in a task's ``artefact``."""

    digest: str
    archive: str
    entry: str
    format: str
    size_bytes: int


def objects_of(request: Request) -> ObjectStore:
    """The app's object store."""
    store: ObjectStore = request.app.state.objects
    return store


async def _spool(request: Request, limit_bytes: int) -> IO[bytes]:
    """The request body in a temporary file (rewound), refused past ``limit_bytes``."""
    too_large = f"the object is over the limit of {limit_bytes} bytes (max_object_bytes)"
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit_bytes:
        raise ApiError(413, too_large)
    # Closed by the caller once the store has read it (or here on failure).
    spooled = tempfile.NamedTemporaryFile(prefix="upload-")  # noqa: SIM115
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit_bytes:
                raise ApiError(413, too_large)
            spooled.write(chunk)
    except BaseException:
        spooled.close()
        raise
    spooled.seek(0)
    return spooled


async def _put(request: Request, tenant: str) -> ObjectInfo:
    store = objects_of(request)
    body = await _spool(request, store.limits.max_object_bytes)
    try:
        return await run_in_threadpool(store.put, tenant, body)
    except ObjectTooLargeError as exc:
        raise ApiError(413, str(exc)) from None
    finally:
        body.close()


def _stream(store: ObjectStore, tenant: str, digest: str, media_type: str) -> StreamingResponse:
    try:
        info = store.info(tenant, digest)
        stream = store.get(tenant, digest)
    except ObjectNotFoundError:
        raise ApiError(404, f"object {digest} does not exist") from None

    def chunks() -> Iterator[bytes]:
        try:
            while chunk := stream.read(1 << 20):
                yield chunk
        finally:
            stream.close()

    headers = {"Content-Length": str(info.size_bytes), "ETag": f'"{digest}"'}
    return StreamingResponse(chunks(), media_type=media_type, headers=headers)


@router.post("/v1/objects", operation_id="putObject", status_code=201)
async def put_object(request: Request, who: Submitter) -> ObjectOut:
    """Store the body as an object of the caller's tenant; answers its digest and size."""
    return ObjectOut.of(await _put(request, who.tenant))


@router.get("/v1/objects", operation_id="listObjects")
def list_objects(request: Request, who: People) -> list[ObjectOut]:
    """The caller's tenant's objects with their sizes and ages."""
    return [ObjectOut.of(info) for info in objects_of(request).list(who.tenant)]


@router.get("/v1/objects/{digest}", operation_id="getObject", response_class=Response)
def get_object(digest: DigestPath, request: Request, who: People) -> StreamingResponse:
    """The object's bytes."""
    return _stream(objects_of(request), who.tenant, digest, "application/octet-stream")


@router.delete("/v1/objects/{digest}", operation_id="deleteObject", status_code=204)
def delete_object(digest: DigestPath, request: Request, who: Submitter) -> Response:
    """Remove an object of the caller's tenant."""
    if not objects_of(request).delete(who.tenant, digest):
        raise ApiError(404, f"object {digest} does not exist")
    return Response(status_code=204)


@router.post("/v1/artefacts", operation_id="pushArtefact", status_code=201)
async def push_artefact(
    request: Request,
    who: Submitter,
    entry: Annotated[str | None, Query(max_length=300)] = None,
) -> ArtefactOut:
    """Register the body (a wheel, or a zip with the package at its root) as an artefact.

    ``entry`` is the ``module:function`` to call; a wheel may declare it instead as ``main``
    in its ``[suanwang]`` entry points.
    """
    store = objects_of(request)
    body = await _spool(request, store.limits.max_object_bytes)
    try:
        path = Path(body.name)
        digest, artefact = await run_in_threadpool(register, store, who.tenant, path, entry)
    except ArtefactError as exc:
        field = "query.entry" if "entry" in str(exc) else "body"
        raise ApiError(
            422, f"{field}: {exc}", errors=[{"path": field, "message": str(exc)}]
        ) from None
    finally:
        body.close()
    return ArtefactOut(
        digest=digest,
        archive=artefact.archive,
        entry=artefact.entry,
        format=artefact.format,
        size_bytes=artefact.size_bytes,
    )


@router.get("/v1/artefacts/{digest}", operation_id="getArtefact")
def get_artefact(digest: DigestPath, request: Request, who: People) -> ArtefactOut:
    """A registered artefact of the caller's tenant."""
    try:
        artefact = load_artefact(objects_of(request), who.tenant, digest)
    except ObjectNotFoundError:
        raise ApiError(404, f"artefact {digest} does not exist") from None
    except ArtefactError as exc:
        raise ApiError(422, str(exc)) from None
    return ArtefactOut(
        digest=digest,
        archive=artefact.archive,
        entry=artefact.entry,
        format=artefact.format,
        size_bytes=artefact.size_bytes,
    )


@router.get("/v1/tasks/{task_id}/result", operation_id="getTaskResult", response_class=Response)
def get_task_result(
    task_id: IdPath, request: Request, plane: PlaneDep, who: People
) -> StreamingResponse:
    """The task's result: a zip of the files its run wrote (404 until it has one)."""
    task = plane.tasks.get(task_id, tenant_scope(who))
    if task is None:
        raise ApiError(404, f"task {task_id!r} does not exist")
    store = objects_of(request)
    digest = store.ref(task.tenant, check_ref(RESULT_REF.format(task_id=task_id)))
    if digest is None:
        raise ApiError(404, f"task {task_id!r} has no result (not finished, or expired)")
    return _stream(store, task.tenant, digest, "application/zip")


def _run_on(plane: PlaneDep, who: Principal, node_id: str, run_id: str) -> Task:
    """The task of run ``run_id`` if it runs on ``node_id`` for this agent."""
    if node_id not in who.node_ids:
        raise ApiError(403, f"this agent does not speak for node {node_id}")
    if plane.live.dispatch.node_of(run_id) != node_id:
        raise ApiError(404, f"no run {run_id!r} on node {node_id}")
    task = plane.tasks.get(run_id.partition("~")[0])
    if task is None:
        raise ApiError(404, f"no run {run_id!r} on node {node_id}")
    return task


@router.get(
    "/v1/agents/{node_id}/runs/{run_id}/objects/{digest}",
    operation_id="getRunObject",
    response_class=Response,
)
def get_run_object(
    node_id: IdPath,
    run_id: IdPath,
    digest: DigestPath,
    *,
    request: Request,
    plane: PlaneDep,
    who: Agent,
) -> StreamingResponse:
    """An object the run names (its artefact, the artefact's archive, an input)."""
    task = _run_on(plane, who, node_id, run_id)
    store = objects_of(request)
    named = set(task.spec.inputs)
    if task.spec.artefact is not None:
        named.add(task.spec.artefact)
        try:
            named.add(load_artefact(store, task.tenant, task.spec.artefact).archive)
        except (ObjectNotFoundError, ArtefactError) as exc:
            raise ApiError(404, f"the run's artefact is unavailable: {exc}") from None
    if digest not in named:
        raise ApiError(403, f"run {run_id!r} names no object {digest}")
    return _stream(store, task.tenant, digest, "application/octet-stream")


@router.post(
    "/v1/agents/{node_id}/runs/{run_id}/result", operation_id="putRunResult", status_code=201
)
async def put_run_result(
    node_id: IdPath, run_id: IdPath, request: Request, plane: PlaneDep, who: Agent
) -> ObjectOut:
    """Store the run's result (a zip of its output folder) as the task's result."""
    task = await run_in_threadpool(_run_on, plane, who, node_id, run_id)
    info = await _put(request, task.tenant)
    name = RESULT_REF.format(task_id=task.id)
    await run_in_threadpool(objects_of(request).put_ref, task.tenant, name, info.digest)
    return ObjectOut.of(info)


def check_task_data(
    store: ObjectStore, tenant: str, spec: TaskSpec, *, field: str = "body"
) -> TaskSpec:
    """``spec`` with its artefact and inputs checked to be the tenant's, sized.

    ``field`` is where the spec sits in the request, for the error's path.

    A spec whose ``data_in_mb`` is 0 gets the inputs' total size, so the scheduler's network
    estimate (transfer at the path's bottleneck) counts the staging.

    Raises:
        ApiError: 422 naming the field whose object is missing or not an artefact.
    """
    if spec.artefact is None:
        return spec
    try:
        load_artefact(store, tenant, spec.artefact)
    except (ObjectNotFoundError, ArtefactError) as exc:
        path = f"{field}.artefact"
        raise ApiError(
            422, f"{path}: {exc}", errors=[{"path": path, "message": str(exc)}]
        ) from None
    total_bytes = 0
    for index, digest in enumerate(spec.inputs):
        try:
            total_bytes += store.info(tenant, digest).size_bytes
        except ObjectNotFoundError as exc:
            path = f"{field}.inputs[{index}]"
            raise ApiError(
                422, f"{path}: {exc}", errors=[{"path": path, "message": str(exc)}]
            ) from None
    if spec.data_in_mb == 0 and total_bytes:
        return replace(spec, data_in_mb=total_bytes / 1e6)
    return spec
