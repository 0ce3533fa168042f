"""Runtime registration: providers add sites, nodes, links and services, and retire nodes.

``POST /v1/sites``, ``POST /v1/nodes``, ``POST /v1/links`` and ``POST /v1/services`` (with its
instances on known nodes) take one record as a scenario file writes it (``suanwang scenario
schema``); a record that does not fit the live topology is a 422 naming ``field`` and
``value``, and nothing is written. Each change is stored with its
topology version and audit entry in one transaction (``service.registry``); the answer comes
after that commit, and the next scheduling cycle sees it. ``POST /v1/nodes`` may also issue a
one-time enrolment token for the node (``enrol_ttl_s``), so that a provider enrols the node's
agent without an admin. ``POST /v1/nodes/{id}/retire`` drains the node, services moving
make-before-break, and then keeps it down for good (its record stays, retired).

Roles: admins, operators and providers. A provider's node is owned by the provider's tenant
(an ``owner`` naming another tenant is refused); a provider places service instances on, and
retires, only the nodes its tenant owns or that it speaks for.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from suanwang.api.auth import STAFF, allow, keeps_node
from suanwang.api.deps import IdPath, PlaneDep, answer
from suanwang.api.problems import ApiError
from suanwang.control.changes import ChangeKind, TopologyChange
from suanwang.control.stores import Principal, Role
from suanwang.service import ControlPlane
from suanwang.service.overlay import RegistrationError

router = APIRouter(tags=["registry"])

Registrar = Annotated[Principal, Depends(allow(Role.ADMIN, Role.OPERATOR, Role.PROVIDER))]
Staff = Annotated[Principal, Depends(allow(*STAFF))]
Record = Annotated[dict[str, Any], Body(description="One record as a scenario file writes it")]
MAX_ENROL_TTL_S = 30 * 86400.0


class ChangeOut(BaseModel):
    """One stored topology change."""

    version: int
    kind: str
    id: str
    who: str
    at_s: float
    body: dict[str, Any]
    enrol_token: str | None = Field(
        default=None, description="One-time enrolment token for the node's agent, when asked"
    )
    enrol_token_expires_at_s: float | None = None

    @classmethod
    def of(cls, change: TopologyChange) -> ChangeOut:
        """From the stored change."""
        return cls(
            version=change.version,
            kind=change.kind.value,
            id=change.record_id,
            who=change.who,
            at_s=change.at_s,
            body=change.body,
        )


class RetireIn(BaseModel):
    """Why a node is retired."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="retired by its provider", max_length=500)


class RetireOut(BaseModel):
    """A retirement: the node drains (``moving`` services began to move), then stays down."""

    id: str
    state: str
    moving: int


def _shown(value: object) -> object:
    return value if isinstance(value, str | int | float | bool) or value is None else repr(value)


async def _register(
    plane: ControlPlane, who: Principal, kind: ChangeKind, body: dict[str, Any]
) -> TopologyChange:
    try:
        return await answer(plane.registry.register(who, kind, body))
    except RegistrationError as error:
        raise ApiError(
            422, f"{kind.value} {error!s}", field=error.field, value=_shown(error.value)
        ) from None


@router.post("/v1/sites", operation_id="registerSite", status_code=201)
async def register_site(body: Record, plane: PlaneDep, who: Registrar) -> ChangeOut:
    """Add a site to the live topology."""
    return ChangeOut.of(await _register(plane, who, ChangeKind.SITE, body))


@router.post("/v1/links", operation_id="registerLink", status_code=201)
async def register_link(body: Record, plane: PlaneDep, who: Registrar) -> ChangeOut:
    """Add a link between two known sites or network elements."""
    return ChangeOut.of(await _register(plane, who, ChangeKind.LINK, body))


@router.post("/v1/services", operation_id="registerService", status_code=201)
async def register_service(body: Record, plane: PlaneDep, who: Registrar) -> ChangeOut:
    """Add a service (CS-ID) with its instances (CSCI-IDs) on known nodes to the catalogue."""
    nodes = plane.live.scenario.topology.nodes
    instances = body.get("instances")
    for instance in instances if isinstance(instances, list) else []:
        node = nodes.get(str(instance.get("node"))) if isinstance(instance, dict) else None
        if node is not None and not keeps_node(who, node.id, node.owner):
            raise ApiError(403, f"principal {who.id} does not keep node {node.id}")
    return ChangeOut.of(await _register(plane, who, ChangeKind.SERVICE, body))


@router.post("/v1/nodes", operation_id="registerNode", status_code=201)
async def register_node(
    body: Record,
    plane: PlaneDep,
    who: Registrar,
    enrol_ttl_s: Annotated[float | None, Query(gt=0, le=MAX_ENROL_TTL_S)] = None,
) -> ChangeOut:
    """Add a node at a known site; with ``enrol_ttl_s``, also a one-time enrolment token."""
    if Role.ADMIN not in who.roles and Role.OPERATOR not in who.roles:
        owner = body.get("owner")
        if owner not in (None, who.tenant):
            raise ApiError(403, f"a provider registers nodes of its own tenant ({who.tenant})")
        body = {**body, "owner": who.tenant}
    out = ChangeOut.of(await _register(plane, who, ChangeKind.NODE, body))
    store = plane.stores.trust
    if enrol_ttl_s is not None and store is not None:
        now_s = plane.clock.now_s()
        tenant = str(body.get("owner") or who.tenant)
        issued = await run_in_threadpool(
            store.create_enrol_token, out.id, tenant, now_s + enrol_ttl_s, now_s
        )
        detail = f"for {out.id} of {tenant}, valid {enrol_ttl_s:g} s"
        await answer(
            plane.record(who, "enrol-token.create", f"enrol-token:{issued.token_id}", detail)
        )
        out.enrol_token, out.enrol_token_expires_at_s = issued.plaintext, issued.expires_at_s
    return out


async def _retire(plane: ControlPlane, who: Principal, node_id: str, reason: str) -> RetireOut:
    node = plane.live.scenario.topology.nodes.get(node_id)
    if node is not None and not keeps_node(who, node_id, node.owner):
        raise ApiError(403, f"principal {who.id} does not keep node {node_id}")
    moving = await answer(plane.registry.retire(who, node_id, reason))
    return RetireOut(id=node_id, state=plane.live.node_state(node_id), moving=moving)


@router.post("/v1/nodes/{node_id}/retire", operation_id="retireNode")
async def retire_node(
    node_id: IdPath, plane: PlaneDep, who: Registrar, body: RetireIn | None = None
) -> RetireOut:
    """Retire a node: it drains (services move without a break), then stays down for good."""
    return await _retire(plane, who, node_id, (body or RetireIn()).reason)


@router.get("/v1/topology/changes", operation_id="listTopologyChanges")
def list_changes(
    plane: PlaneDep,
    _: Staff,
    after_version: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ChangeOut]:
    """Stored runtime topology changes after ``after_version``, in version order."""
    store = plane.stores.topology
    if store is None:
        return []
    return [ChangeOut.of(c) for c in store.changes(after_version)[:limit]]
