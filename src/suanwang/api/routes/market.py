"""The market: providers offer their nodes, consumers lease them, operators close periods.

``POST /v1/market/offers`` (providers, of the nodes their tenant owns; staff, of any owner's)
lists whole nodes at a price a unit per period, with the nodes' own region and lowest trust
level; ``GET /v1/market/offers`` is the book. ``POST /v1/market/orders`` buys at posted prices
(``service.market.Market.order``): the nodes are the tenant's from the next placement.
``GET /v1/market/leases`` lists the caller's tenant's leases (as consumer or provider; staff
see all), ``DELETE /v1/market/leases/{id}?reason=`` ends one. Staff pay money in
(``POST /v1/market/deposits``) and close a billing period (``POST
/v1/market/periods/{n}/close``: every active lease settled, those without funds ended).
``GET /v1/market/bills/{period}`` is a tenant's bill, ``GET /v1/market/payouts`` what
providers earned.

Every change runs as a command of the plane's writer, so that lease changes reach the
scheduler between two cycles and in the order they were made, and is audited in the same
group commit (the ledger takes the audit log). Refusals: 403 for another's node or tenant,
404 for an unknown lease, 409 for no fill, too few funds, a known id or a closed period, 422
for malformed input; 503 when the server runs no market. Money is decimal strings.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

from fastapi import APIRouter, Depends, Path, Query

from suanwang.api.auth import PEOPLE, STAFF, SUBMITTERS, allow
from suanwang.api.deps import PlaneDep, answer
from suanwang.api.market_schemas import (
    BalanceOut,
    BillOut,
    DepositIn,
    LeaseOut,
    OfferIn,
    OfferOut,
    OrderIn,
    PayoutsOut,
    cents,
    trust_of,
)
from suanwang.api.problems import ApiError
from suanwang.control.stores import Principal, Role
from suanwang.market import InsufficientFundsError, NoFillError, Offer, Want, rate
from suanwang.market.store import MarketConflictError, MarketNotFoundError
from suanwang.model import Topology, TrustLevel
from suanwang.service import ControlPlane
from suanwang.service.market import Bill, Market, NotYoursError

if TYPE_CHECKING:
    from suanwang.service.worker import Batch

T = TypeVar("T")

router = APIRouter(tags=["market"])

Seller = Annotated[Principal, Depends(allow(Role.ADMIN, Role.OPERATOR, Role.PROVIDER))]
Buyer = Annotated[Principal, Depends(allow(*SUBMITTERS))]
People = Annotated[Principal, Depends(allow(*PEOPLE))]
Staff = Annotated[Principal, Depends(allow(*STAFF))]
LeaseIdPath = Annotated[str, Path(min_length=1, max_length=200)]
PeriodPath = Annotated[int, Path(ge=0, le=10**9, description="Billing period number.")]
Reason = Annotated[str, Query(min_length=1, max_length=500, description="Why the lease ends.")]

_REFUSED = (ValueError, NoFillError, MarketNotFoundError, NotYoursError)


def _market(plane: ControlPlane) -> Market:
    if plane.market is None:
        raise ApiError(503, "this server runs no market (it has no market store)")
    return plane.market


def _staff(who: Principal) -> bool:
    return bool(who.roles & set(STAFF))


def _refused(exc: Exception) -> ApiError:
    """The answer to a refused market request: its message, under the status of its kind."""
    detail = str(exc)
    if isinstance(exc, NotYoursError):
        return ApiError(403, detail)
    if isinstance(exc, MarketNotFoundError):
        return ApiError(404, detail)
    if isinstance(exc, MarketConflictError | NoFillError | InsufficientFundsError):
        return ApiError(409, detail)
    return ApiError(422, detail)


async def _write(plane: ControlPlane, command: Callable[[Batch], T]) -> T:
    """Run ``command`` on the writer; its refusals answered as ``_refused`` says."""
    try:
        return await answer(plane.call(command))
    except _REFUSED as exc:
        raise _refused(exc) from None


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def _offer_of(body: OfferIn, offer_id: str, seller: str | None, topology: Topology) -> Offer:
    """The offer of ``body``: provider, region and trust from the nodes the topology knows.

    Unknown nodes are left for ``Market.offer`` to name; a staff offer (``seller`` None) sells
    for the nodes' one owner.
    """
    known = [topology.nodes[n] for n in body.node_ids if n in topology.nodes]
    owners = sorted({node.owner for node in known})
    if seller is None and len(owners) > 1:
        raise ValueError(f"node_ids: nodes of several owners {owners}; offer each owner's apart")
    regions = sorted({topology.sites[node.site_id].region for node in known})
    if len(regions) > 1:
        raise ValueError(f"node_ids: nodes of several regions {regions}; offer each apart")
    return Offer(
        offer_id,
        seller or (owners[0] if owners else ""),
        body.unit,
        len(body.node_ids),
        body.price,
        regions[0] if regions else "",
        min((node.trust_level for node in known), default=TrustLevel.UNTRUSTED),
        body.rental,
    )


@router.post("/v1/market/offers", operation_id="offerCapacity", status_code=201)
async def post_offer(body: OfferIn, plane: PlaneDep, who: Seller) -> OfferOut:
    """List nodes for sale: one unit each, at ``price`` a unit per period."""
    market = _market(plane)
    seller = None if _staff(who) else who.tenant
    offer_id = body.offer_id or _new_id("offer")

    def command(batch: Batch) -> OfferOut:
        offer = _offer_of(body, offer_id, seller, plane.live.controller.state.topology)
        listed = market.offer(seller, offer, body.node_ids)
        detail = f"{offer.units} x {offer.unit} at {cents(offer.price)} ({offer.rental.value})"
        plane.audit(batch, who.id, "market.offer", f"offer:{offer_id}", detail)
        return OfferOut.of(listed)

    return await _write(plane, command)


@router.get("/v1/market/offers", operation_id="listOffers")
def list_offers(plane: PlaneDep, _: People) -> list[OfferOut]:
    """The book: every listed offer, in listing order, with its units leased."""
    return [OfferOut.of(listed) for listed in _market(plane).store.book()]


@router.post("/v1/market/orders", operation_id="orderCapacity", status_code=201)
async def post_order(body: OrderIn, plane: PlaneDep, who: Buyer) -> list[LeaseOut]:
    """Buy at posted prices, cheapest offers first, all or nothing; one lease per offer."""
    market = _market(plane)
    tenant = body.tenant or who.tenant
    if tenant != who.tenant and not _staff(who):
        raise ApiError(403, f"tenant: {tenant!r}: a consumer buys for its own tenant")
    try:
        trust = trust_of(body.min_trust)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    regions = frozenset(body.regions)
    want = Want(tenant, body.unit, body.units, body.max_price, regions, trust, body.rental)
    lease_id = body.lease_id or _new_id("lease")

    def command(batch: Batch) -> list[LeaseOut]:
        leases = market.order(lease_id, want)
        for lease in leases:
            detail = f"{lease.tenant} from {lease.provider}: {', '.join(lease.node_ids)}"
            detail += f" at {cents(lease.price)} a unit"
            plane.audit(batch, who.id, "market.lease.start", f"lease:{lease.lease_id}", detail)
        return [LeaseOut.of(lease) for lease in leases]

    return await _write(plane, command)


@router.get("/v1/market/leases", operation_id="listLeases")
def list_leases(
    plane: PlaneDep, who: People, active: Annotated[bool, Query()] = False
) -> list[LeaseOut]:
    """Leases of the caller's tenant, as consumer or provider (staff: all), in start order."""
    leases = _market(plane).store.leases(active_only=active)
    if not _staff(who):
        leases = [x for x in leases if who.tenant in (x.tenant, x.provider)]
    return [LeaseOut.of(lease) for lease in leases]


