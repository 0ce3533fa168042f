"""Interruptible capacity: which leases a higher bid pre-empts, and when they end.

Interruptible leases rent spare capacity cheaply until someone pays more for it. When a
request at ``price`` a unit needs more units of an offer than are free, the interruptible
leases on that offer priced below ``price`` are ended, cheapest first (ties: the most
recently started first, so the longest-running work keeps its place), until enough units
are free; never more leases than needed, and none at all when even all of them would not
free enough. Each pre-empted lease gets ``notice_s`` seconds before its capacity is taken,
so long-running services can move make-before-break.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from suanwang.market.posted import Rental


@dataclass(frozen=True, slots=True)
class Lease:
    """Units of one offer rented by a tenant at a price, since ``started_s``."""

    lease_id: str
    tenant: str
    offer_id: str
    units: int
    price: Decimal
    rental: Rental
    started_s: float


@dataclass(frozen=True, slots=True)
class Preemption:
    """The leases a bid ends and the time their capacity is taken (``now_s + notice_s``)."""

    leases: tuple[Lease, ...]
    ends_at_s: float

    @property
    def units(self) -> int:
        """Units the pre-empted leases give back."""
        return sum(lease.units for lease in self.leases)


def preempt_for(
    offer_id: str,
    *,
    units_needed: int,
    free_units: int,
    price: Decimal,
    leases: Sequence[Lease],
    now_s: float,
    notice_s: float,
) -> Preemption | None:
    """The pre-emption that frees ``units_needed`` on ``offer_id``, or ``None`` if none can.

    With ``free_units >= units_needed`` nothing is pre-empted (an empty ``Preemption``).
    """
    if units_needed < 1 or free_units < 0 or notice_s < 0:
        raise ValueError(
            f"units_needed {units_needed!r}, free_units {free_units!r}, notice_s {notice_s!r}:"
            " need units_needed >= 1 and no negative figure"
        )
    if free_units >= units_needed:
        return Preemption((), now_s)
    outbid = [
        lease
        for lease in leases
        if lease.offer_id == offer_id
        and lease.rental is Rental.INTERRUPTIBLE
        and lease.price < price
    ]
    outbid.sort(key=lambda lease: (lease.price, -lease.started_s))
    chosen: list[Lease] = []
    free = free_units
    for lease in outbid:
        if free >= units_needed:
            break
        chosen.append(lease)
        free += lease.units
    if free < units_needed:
        return None
    return Preemption(tuple(chosen), now_s + notice_s)
