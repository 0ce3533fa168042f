"""The market store port: the order book, leases, accounts and usage events, kept durably.

Offers list whole nodes: an offer of ``units`` units names ``units`` nodes, one unit each, and a
node is offered at most once, so a lease binds named nodes and no node is leased twice (the
SQL adapters make the binding a conditional update, which holds across processes). A purchase
fills a consumer's request at posted prices (``posted.fill_posted``), holds the leases' funds
from the tenant's balance and binds the nodes in one transaction: all of it or nothing.

Money follows ``accounts.Accounts``: a lease's hold pays its settlements; each settlement pays
the provider the charge less the platform's fee; ending a lease gives the rest of the hold back.
A settlement is kept per (lease, period), so settling again returns the stored one.

Usage events are metered exactly once by key (``usage.UsageEvent.key``; the SQL adapters' primary
key): an event sent again is a duplicate and changes nothing, one under a known key with other
figures is refused (``UsageConflictError``) with nothing of its batch written. Events go to the
period their run ended in, or, when that period is closed, to the first open one as late usage.
Usage lines read back without their keys (``UsageLine.keys`` empty); ``usage_events`` lists
the events a line sums.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from suanwang.market.accounts import Settlement
from suanwang.market.money import money
from suanwang.market.posted import Offer, Rental, Want
from suanwang.market.usage import Ingest, UsageEvent, UsageLine


class MarketConflictError(ValueError):
    """A write that clashes with what is stored: a known offer or lease id, a node offered twice."""


class MarketNotFoundError(LookupError):
    """The offer or lease named does not exist."""


@dataclass(frozen=True, slots=True)
class ListedOffer:
    """An offer in the book with the nodes it sells and how many of them are leased.

    Attributes:
        offer: The offer (one unit per node).
        node_ids: The nodes sold, in the order they are leased.
        sold: Units (nodes) under an active lease.
        listed_s: When it was listed, clock seconds.
    """

    offer: Offer
    node_ids: tuple[str, ...]
    sold: int
    listed_s: float


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """Nodes of one offer rented by a tenant at a price a unit per period.

    Attributes:
        lease_id: Unique id.
        tenant: Who rents (and pays).
        provider: Who sells (and is paid).
        offer_id: The offer the nodes come from.
        units: Nodes leased.
        price: Per unit per period, whole cents.
        rental: The offer's rental class.
        node_ids: The nodes bound to the tenant.
        started_s: When it started, clock seconds.
        ended_s: When it ended, or None while active.
        end_reason: Why it ended (stated by whoever ended it), or None while active.
    """

    lease_id: str
    tenant: str
    provider: str
    offer_id: str
    units: int
    price: Decimal
    rental: Rental
    node_ids: tuple[str, ...]
    started_s: float
    ended_s: float | None = None
    end_reason: str | None = None

    @property
    def amount(self) -> Decimal:
        """What one period of the lease costs: units x price."""
        return self.price * self.units

    @property
    def active(self) -> bool:
        """Whether the lease still binds its nodes."""
        return self.ended_s is None


@runtime_checkable
class MarketStore(Protocol):
    """The market's durable state (see the module docstring for the guarantees).

    Contract: every method is safe from many threads; a write is committed when it returns.
    Malformed input raises ``ValueError`` naming the field (``MoneyError`` for amounts).
    """

    period_s: float
    """Length of a billing period, seconds; period ``k`` starts at ``k * period_s``."""

    def list_offer(self, offer: Offer, node_ids: Sequence[str], at_s: float) -> ListedOffer:
        """Put ``offer`` in the book, selling ``node_ids`` (as many as its units).

        Raises:
            MarketConflictError: the offer id is known or a node is already offered.
        """
        ...

    def book(self) -> builtins.list[ListedOffer]:
        """Every listed offer, in listing order."""
        ...

    def buy(self, lease_id: str, want: Want, at_s: float) -> tuple[LeaseRecord, ...]:
        """Fill ``want`` from the book, hold its funds and bind its nodes, all at once.

        Lease ids are ``lease_id`` for one fill, ``lease_id/1``, ``lease_id/2``, ... for more.

        Raises:
            NoFillError: the book cannot fill the request (the message names the limit).
            InsufficientFundsError: the tenant's balance does not cover one period.
            MarketConflictError: ``lease_id`` is known.
        """
        ...

    def leases(
        self, tenant: str | None = None, active_only: bool = False
    ) -> builtins.list[LeaseRecord]:
        """Leases (of ``tenant``, or all), in start order."""
        ...

    def end_lease(self, lease_id: str, reason: str, at_s: float) -> LeaseRecord:
        """End an active lease: free its nodes, give the rest of its hold back.

        Raises:
            MarketNotFoundError: no active lease has that id.
            ValueError: ``reason`` is empty.
        """
        ...

    def deposit(self, tenant: str, amount: Decimal) -> Decimal:
        """Add ``amount`` to ``tenant``'s balance; returns the new balance."""
        ...

    def balance(self, tenant: str) -> Decimal:
        """``tenant``'s balance (zero for a tenant never seen)."""
        ...

    def held(self, lease_id: str) -> Decimal:
        """Funds still held for a lease (zero once ended or spent)."""
        ...

    def settle(self, lease_id: str, period: int) -> Settlement:
        """Charge one period of a lease (hold first, then balance); once per (lease, period).

        Raises:
            MarketNotFoundError: no lease has that id.
            InsufficientFundsError: hold and balance together do not cover the charge.
        """
        ...

    def settlements(self, period: int) -> builtins.list[Settlement]:
        """The settlements of ``period``, by lease id."""
        ...

    def payouts(self) -> dict[str, Decimal]:
        """What each provider has earned."""
        ...

    def fees(self) -> Decimal:
        """What the platform has earned."""
        ...

    def ingest(self, events: Sequence[UsageEvent]) -> builtins.list[Ingest]:
        """Meter ``events`` once each, in one transaction; one outcome per event, in order.

        Raises:
            UsageConflictError: an event's key is stored (or repeated in the batch) with other
                figures; nothing of the batch is written.
            ValueError: a malformed event.
        """
        ...

    def usage_lines(self, period: int) -> builtins.list[UsageLine]:
        """The usage of ``period`` summed per line (keys left empty)."""
        ...

    def usage_events(self, period: int, tenant: str | None = None) -> builtins.list[UsageEvent]:
        """The events metered into ``period`` (of ``tenant``, or all), by key."""
        ...

    def usage_after(
        self, after_seq: int | None, limit: int, party: str | None = None
    ) -> builtins.list[tuple[int, UsageEvent]]:
        """At most ``limit`` (seq, event) pairs in the order stored, after ``after_seq``.

        Every accepted event gets the next ``seq`` (1, 2, ...) in the transaction that stores
        it, so a reader that pages by seq sees each event once, also one stored later than
        events that ended after it (a run metered again by ``recover``, a late event).
        ``after_seq`` None starts at the first; ``party`` keeps the events it is the tenant or
        the provider of (None: all). What the events feed and the metrics page through;
        ``limit`` is 1 or more.
        """
        ...

    def close_period(self, period: int) -> None:
        """Close every period up to ``period``: later events of them count as late.

        Raises:
            ValueError: ``period`` is already closed.
        """
        ...

    def closed_through(self) -> int:
        """The last closed period (-1 before the first close)."""
        ...


