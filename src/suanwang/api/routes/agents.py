"""Node agents: bind their signing key, pull the tasks placed on their node, report metrics.

Every route here admits only principals with the ``agent`` role that are bound to the node in
the path; metric reports must also be signed by the key bound to that principal.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from suanwang.api.auth import allow
from suanwang.api.deps import IdPath, PlaneDep
from suanwang.api.problems import ApiError
from suanwang.api.schemas import TaskOut
from suanwang.control.stores import Principal, Role
from suanwang.security import EnvelopeError, RejectReason, SignedEnvelope, parse_body

router = APIRouter(tags=["agents"])

Agent = Annotated[Principal, Depends(allow(Role.AGENT))]

# Refusals that mean "not yours to say" rather than "malformed".
_FORBIDDEN = {RejectReason.UNKNOWN_KEY, RejectReason.NODE_NOT_BOUND, RejectReason.BAD_SIGNATURE}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentKeyIn(_In):
    """The agent's Ed25519 public key, raw 32 bytes in base64."""

    public_key: str = Field(min_length=1, max_length=200)


class AgentKeyOut(BaseModel):
    """The key id now bound to the node."""

    node_id: str
    key_id: str


class PullIn(_In):
    """How many tasks the agent takes at most."""

    limit: int = Field(default=16, ge=1, le=1000)


class MetricReportIn(_In):
    """A signed metric report envelope as sent on the wire (``base64(signature).body``)."""

    envelope: str = Field(min_length=1, max_length=65536)


class MetricReportOut(BaseModel):
    """The report was verified and applied."""

    node_id: str
    accepted: bool


def _own(who: Principal, node_id: str) -> None:
    if node_id not in who.node_ids:
        raise ApiError(403, f"this agent does not speak for node {node_id}")


@router.put("/v1/agents/{node_id}/key", operation_id="bindAgentKey")
def bind_agent_key(node_id: IdPath, body: AgentKeyIn, plane: PlaneDep, who: Agent) -> AgentKeyOut:
    """Bind the agent's signing key to its node (the key id must be the principal's)."""
    _own(who, node_id)
    try:
        raw = base64.b64decode(body.public_key, validate=True)
        key_id = plane.bind_agent_key(who, node_id, raw)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(422, f"body.public_key: {exc}") from None
    return AgentKeyOut(node_id=node_id, key_id=key_id)


@router.post("/v1/agents/{node_id}/pull", operation_id="pullTasks")
async def pull_tasks(node_id: IdPath, body: PullIn, plane: PlaneDep, who: Agent) -> list[TaskOut]:
    """Take up to ``limit`` tasks placed on the node, oldest first (each is handed out once)."""
    _own(who, node_id)
    return [TaskOut.of(task) for task in plane.pull(node_id, body.limit)]


@router.post("/v1/agents/{node_id}/metrics", operation_id="reportMetrics")
def report_metrics(
    node_id: IdPath, body: MetricReportIn, plane: PlaneDep, who: Agent
) -> MetricReportOut:
    """A metric report signed by the agent's key for its node."""
    _own(who, node_id)
    try:
        envelope = SignedEnvelope.from_wire(body.envelope.encode("utf-8"))
        header, payload = parse_body(envelope.body)
    except EnvelopeError as exc:
        raise ApiError(422, f"body.envelope: {exc}", reason=RejectReason.MALFORMED.value) from None
    if header.key_id != who.agent_key_id:
        raise ApiError(403, "the report is not signed by this agent's key")
    if payload.get("node_id") != node_id:
        raise ApiError(422, "body.envelope: the report is for another node than the path's")
    verdict = plane.ingest(envelope)
    if verdict.reason is not None:
        status = 403 if verdict.reason in _FORBIDDEN else 422
        raise ApiError(status, f"report refused: {verdict.detail}", reason=verdict.reason.value)
    return MetricReportOut(node_id=node_id, accepted=True)
