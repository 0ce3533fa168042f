"""Node agents: bind their signing key, pull the tasks placed on their node, report metrics.

Every route here admits only principals with the ``agent`` role that are bound to the node in
the path; metric reports must also be signed by the key bound to that principal. A refused
report answers a problem with its ``reason`` code and is audited (``refusals``: at most one
entry per principal and reason a minute, with the count).
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from suanwang.api.auth import allow
from suanwang.api.deps import IdPath, PlaneDep
from suanwang.api.problems import ApiError
from suanwang.api.refusals import AUDIT_ACTION, RefusalAudit
from suanwang.api.routes.joining import ChallengeOut
from suanwang.api.routes.joining import router as joining_router
from suanwang.api.schemas import Count, TaskOut
from suanwang.control.stores import Principal, Role, StoreUnavailableError
from suanwang.security import EnvelopeError, RejectReason, SignedEnvelope, Verdict, parse_body
from suanwang.service import ControlPlane

router = APIRouter(tags=["agents"])
router.include_router(joining_router)  # enrolment and attestation, served with the agents'
log = logging.getLogger(__name__)
_REFUSALS_LOCK = threading.Lock()
REFUSAL_AUDIT_INTERVAL_S = 60.0
"""Least time between two audit entries of refused reports of one principal and reason."""
AUDIT_WAIT_S = 5.0
"""Longest a refusal waits for its audit entry's commit (the answer does not depend on it)."""

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

    limit: Count = Field(default=16, ge=1, le=1000)


class PulledTaskOut(TaskOut):
    """A task handed to its node's agent, with the longest it may run there."""

    max_run_s: float | None = Field(
        default=None, description="Stop the task after this many seconds (None: no limit)."
    )


class MetricReportIn(_In):
    """A signed metric report envelope as sent on the wire (``base64(signature).body``)."""

    envelope: str = Field(min_length=1, max_length=65536)


class MetricReportOut(BaseModel):
    """The report was verified and applied; a challenge to answer may come with it."""

    node_id: str
    accepted: bool
    challenge: ChallengeOut | None = Field(
        default=None, description="Answer at POST /v1/agents/{node_id}/attestation."
    )


class EchoIn(_In):
    """Where the agent's echo endpoint answers link probes."""

    host: str = Field(min_length=1, max_length=253)
    port: Count = Field(ge=1, le=65535)


class EchoOut(BaseModel):
    """The echo endpoint now recorded for the node."""

    node_id: str
    host: str
    port: int


class PeerOut(BaseModel):
    """A link the agent probes and the echo endpoint across it."""

    link_id: str
    host: str
    port: int


class RttReportOut(BaseModel):
    """The RTT report was verified; ``links`` figures were recorded."""

    node_id: str
    links: int


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
async def pull_tasks(
    node_id: IdPath, body: PullIn, plane: PlaneDep, who: Agent
) -> list[PulledTaskOut]:
    """Take up to ``limit`` tasks placed on the node, oldest first (each is handed out once).

    Each carries ``max_run_s``, the tenant's maximum run time the agent enforces.
    """
    _own(who, node_id)
    pulled = []
    for task in plane.pull(node_id, body.limit):
        out = PulledTaskOut.model_validate(TaskOut.of(task), from_attributes=True)
        out.max_run_s = plane.max_run_s(task.tenant)
        pulled.append(out)
    return pulled


def _refusals(request: Request) -> RefusalAudit:
    """The app's refusal counter, made at its first use."""
    state = request.app.state
    with _REFUSALS_LOCK:
        refusals: RefusalAudit | None = getattr(state, "refusals", None)
        if refusals is None:
            plane: ControlPlane = state.plane
            refusals = state.refusals = RefusalAudit(REFUSAL_AUDIT_INTERVAL_S, plane.clock.now_s)
    return refusals


