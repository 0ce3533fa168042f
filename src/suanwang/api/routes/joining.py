"""A provider's machine joins: enrolment tokens, enrolment, attestation answers, node trust.

``POST /v1/enrol-tokens`` (admins) issues a one-time enrolment token for one node;
``POST /v1/enrol`` takes no bearer token (the enrolment token is the credential) and answers
the new agent principal's bearer token; a refused token is a 4xx problem with its ``reason``
(``unknown``, ``used``, ``expired``, ``other-node``). ``POST /v1/agents/{node}/attestation``
is the agent's answer to the challenge its heartbeat's answer carried; ``GET
/v1/nodes/{node}/trust`` shows claimed against measured and the latest attestations, and
``POST /v1/nodes/{node}/attest`` (admins) asks for a fresh one (the only way out of quarantine).
"""

from __future__ import annotations

import base64
import logging
import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from suanwang.api.auth import STAFF, allow
from suanwang.api.deps import IdPath, PlaneDep
from suanwang.api.problems import ApiError
from suanwang.api.refusals import RefusalAudit
from suanwang.control.stores import Principal, Role, StoreUnavailableError
from suanwang.control.trust import EnrolRefusal, EnrolRefusedError
from suanwang.service import ControlPlane
from suanwang.service.attest import Challenge
from suanwang.service.joining import SYSTEM as _SYSTEM

router = APIRouter(tags=["joining"])
log = logging.getLogger(__name__)
_LOCK = threading.Lock()
REFUSAL_AUDIT_INTERVAL_S = 60.0
"""Least time between two audit entries of refused enrolments of one node and reason."""
_AUDIT_WAIT_S = 5.0
"""Longest a refusal waits for its audit entry's commit (the answer does not depend on it)."""

Admin = Annotated[Principal, Depends(allow(Role.ADMIN))]
Staff = Annotated[Principal, Depends(allow(*STAFF))]
Agent = Annotated[Principal, Depends(allow(Role.AGENT))]

MAX_TTL_S = 30 * 86400.0
"""Longest an enrolment token may live."""

_STATUS = {
    EnrolRefusal.UNKNOWN: 403,
    EnrolRefusal.OTHER_NODE: 403,
    EnrolRefusal.USED: 409,
    EnrolRefusal.EXPIRED: 410,
}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnrolTokenIn(_In):
    """The node a new enrolment token enrols, its agent's tenant and the token's lifetime."""

    node_id: str = Field(min_length=1, max_length=255)
    tenant: str = Field(default="operator", min_length=1, max_length=255)
    ttl_s: float = Field(default=3600.0, gt=0.0, le=MAX_TTL_S)


class EnrolTokenOut(BaseModel):
    """An enrolment token, shown once."""

    token_id: str
    node_id: str
    tenant: str
    token: str
    expires_at_s: float


class EnrolIn(_In):
    """An agent's enrolment: the one-time token, its node, its key and what it measured."""

    enrol_token: str = Field(min_length=1, max_length=200)
    node_id: str = Field(min_length=1, max_length=255)
    public_key: str = Field(min_length=1, max_length=200)
    measured: dict[str, float] = Field(default_factory=dict, max_length=64)


class EnrolOut(BaseModel):
    """The enrolled agent's principal and bearer token (shown once)."""

    principal_id: str
    tenant: str
    node_id: str
    key_id: str
    token: str


class ChallengeOut(BaseModel):
    """A challenge: multiply the two seeded ``size`` x ``size`` float64 matrices."""

    id: str
    seed: int
    size: int

    @classmethod
    def of(cls, challenge: Challenge | None) -> ChallengeOut | None:
        """From the attestor's record (None stays None)."""
        if challenge is None:
            return None
        return cls(id=challenge.id, seed=challenge.seed, size=challenge.size)


class AnswerIn(_In):
    """The agent's answer: per row of the product the sum of absolute values, and its rate."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    challenge_id: str = Field(min_length=1, max_length=64)
    row_checksums: list[float] = Field(max_length=4096)
    measured_gflops: float = Field(ge=0.0)


class AttestationOut(BaseModel):
    """One attestation and its verdict."""

    node_id: str
    at_s: float
    size: int
    claimed_gflops: float
    measured_gflops: float
    verdict: str
    reason: str


class NodeTrustOut(BaseModel):
    """A node's trust, claimed against measured, and its latest attestations."""

    node_id: str
    trust: str
    consistent: int
    claimed_gflops: float
    measured_gflops: float | None
    reason: str
    attestations: list[AttestationOut]


@router.post("/v1/enrol-tokens", operation_id="createEnrolToken", status_code=201)
def create_enrol_token(body: EnrolTokenIn, plane: PlaneDep, who: Admin) -> EnrolTokenOut:
    """Issue a one-time token that enrols one agent for ``node_id`` (admins)."""
    store = plane.stores.trust
    if store is None:
        raise ApiError(503, "this control plane keeps no enrolment tokens")
    now_s = plane.clock.now_s()
    issued = store.create_enrol_token(body.node_id, body.tenant, now_s + body.ttl_s, now_s)
    detail = f"for {body.node_id} of {body.tenant}, valid {body.ttl_s:g} s"
    plane.record(who, "enrol-token.create", f"enrol-token:{issued.token_id}", detail)
    return EnrolTokenOut(
        token_id=issued.token_id,
        node_id=issued.node_id,
        tenant=issued.tenant,
        token=issued.plaintext,
        expires_at_s=issued.expires_at_s,
    )


