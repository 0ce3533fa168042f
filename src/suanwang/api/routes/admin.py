"""Principals, their tokens and the audit trail (admins), and who the caller is (anyone)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from suanwang.api.auth import ANY_ROLE, Authenticator, allow
from suanwang.api.deps import IdPath, PlaneDep, answer
from suanwang.api.problems import ApiError
from suanwang.api.schemas import AuditOut, PrincipalIn, PrincipalOut, TokenOut
from suanwang.control.stores import MAX_PAGE_SIZE, Principal, Role

router = APIRouter(tags=["access"])

Admin = Annotated[Principal, Depends(allow(Role.ADMIN))]


@router.get("/v1/whoami", operation_id="whoAmI")
async def who_am_i(who: Annotated[Principal, Depends(allow(*ANY_ROLE))]) -> PrincipalOut:
    """The principal the token belongs to."""
    return PrincipalOut.of(who)


@router.post("/v1/principals", operation_id="createPrincipal", status_code=201)
async def create_principal(body: PrincipalIn, plane: PlaneDep, who: Admin) -> PrincipalOut:
    """Create a principal (a person or program) with a tenant and roles."""
    try:
        principal = body.to_principal()
    except ValueError as exc:
        raise ApiError(422, f"body: {exc}") from None
    await run_in_threadpool(plane.stores.principals.add_principal, principal)
    await answer(plane.record(who, "principal.create", f"principal:{principal.id}"))
    return PrincipalOut.of(principal)


@router.get("/v1/principals", operation_id="listPrincipals")
def list_principals(
    plane: PlaneDep,
    _: Admin,
    tenant: Annotated[str | None, Query(max_length=255)] = None,
) -> list[PrincipalOut]:
    """Principals, of one tenant or all."""
    return [PrincipalOut.of(p) for p in plane.stores.principals.principals(tenant)]


@router.post("/v1/principals/{principal_id}/tokens", operation_id="createToken", status_code=201)
async def create_token(principal_id: IdPath, plane: PlaneDep, who: Admin) -> TokenOut:
    """Issue a token; its text is in this answer only (the server keeps its hash)."""
    issued = await run_in_threadpool(plane.stores.principals.create_token, principal_id)
    await answer(plane.record(who, "token.create", f"token:{issued.token_id}", principal_id))
    return TokenOut(token_id=issued.token_id, principal_id=principal_id, token=issued.plaintext)


@router.delete("/v1/tokens/{token_id}", operation_id="revokeToken", status_code=204)
async def revoke_token(token_id: IdPath, request: Request, plane: PlaneDep, who: Admin) -> Response:
    """Revoke a token for good (effective at once on this server)."""
    if not await run_in_threadpool(plane.stores.principals.revoke, token_id):
        raise ApiError(404, f"token {token_id!r} is unknown or already revoked")
    authenticator: Authenticator = request.app.state.authenticator
    authenticator.forget_all()
    await answer(plane.record(who, "token.revoke", f"token:{token_id}"))
    return Response(status_code=204)


@router.get("/v1/audit", operation_id="listAudit")
def list_audit(
    plane: PlaneDep,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    after_seq: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    since_s: Annotated[float | None, Query(ge=0, le=1e12)] = None,
) -> list[AuditOut]:
    """Audit entries in order, oldest first (page on with ``after_seq``)."""
    entries = plane.stores.audit.list(limit, since_s, after_seq)
    return [AuditOut.of(e) for e in entries]