def _refuse(
    request: Request, who: Principal, status: int, detail: str, *, reason: RejectReason, kid: str
) -> ApiError:
    """The problem answering a refused report, after auditing it (rate-bounded)."""
    plane: ControlPlane = request.app.state.plane
    count = _refusals(request).admit(who.id, reason.value)
    if count:
        note = f"{reason.value}: {detail} (key {kid or '?'}; {count} refused in this window)"
        written = plane.record(who, AUDIT_ACTION, f"principal:{who.id}", note[:2000])
        try:
            written.result(AUDIT_WAIT_S)
        except (StoreUnavailableError, FutureTimeout) as exc:
            log.warning("refused report not audited: %s", exc)
    return ApiError(status, f"report refused: {detail}", reason=reason.value)


def _envelope(
    request: Request, node_id: str, body: MetricReportIn, who: Principal
) -> SignedEnvelope:
    """The signed envelope of ``body``, checked to be this agent's and about its node."""
    try:
        envelope = SignedEnvelope.from_wire(body.envelope.encode("utf-8"))
        header, payload = parse_body(envelope.body)
    except EnvelopeError as exc:
        detail = f"body.envelope: {exc}"
        raise _refuse(request, who, 422, detail, reason=RejectReason.MALFORMED, kid="") from None
    if header.key_id != who.agent_key_id:
        detail = "the report is not signed by this agent's key"
        raise _refuse(request, who, 403, detail, reason=RejectReason.UNKNOWN_KEY, kid=header.key_id)
    if payload.get("node_id") != node_id:
        detail = "the report is for another node than the path's"
        raise _refuse(
            request, who, 422, detail, reason=RejectReason.NODE_NOT_BOUND, kid=header.key_id
        )
    return envelope


def _refused(request: Request, who: Principal, verdict: Verdict) -> None:
    if verdict.reason is not None:
        status = 403 if verdict.reason in _FORBIDDEN else 422
        raise _refuse(
            request, who, status, verdict.detail, reason=verdict.reason, kid=verdict.key_id
        )


@router.post("/v1/agents/{node_id}/metrics", operation_id="reportMetrics")
def report_metrics(
    node_id: IdPath, body: MetricReportIn, request: Request, plane: PlaneDep, who: Agent
) -> MetricReportOut:
    """A metric report signed by the agent's key for its node."""
    _own(who, node_id)
    _refused(request, who, plane.ingest(_envelope(request, node_id, body, who)))
    challenge = ChallengeOut.of(plane.joining.challenge(node_id))
    return MetricReportOut(node_id=node_id, accepted=True, challenge=challenge)


@router.put("/v1/agents/{node_id}/echo", operation_id="announceEcho")
def announce_echo(node_id: IdPath, body: EchoIn, plane: PlaneDep, who: Agent) -> EchoOut:
    """Where the node's agent answers link probes (its echo endpoint)."""
    _own(who, node_id)
    try:
        plane.live.probes.announce(node_id, body.host, body.port)
    except KeyError:
        raise ApiError(404, f"node {node_id!r} does not exist") from None
    return EchoOut(node_id=node_id, host=body.host, port=body.port)


@router.get("/v1/agents/{node_id}/peers", operation_id="probePeers")
def probe_peers(node_id: IdPath, plane: PlaneDep, who: Agent) -> list[PeerOut]:
    """The links the node's agent probes, each with the echo endpoint across it."""
    _own(who, node_id)
    try:
        peers = plane.live.probes.peers(node_id)
    except KeyError:
        raise ApiError(404, f"node {node_id!r} does not exist") from None
    return [PeerOut(link_id=p.link_id, host=p.host, port=p.port) for p in peers]


@router.post("/v1/agents/{node_id}/rtt", operation_id="reportRtt")
def report_rtt(
    node_id: IdPath, body: MetricReportIn, request: Request, plane: PlaneDep, who: Agent
) -> RttReportOut:
    """Round-trip times across the node's probed links, signed by the agent's key.

    Values are ``rtt_ms:<link id>`` and ``loss_ratio:<link id>``, for links the node probes.
    """
    _own(who, node_id)
    verdict, links = plane.live.probes.ingest(_envelope(request, node_id, body, who))
    _refused(request, who, verdict)
    return RttReportOut(node_id=node_id, links=links)
