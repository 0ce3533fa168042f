"""A tenant's metered usage by dimension, and its invoices over the last periods.

``GET /v1/market/usage?period=&tenant=`` sums a period's usage (default: the current one) per
dimension and detail, with each provider's share; a consumer or provider reads its own tenant's,
staff any tenant's or, without ``tenant``, every tenant's together. ``GET
/v1/market/invoices?tenant=&last=N`` lists the tenant's bills (``GET /v1/market/bills/{n}``)
of the last ``N`` periods up to the current one that hold usage or lease charges, newest first;
an invoice's id is ``<tenant>/<period>``. 403 for another tenant's (not staff), 422 for a
malformed query, 503 when the server runs no market.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from suanwang.api.auth import PEOPLE, STAFF, allow
from suanwang.api.deps import PlaneDep
from suanwang.api.market_schemas import BillOut
from suanwang.api.problems import ApiError
from suanwang.control.stores import Principal
from suanwang.service import ControlPlane
from suanwang.service.market import Market

router = APIRouter(tags=["market"])

MAX_LAST = 120
"""Most periods one invoice listing looks back over."""

People = Annotated[Principal, Depends(allow(*PEOPLE))]
TenantQuery = Annotated[str | None, Query(min_length=1, max_length=200)]


class DimensionUsageOut(BaseModel):
    """A period's usage in one dimension and detail, in the dimension's unit."""

    dimension: str = Field(description="Also the unit: core-s, gib-s, gflop, network-gb, ...")
    detail: str = Field(description="Accelerator kind or precision, else empty.")
    quantity: float
    providers: dict[str, float] = Field(description="Each provider's share of the quantity.")


class UsageOut(BaseModel):
    """A tenant's (or, for staff, everyone's) usage of one period, by dimension."""

    tenant: str | None = Field(description="Null: every tenant's usage (staff).")
    period: int
    start_s: float
    end_s: float
    closed: bool
    dimensions: list[DimensionUsageOut]


def _market(plane: ControlPlane) -> Market:
    if plane.market is None:
        raise ApiError(503, "this server runs no market (it has no market store)")
    return plane.market


def _tenant(who: Principal, tenant: str | None, everyone: bool) -> str | None:
    """The tenant read: the caller's own unless staff name another (or, ``everyone``, none)."""
    staff = bool(who.roles & set(STAFF))
    if tenant is not None and tenant != who.tenant and not staff:
        raise ApiError(403, f"tenant: {tenant!r}: only staff read another tenant's usage")
    if tenant is None and not (staff and everyone):
        return who.tenant
    return tenant


def _current(plane: ControlPlane, market: Market) -> int:
    return int(plane.clock.now_s() // market.store.period_s)


@router.get("/v1/market/usage", operation_id="getUsage")
def get_usage(
    plane: PlaneDep,
    who: People,
    tenant: TenantQuery = None,
    period: Annotated[int | None, Query(ge=0, le=10**9)] = None,
) -> UsageOut:
    """Usage of ``period`` (default: the current one) by dimension and detail."""
    market = _market(plane)
    name = _tenant(who, tenant, everyone=True)
    number = _current(plane, market) if period is None else period
    sums: dict[tuple[str, str], dict[str, float]] = {}
    for line in market.store.usage_lines(number):
        if name is None or line.tenant == name:
            shares = sums.setdefault((line.dimension.value, line.detail), {})
            shares[line.provider] = shares.get(line.provider, 0.0) + line.quantity
    period_s = market.store.period_s
    return UsageOut(
        tenant=name,
        period=number,
        start_s=number * period_s,
        end_s=(number + 1) * period_s,
        closed=number <= market.store.closed_through(),
        dimensions=[
            DimensionUsageOut(
                dimension=dimension,
                detail=detail,
                quantity=sum(shares.values()),
                providers=dict(sorted(shares.items())),
            )
            for (dimension, detail), shares in sorted(sums.items())
        ],
    )


@router.get("/v1/market/invoices", operation_id="listInvoices")
def list_invoices(
    plane: PlaneDep,
    who: People,
    tenant: TenantQuery = None,
    last: Annotated[int, Query(ge=1, le=MAX_LAST, description="Periods looked back.")] = 12,
) -> list[BillOut]:
    """The tenant's bills of the last ``last`` periods with usage or lease charges, newest first."""
    market = _market(plane)
    name = _tenant(who, tenant, everyone=False)
    assert name is not None  # everyone=False always names a tenant
    current = _current(plane, market)
    closed = market.store.closed_through()
    found: list[BillOut] = []
    for number in range(current, max(current - last, -1), -1):
        for bill in market.bills(number, name):
            if bill.invoice.lines or bill.leases:
                found.append(BillOut.of(bill, closed=number <= closed))
    return found