@router.delete("/v1/market/leases/{lease_id}", operation_id="endLease")
async def end_lease(lease_id: LeaseIdPath, plane: PlaneDep, who: Buyer, reason: Reason) -> LeaseOut:
    """End a lease of the caller's tenant (staff: any) with a stated reason."""
    market = _market(plane)
    scope = None if _staff(who) else who.tenant

    def command(batch: Batch) -> LeaseOut:
        ended = market.end_lease(scope, lease_id, reason)
        plane.audit(batch, who.id, "market.lease.end", f"lease:{lease_id}", reason)
        return LeaseOut.of(ended)

    return await _write(plane, command)


@router.post("/v1/market/deposits", operation_id="depositFunds", status_code=201)
async def post_deposit(body: DepositIn, plane: PlaneDep, who: Staff) -> BalanceOut:
    """Pay money into a tenant's account; answers the new balance."""
    market = _market(plane)

    def command(batch: Batch) -> BalanceOut:
        balance = market.store.deposit(body.tenant, body.amount)
        target = f"account:{body.tenant}"
        plane.audit(batch, who.id, "market.deposit", target, cents(body.amount))
        return BalanceOut(tenant=body.tenant, balance=cents(balance))

    return await _write(plane, command)


@router.post("/v1/market/periods/{period}/close", operation_id="closePeriod")
async def close_period(period: PeriodPath, plane: PlaneDep, who: Staff) -> list[BillOut]:
    """Settle every active lease for ``period`` and close it; answers its bills.

    A lease whose tenant cannot pay the period ends (``funds exhausted``). A period that has
    not begun cannot be closed (its usage would all be late).
    """
    market = _market(plane)
    current = int(plane.clock.now_s() // market.store.period_s)
    if period > current:
        raise ApiError(422, f"period: {period} has not begun (the current period is {current})")

    def command(batch: Batch) -> list[BillOut]:
        active = {lease.lease_id for lease in market.store.leases(active_only=True)}
        try:
            bills = market.close(period)
        except ValueError as exc:  # already closed
            raise MarketConflictError(str(exc)) from None
        for settled in market.store.settlements(period):
            detail = f"period {period}: charge {cents(settled.charge)}, payout "
            detail += f"{cents(settled.payout)}, fee {cents(settled.fee)}"
            plane.audit(batch, who.id, "market.lease.settle", f"lease:{settled.lease_id}", detail)
        for lease in market.store.leases():
            if lease.lease_id in active and not lease.active:
                target, reason = f"lease:{lease.lease_id}", lease.end_reason or ""
                plane.audit(batch, who.id, "market.lease.end", target, reason)
        plane.audit(batch, who.id, "market.period.close", f"period:{period}", f"{len(bills)} bills")
        return [BillOut.of(bill, closed=True) for bill in bills]

    return await _write(plane, command)


@router.get("/v1/market/bills/{period}", operation_id="getBill")
def get_bill(
    period: PeriodPath,
    plane: PlaneDep,
    who: People,
    tenant: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> BillOut:
    """A tenant's bill for ``period`` (the caller's; staff name any with ``?tenant=``)."""
    market = _market(plane)
    name = tenant or who.tenant
    if name != who.tenant and not _staff(who):
        raise ApiError(403, f"tenant: {name!r}: only staff read another tenant's bill")
    found = market.bills(period, name)
    bill = found[0] if found else Bill(name, period, rate(name, period, [], market.plan), ())
    return BillOut.of(bill, closed=period <= market.store.closed_through())


@router.get("/v1/market/payouts", operation_id="listPayouts")
def list_payouts(plane: PlaneDep, who: Seller) -> PayoutsOut:
    """What providers earned from lease settlements: the caller's own (staff: all, and fees)."""
    store = _market(plane).store
    earned = store.payouts()
    if _staff(who):
        return PayoutsOut(
            payouts={p: cents(v) for p, v in sorted(earned.items())}, fees=cents(store.fees())
        )
    own = earned.get(who.tenant)
    return PayoutsOut(payouts={who.tenant: "0.00" if own is None else cents(own)}, fees=None)