def check_listing(offer: Offer, node_ids: Sequence[str]) -> tuple[str, ...]:
    """The nodes of a listing, checked: one per unit, none empty or repeated, a sane offer.

    Raises:
        ValueError: naming the field and the value that is wrong.
    """
    nodes = tuple(node_ids)
    if not offer.offer_id or not offer.provider or not offer.unit:
        raise ValueError("offer_id, provider and unit must not be empty")
    if offer.units < 1:
        raise ValueError(f"units: {offer.units!r} is not a whole count >= 1")
    money(offer.price, "price")
    if len(nodes) != offer.units:
        raise ValueError(f"node_ids: {len(nodes)} nodes for {offer.units} units (one per unit)")
    if len(set(nodes)) != len(nodes) or not all(nodes):
        raise ValueError(f"node_ids: {list(nodes)} holds an empty or repeated id")
    return nodes


def check_reason(reason: str) -> None:
    """Refuse a lease end without a stated reason (``ValueError``)."""
    if not reason.strip():
        raise ValueError("reason: a lease ends with a stated reason")


def lease_ids(lease_id: str, fills: int) -> tuple[str, ...]:
    """The ids of the leases of one purchase of ``fills`` fills (see ``MarketStore.buy``)."""
    if not lease_id:
        raise ValueError("lease_id: must not be empty")
    if fills == 1:
        return (lease_id,)
    return tuple(f"{lease_id}/{i}" for i in range(1, fills + 1))
