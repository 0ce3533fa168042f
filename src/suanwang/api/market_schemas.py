"""The market's documents on the wire: offers, orders, leases, deposits and bills.

Money travels as decimal strings of whole cents ("40.00"), in and out: an amount given as a
JSON number is refused with a 422 naming the field, since a float's binary fraction is not the
amount its writer meant (``market.money``). Usage quantities stay numbers (core-seconds, ...).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo

from suanwang.control.stores import MAX_KEY_CHARS
from suanwang.market import Rental, Settlement
from suanwang.market.money import money
from suanwang.market.store import LeaseRecord, ListedOffer
from suanwang.model import TrustLevel
from suanwang.service.market import Bill

MAX_UNITS = 10_000
"""Most units (nodes) one offer or order names."""


def _money(value: Any, info: ValidationInfo) -> Decimal:
    # MoneyError is a ValueError: pydantic reports it at the field's path, with its message.
    field = info.field_name or "amount"
    if not isinstance(value, str):  # a float is inexact; an int is refused alike, for one rule
        kind = type(value).__name__
        raise ValueError(f'{field}: {value!r} is a number ({kind}); give a string, e.g. "40.00"')
    return money(value, field)  # amounts above MAX_AMOUNT named there


Money = Annotated[
    Decimal,
    BeforeValidator(_money),
    Field(description='Whole cents as a decimal string, e.g. "40.00"; never a JSON number.'),
]
Id = Annotated[str, Field(min_length=1, max_length=MAX_KEY_CHARS)]
TRUST_NAMES = {level.name.lower(): level for level in TrustLevel}


def trust_of(name: str) -> TrustLevel:
    """A trust level by its lower-case name; ``ValueError`` naming the field otherwise."""
    level = TRUST_NAMES.get(name)
    if level is None:
        raise ValueError(f"min_trust: {name!r} is not one of {sorted(TRUST_NAMES)}")
    return level


def cents(amount: Decimal) -> str:
    """An amount as its decimal string, always with two decimals."""
    return f"{amount:.2f}"


class OfferIn(BaseModel):
    """A provider's nodes for sale: one unit per node, at a price a unit per period.

    Region and trust are the nodes' own (their site's region, their lowest trust level), not
    what the seller says of them.
    """

    model_config = ConfigDict(extra="forbid")

    offer_id: Id | None = Field(default=None, description="Default: made by the server.")
    unit: Id = Field(description="The standard unit sold, e.g. node.month.")
    price: Money
    node_ids: list[Id] = Field(min_length=1, max_length=MAX_UNITS)
    rental: Rental = Rental.ON_DEMAND


class OrderIn(BaseModel):
    """A purchase at posted prices: units of a standard unit, at most ``max_price`` a unit."""

    model_config = ConfigDict(extra="forbid")

    lease_id: Id | None = Field(default=None, description="Default: made by the server.")
    tenant: Id | None = Field(default=None, description="Staff buy for a tenant; else yours.")
    unit: Id
    units: int = Field(ge=1, le=MAX_UNITS)
    max_price: Money
    regions: list[Id] = Field(default_factory=list, max_length=100)
    min_trust: str = Field(default="untrusted", description=", ".join(TRUST_NAMES))
    rental: Rental = Rental.ON_DEMAND


class DepositIn(BaseModel):
    """Money paid into a tenant's account."""

    model_config = ConfigDict(extra="forbid")

    tenant: Id
    amount: Money


class BalanceOut(BaseModel):
    """A tenant's balance after a deposit."""

    tenant: str
    balance: str


class OfferOut(BaseModel):
    """An offer of the book, with how many of its units are leased."""

    offer_id: str
    provider: str
    unit: str
    units: int
    sold: int
    price: str
    region: str
    trust: str
    rental: str
    node_ids: list[str]
    listed_s: float

    @classmethod
    def of(cls, listed: ListedOffer) -> OfferOut:
        """From the stored listing."""
        o = listed.offer
        return cls(
            offer_id=o.offer_id,
            provider=o.provider,
            unit=o.unit,
            units=o.units,
            sold=listed.sold,
            price=cents(o.price),
            region=o.region,
            trust=o.trust.name.lower(),
            rental=o.rental.value,
            node_ids=list(listed.node_ids),
            listed_s=listed.listed_s,
        )


class LeaseOut(BaseModel):
    """A lease: nodes of one offer bound to a tenant, at a price a unit per period."""

    lease_id: str
    tenant: str
    provider: str
    offer_id: str
    units: int
    price: str
    amount: str = Field(description="One period: units x price.")
    rental: str
    node_ids: list[str]
    started_s: float
    ended_s: float | None
    end_reason: str | None
    active: bool

    @classmethod
    def of(cls, lease: LeaseRecord) -> LeaseOut:
        """From the stored lease."""
        return cls(
            lease_id=lease.lease_id,
            tenant=lease.tenant,
            provider=lease.provider,
            offer_id=lease.offer_id,
            units=lease.units,
            price=cents(lease.price),
            amount=cents(lease.amount),
            rental=lease.rental.value,
            node_ids=list(lease.node_ids),
            started_s=lease.started_s,
            ended_s=lease.ended_s,
            end_reason=lease.end_reason,
            active=lease.active,
        )


class UsageLineOut(BaseModel):
    """One rated usage line: quantity x unit price, less its credit where the SLA was missed."""

    provider: str
    dimension: str
    detail: str
    sla_met: bool
    late: bool
    quantity: float
    unit_price: str = Field(description="May hold fractions of a cent; the amount is rounded.")
    amount: str
    credit: str


class SettlementOut(BaseModel):
    """One period of a lease: the consumer's charge, the provider's payout, the platform's fee."""

    lease_id: str
    charge: str
    payout: str
    fee: str

    @classmethod
    def of(cls, settled: Settlement) -> SettlementOut:
        """From the stored settlement."""
        return cls(
            lease_id=settled.lease_id,
            charge=cents(settled.charge),
            payout=cents(settled.payout),
            fee=cents(settled.fee),
        )


class BillOut(BaseModel):
    """A tenant's bill for a period: usage under the plan, SLA credits and lease charges."""

    tenant: str
    period: int
    closed: bool = Field(description="Whether the period is closed (its bill final).")
    plan: str
    currency: str
    lines: list[UsageLineOut]
    usage: str = Field(description="Sum of the usage lines' amounts.")
    credits: str
    leases: list[SettlementOut]
    total: str = Field(description="usage - credits + the leases' charges.")

    @classmethod
    def of(cls, bill: Bill, closed: bool) -> BillOut:
        """From the service's bill."""
        invoice = bill.invoice
        return cls(
            tenant=bill.tenant,
            period=bill.period,
            closed=closed,
            plan=invoice.plan,
            currency=invoice.currency,
            lines=[
                UsageLineOut(
                    provider=line.provider,
                    dimension=line.dimension.value,
                    detail=line.detail,
                    sla_met=line.sla_met,
                    late=line.late,
                    quantity=line.quantity,
                    unit_price=str(line.unit_price),
                    amount=cents(line.amount),
                    credit=cents(line.credit),
                )
                for line in invoice.lines
            ],
            usage=cents(invoice.charges),
            credits=cents(invoice.credits),
            leases=[SettlementOut.of(s) for s in bill.leases],
            total=cents(bill.total),
        )


class PayoutsOut(BaseModel):
    """What providers have earned from lease settlements (and, for staff, the platform)."""

    payouts: dict[str, str]
    fees: str | None = Field(description="The platform's fees; staff only, else null.")