@router.post("/v1/enrol", operation_id="enrolAgent", status_code=201)
def enrol_agent(body: EnrolIn, request: Request, plane: PlaneDep) -> EnrolOut:
    """Enrol an agent with a one-time token: its principal, bearer token and key binding."""
    try:
        raw = base64.b64decode(body.public_key, validate=True)
    except ValueError as exc:  # binascii.Error, or text that is not ASCII
        raise ApiError(422, f"body.public_key: {exc}") from None
    try:
        enrolled = plane.joining.enrol(body.enrol_token, body.node_id, raw, body.measured)
    except EnrolRefusedError as refused:
        _audit_refusal(request, plane, body.node_id, refused)
        status = _STATUS[refused.reason]
        raise ApiError(
            status, f"enrolment refused: {refused}", reason=refused.reason.value
        ) from None
    except ValueError as exc:
        raise ApiError(422, f"body.public_key: {exc}") from None
    return EnrolOut(
        principal_id=enrolled.principal.id,
        tenant=enrolled.principal.tenant,
        node_id=body.node_id,
        key_id=enrolled.binding.key_id,
        token=enrolled.token.plaintext,
    )


def _audit_refusal(
    request: Request, plane: ControlPlane, node_id: str, refused: EnrolRefusedError
) -> None:
    """Audit a refused enrolment: at most one entry per node and reason a minute, counted.

    The route needs no bearer token, so its entries are rate-bounded like refused reports.
    """
    state = request.app.state
    with _LOCK:
        windows: RefusalAudit | None = getattr(state, "enrol_refusals", None)
        if windows is None:
            windows = RefusalAudit(REFUSAL_AUDIT_INTERVAL_S, plane.clock.now_s)
            state.enrol_refusals = windows
    count = windows.admit(node_id, refused.reason.value)
    if count:
        detail = f"{refused.reason.value}: {refused} ({count} refused in this window)"
        written = plane.record(_SYSTEM, "agent.enrol-refused", f"node:{node_id}", detail)
        try:
            written.result(_AUDIT_WAIT_S)
        except (StoreUnavailableError, TimeoutError):
            log.warning("refused enrolment not audited: %s", detail)


@router.post("/v1/agents/{node_id}/attestation", operation_id="answerChallenge")
async def answer_challenge(
    node_id: IdPath, body: AnswerIn, plane: PlaneDep, who: Agent
) -> AttestationOut:
    """The agent's answer to the challenge its node was given (404: none open)."""
    if node_id not in who.node_ids:
        raise ApiError(403, f"this agent does not speak for node {node_id}")
    if node_id not in plane.live.scenario.topology.nodes:
        raise ApiError(404, f"node {node_id!r} does not exist")

    def judge() -> AttestationOut | None:
        found = plane.joining.answer(
            node_id, body.challenge_id, body.row_checksums, body.measured_gflops
        )
        return None if found is None else AttestationOut(**_fields(found))

    try:
        judged = await run_in_threadpool(judge)
    except (StoreUnavailableError, TimeoutError) as exc:
        raise ApiError(503, f"the attestation could not be recorded: {exc}") from None
    if judged is None:
        raise ApiError(404, f"no open challenge {body.challenge_id!r} for node {node_id}")
    return judged


def _fields(attestation: object) -> dict[str, object]:
    names = AttestationOut.model_fields
    return {name: getattr(attestation, name) for name in names}


@router.get("/v1/nodes/{node_id}/trust", operation_id="getNodeTrust")
def get_node_trust(node_id: IdPath, plane: PlaneDep, _: Staff) -> NodeTrustOut:
    """Claimed against measured, the node's trust with its reason, its latest attestations."""
    if node_id not in plane.live.scenario.topology.nodes:
        raise ApiError(404, f"node {node_id!r} does not exist")
    standing = plane.attestor.view(node_id)
    store = plane.stores.trust
    latest = [] if store is None else store.attestations(node_id, limit=10)
    return NodeTrustOut(
        node_id=node_id,
        trust=standing.trust.value,
        consistent=standing.consistent,
        claimed_gflops=plane.joining.claimed_gflops(node_id),
        measured_gflops=standing.measured_gflops,
        reason=standing.reason,
        attestations=[AttestationOut(**_fields(a)) for a in latest],
    )


@router.post("/v1/nodes/{node_id}/attest", operation_id="requestAttestation", status_code=202)
def request_attestation(node_id: IdPath, plane: PlaneDep, who: Admin) -> NodeTrustOut:
    """Challenge the node at its agent's next heartbeat, even when quarantined (admins)."""
    if node_id not in plane.live.scenario.topology.nodes:
        raise ApiError(404, f"node {node_id!r} does not exist")
    plane.attestor.request(node_id)
    plane.record(who, "node.attest-request", f"node:{node_id}")
    return get_node_trust(node_id, plane, who)
