"""Health (no token needed) and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from suanwang import __version__
from suanwang.api.auth import STAFF, allow
from suanwang.api.deps import PlaneDep
from suanwang.control.stores import Principal

router = APIRouter(tags=["operations"])


class HealthOut(BaseModel):
    """The server is up and serving a scenario."""

    status: str
    version: str
    scenario: str


@router.get("/health", operation_id="health")
async def health(plane: PlaneDep) -> HealthOut:
    """Liveness: answers without a token."""
    return HealthOut(status="ok", version=__version__, scenario=plane.live.scenario.name)


@router.get(
    "/metrics",
    operation_id="metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
async def metrics(plane: PlaneDep, _: Annotated[Principal, Depends(allow(*STAFF))]) -> Response:
    """Decisions by cause, decision and commit latency, queue depth, nodes by state."""
    return Response(generate_latest(plane.metrics.registry), media_type=CONTENT_TYPE_LATEST)
