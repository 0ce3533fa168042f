"""Posted-price sales: a request for units is filled at once from the cheapest eligible offers.

The on-demand mechanism: a provider posts an offer (units of a standard unit, a price a
unit, its region, trust level and rental class); a consumer's request names the unit, how
many, the most it pays a unit, the regions it accepts and the least trust it accepts. A fill
takes the cheapest eligible offers first (ties: the order given) and is all or nothing: a
lease of fewer units than asked is not what the consumer bought. Nothing is sold twice: the
caller passes the units already sold per offer and adds the fill's units once it is bound.

What it gives up: prices are the providers' (no discovery, unlike the call market); it is
truthful for the consumer (its maximum price only decides whether it buys).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from suanwang.market.money import money
from suanwang.model import TrustLevel


class Rental(StrEnum):
    """How capacity is rented: now and until released, for a fixed period, or until outbid."""

    ON_DEMAND = "on-demand"
    RESERVED = "reserved"
    INTERRUPTIBLE = "interruptible"


@dataclass(frozen=True, slots=True)
class Offer:
    """A provider's capacity for sale at a posted price.

    Attributes:
        offer_id: Unique id; fills and leases name it.
        provider: Who sells; paid at settlement.
        unit: The standard unit sold (e.g. ``gpu-a100.hour``); requests for another do not match.
        units: Units for sale in all.
        price: Per unit, whole cents.
        region: Where the capacity is; a request lists the regions it accepts.
        trust: The provider's trust level; a request names the least it accepts.
        rental: The rental class; a request matches offers of its own class only.
    """

    offer_id: str
    provider: str
    unit: str
    units: int
    price: Decimal
    region: str
    trust: TrustLevel = TrustLevel.BASIC
    rental: Rental = Rental.ON_DEMAND


@dataclass(frozen=True, slots=True)
class Want:
    """A consumer's request at posted prices (empty ``regions``: any region)."""

    tenant: str
    unit: str
    units: int
    max_price: Decimal
    regions: frozenset[str] = field(default_factory=frozenset)
    min_trust: TrustLevel = TrustLevel.UNTRUSTED
    rental: Rental = Rental.ON_DEMAND


@dataclass(frozen=True, slots=True)
class Fill:
    """Units of one offer sold to a request, at the offer's price."""

    offer_id: str
    provider: str
    units: int
    price: Decimal

    @property
    def amount(self) -> Decimal:
        """What the fill costs: units x price."""
        return self.price * self.units


class NoFillError(LookupError):
    """A request that no set of eligible offers can fill; the message says which limit bound."""


def fill_posted(
    want: Want, offers: Sequence[Offer], sold: Mapping[str, int] | None = None
) -> tuple[Fill, ...]:
    """Fill ``want`` from the cheapest eligible offers, all or nothing.

    ``sold`` maps an offer id to the units of it already sold (absent: none). Raises
    ``ValueError`` for a malformed request, ``NoFillError`` naming the limit when the eligible
    offers hold too few units (the region, trust, unit or price that ruled the rest out).
    """
    if want.units < 1:
        raise ValueError(f"units: {want.units!r} is not a whole count >= 1")
    max_price = money(want.max_price, "max_price")
    sold = sold or {}
    matching = [o for o in offers if o.unit == want.unit and o.rental == want.rental]
    placed = [o for o in matching if not want.regions or o.region in want.regions]
    trusted = [o for o in placed if o.trust >= want.min_trust]
    priced = [o for o in trusted if o.price <= max_price]
    fills: list[Fill] = []
    needed = want.units
    for offer in sorted(priced, key=lambda o: o.price):  # stable: ties keep the given order
        left = offer.units - sold.get(offer.offer_id, 0)
        if left <= 0:
            continue
        take = min(left, needed)
        fills.append(Fill(offer.offer_id, offer.provider, take, offer.price))
        needed -= take
        if needed == 0:
            return tuple(fills)
    stages = (
        (matching, f"of unit {want.unit!r} as {want.rental.value}"),
        (placed, f"in regions {sorted(want.regions)}"),
        (trusted, f"at trust >= {want.min_trust.name.lower()}"),
        (priced, f"at <= {max_price} a unit"),
    )
    available = {o.offer_id: o.units - sold.get(o.offer_id, 0) for o in offers}
    for kept, what in stages:
        units = sum(max(0, available[o.offer_id]) for o in kept)
        if units < want.units:
            raise NoFillError(f"{units} of {want.units} units are for sale {what}")
    # Unreachable: the last stage holds exactly the offers the loop took from.
    raise AssertionError("priced offers held enough units but the fill came short")
