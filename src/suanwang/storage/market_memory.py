"""The in-memory ``MarketStore``: the market's own ``Accounts`` and ``Meter`` under one lock.

Nothing survives the process; the contract suite holds it to the same behaviour as the SQL one.
"""

from __future__ import annotations

import builtins
import dataclasses
import threading
from collections.abc import Sequence
from decimal import Decimal

from suanwang.market.accounts import Accounts, InsufficientFundsError, Settlement
from suanwang.market.money import ZERO, money
from suanwang.market.posted import Offer, Want, fill_posted
from suanwang.market.store import (
    LeaseRecord,
    ListedOffer,
    MarketConflictError,
    MarketNotFoundError,
    check_listing,
    check_reason,
    lease_ids,
)
from suanwang.market.usage import Ingest, Meter, UsageEvent, UsageLine


class MemoryMarketStore:
    """A ``MarketStore`` in dictionaries (see ``market.store`` for the contract).

    Args:
        period_s: Length of a billing period, seconds.
        fee_rate: The platform's share of every settlement, in [0, 1).
    """

    def __init__(self, period_s: float, fee_rate: Decimal) -> None:
        self._lock = threading.Lock()
        self._meter = Meter(period_s)
        self.period_s = self._meter.period_s
        self._accounts = Accounts(fee_rate)
        self._offers: dict[str, ListedOffer] = {}
        self._node_lease: dict[str, str | None] = {}
        self._leases: dict[str, LeaseRecord] = {}
        self._settled: dict[tuple[str, int], Settlement] = {}
        self._events: dict[str, tuple[UsageEvent, int]] = {}
        self._stored: list[UsageEvent] = []  # in the order accepted: seq is index + 1

    def list_offer(self, offer: Offer, node_ids: Sequence[str], at_s: float) -> ListedOffer:
        """See ``MarketStore.list_offer``."""
        nodes = check_listing(offer, node_ids)
        with self._lock:
            if offer.offer_id in self._offers:
                raise MarketConflictError(f"offer_id: {offer.offer_id!r} is already listed")
            taken = sorted(n for n in nodes if n in self._node_lease)
            if taken:
                raise MarketConflictError(f"node_ids: {taken} are already offered")
            listed = ListedOffer(offer, nodes, 0, at_s)
            self._offers[offer.offer_id] = listed
            self._node_lease.update(dict.fromkeys(nodes))
        return listed

    def book(self) -> builtins.list[ListedOffer]:
        """See ``MarketStore.book``."""
        with self._lock:
            return [self._with_sold(listed) for listed in self._offers.values()]

    def buy(self, lease_id: str, want: Want, at_s: float) -> tuple[LeaseRecord, ...]:
        """See ``MarketStore.buy``."""
        with self._lock:
            book = [self._with_sold(listed) for listed in self._offers.values()]
            fills = fill_posted(
                want, [b.offer for b in book], {b.offer.offer_id: b.sold for b in book}
            )
            ids = lease_ids(lease_id, len(fills))
            known = [i for i in ids if i in self._leases]
            if known:
                raise MarketConflictError(f"lease_id: {known[0]!r} is already a lease")
            total = sum((fill.amount for fill in fills), ZERO)
            balance = self._accounts.balances.get(want.tenant, ZERO)
            if balance < total:
                raise InsufficientFundsError(
                    f"tenant {want.tenant!r}: a period of the leases costs {total}, "
                    f"the balance is {balance}"
                )
            leases: list[LeaseRecord] = []
            for one_id, fill in zip(ids, fills, strict=True):
                offer = self._offers[fill.offer_id]
                free = [n for n in offer.node_ids if self._node_lease[n] is None][: fill.units]
                for node in free:
                    self._node_lease[node] = one_id
                lease = LeaseRecord(
                    one_id,
                    want.tenant,
                    fill.provider,
                    fill.offer_id,
                    fill.units,
                    fill.price,
                    offer.offer.rental,
                    tuple(free),
                    at_s,
                )
                self._accounts.hold(one_id, want.tenant, fill.provider, lease.amount)
                self._leases[one_id] = lease
                leases.append(lease)
        return tuple(leases)

    def leases(
        self, tenant: str | None = None, active_only: bool = False
    ) -> builtins.list[LeaseRecord]:
        """See ``MarketStore.leases``."""
        with self._lock:
            return [
                lease
                for lease in self._leases.values()
                if (tenant is None or lease.tenant == tenant) and (lease.active or not active_only)
            ]

    def end_lease(self, lease_id: str, reason: str, at_s: float) -> LeaseRecord:
        """See ``MarketStore.end_lease``."""
        check_reason(reason)
        with self._lock:
            lease = self._leases.get(lease_id)
            if lease is None or not lease.active:
                raise MarketNotFoundError(f"lease_id: {lease_id!r} is not an active lease")
            for node in lease.node_ids:
                self._node_lease[node] = None
            self._accounts.close(lease_id)
            ended = dataclasses.replace(lease, ended_s=at_s, end_reason=reason)
            self._leases[lease_id] = ended
        return ended

    def deposit(self, tenant: str, amount: Decimal) -> Decimal:
        """See ``MarketStore.deposit``."""
        with self._lock:
            self._accounts.deposit(tenant, amount)
            return self._accounts.balances[tenant]

    def balance(self, tenant: str) -> Decimal:
        """See ``MarketStore.balance``."""
        with self._lock:
            return self._accounts.balances.get(tenant, ZERO)

    def held(self, lease_id: str) -> Decimal:
        """See ``MarketStore.held``."""
        with self._lock:
            return self._accounts.held(lease_id)

    def settle(self, lease_id: str, period: int) -> Settlement:
        """See ``MarketStore.settle``."""
        with self._lock:
            lease = self._leases.get(lease_id)
            if lease is None:
                raise MarketNotFoundError(f"lease_id: {lease_id!r} is not a lease")
            done = self._settled.get((lease_id, period))
            if done is not None:
                return done
            if not lease.active:
                raise MarketNotFoundError(f"lease_id: {lease_id!r} has ended")
            settlement = self._accounts.settle(lease_id, money(lease.amount, "amount"))
            self._settled[(lease_id, period)] = settlement
        return settlement

    def settlements(self, period: int) -> builtins.list[Settlement]:
        """See ``MarketStore.settlements``."""
        with self._lock:
            found = [s for (_, at), s in self._settled.items() if at == period]
        return sorted(found, key=lambda settlement: settlement.lease_id)

    def payouts(self) -> dict[str, Decimal]:
        """See ``MarketStore.payouts``."""
        with self._lock:
            return dict(self._accounts.payouts)

    def fees(self) -> Decimal:
        """See ``MarketStore.fees``."""
        with self._lock:
            return self._accounts.fees

    def ingest(self, events: Sequence[UsageEvent]) -> builtins.list[Ingest]:
        """See ``MarketStore.ingest``."""
        with self._lock:
            self._meter.check(events)
            outcomes = []
            for event in events:
                outcome = self._meter.ingest(event)
                if outcome is not Ingest.DUPLICATE:
                    period = self._meter.period_of(event.ended_s)
                    if outcome is Ingest.LATE:
                        period = self._meter.closed_through + 1
                    self._events[event.key] = (event, period)
                    self._stored.append(event)
                outcomes.append(outcome)
        return outcomes

    def usage_lines(self, period: int) -> builtins.list[UsageLine]:
        """See ``MarketStore.usage_lines``."""
        with self._lock:
            return [dataclasses.replace(line, keys=[]) for line in self._meter.lines(period)]

    def usage_events(self, period: int, tenant: str | None = None) -> builtins.list[UsageEvent]:
        """See ``MarketStore.usage_events``."""
        with self._lock:
            found = [
                event
                for event, at in self._events.values()
                if at == period and (tenant is None or event.tenant == tenant)
            ]
        return sorted(found, key=lambda event: event.key)

    def usage_after(
        self, after_seq: int | None, limit: int, party: str | None = None
    ) -> builtins.list[tuple[int, UsageEvent]]:
        """See ``MarketStore.usage_after``."""
        found: list[tuple[int, UsageEvent]] = []
        with self._lock:
            for seq in range((after_seq or 0) + 1, len(self._stored) + 1):
                event = self._stored[seq - 1]
                if party is None or party in (event.tenant, event.provider):
                    found.append((seq, event))
                    if len(found) == limit:
                        break
        return found

    def close_period(self, period: int) -> None:
        """See ``MarketStore.close_period``."""
        with self._lock:
            self._meter.close(period)

    def closed_through(self) -> int:
        """See ``MarketStore.closed_through``."""
        with self._lock:
            return self._meter.closed_through

    def closed_through_locked(self) -> int:
        """The last closed period; the caller holds the lock."""
        return self._meter.closed_through

    def _with_sold(self, listed: ListedOffer) -> ListedOffer:
        sold = sum(1 for n in listed.node_ids if self._node_lease[n] is not None)
        return dataclasses.replace(listed, sold=sold)
