"""The market's events feed: metered usage and lease and period changes, paged by a cursor.

Two durable sources make the feed. Usage events come from the market store in the order it
stored them (``MarketStore.usage_after``, by seq); lease starts, settlements and ends and
period closes come from the audit log in append order (the market routes audit each of them in
the same commit as the change). A page merges the two by time, oldest first (newest last), and its
cursor keeps a position in each source (the last usage seq and audit seq read), so paging on
never skips or repeats an event of either source, whenever it was stored: usage metered late
(a run metered again by ``recover`` after a crash, a late event) has a later seq than the
cursor and is served to it, though its run ended earlier.

Each event's ``id`` is stable across reads (the usage key, or the lease or period and what
happened to it), so a consumer that reads a page again dedupes by id.

A ``party`` (a tenant) sees the usage and leases it is the tenant or the provider of, and
every period close; ``party`` None (staff) sees all.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal

from suanwang.control.stores import AuditEntry, AuditLog
from suanwang.market import Settlement, UsageEvent
from suanwang.market.store import LeaseRecord, MarketStore

MAX_LIMIT = 1000
"""Most events one page holds."""

AUDIT_PAGE = 500
"""Audit entries read per query while looking for market entries."""

AUDIT_MAX_PAGES = 20
"""Most audit queries per page of the feed: a page always ends, and its cursor moves past the
entries it read that were not the market's."""

USAGE_TYPE = "net.suanwang.usage."
"""Prefix of a usage event's type; the dimension (``core-s``, ``gflop`` ...) follows."""

LEASE_STARTED = "net.suanwang.lease.started"
LEASE_SETTLED = "net.suanwang.lease.settled"
LEASE_ENDED = "net.suanwang.lease.ended"
PERIOD_CLOSED = "net.suanwang.period.closed"

_ACTIONS = {
    "market.lease.start": LEASE_STARTED,
    "market.lease.settle": LEASE_SETTLED,
    "market.lease.end": LEASE_ENDED,
    "market.period.close": PERIOD_CLOSED,
}
_SETTLED_PERIOD = re.compile(r"^period (\d+):")  # the settle entry's detail (routes/market.py)


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One event of the feed, in the shape of a CloudEvent.

    Attributes:
        id: Stable across reads: the usage key, ``lease/<id>/<what>`` or ``period/<n>/closed``.
        source: Where it comes from (a URI reference).
        type: ``net.suanwang.usage.<dimension>``, ``net.suanwang.lease.<what>`` or
            ``net.suanwang.period.closed``.
        subject: The run, lease or period it is about.
        time_s: When it happened, seconds since the epoch.
        data: Its figures (money as decimal strings, quantities as numbers).
    """

    id: str
    source: str
    type: str
    subject: str
    time_s: float
    data: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in both sources: the last usage seq and audit seq consumed."""

    usage_seq: int | None = None
    audit_seq: int | None = None

    def encode(self) -> str:
        """The cursor as an opaque URL-safe string."""
        text = json.dumps([self.usage_seq, self.audit_seq], separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str | None) -> Cursor:
        """The cursor ``text`` names (None or empty: the start).

        Raises:
            ValueError: ``text`` is not a cursor of this feed (naming the field ``after``).
        """
        if not text:
            return cls()
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            usage_seq, seq = json.loads(raw)
            for value in (usage_seq, seq):
                if value is not None and (
                    isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63
                ):
                    raise ValueError(value)  # a seq no database holds (SQL integers are 64-bit)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise ValueError(f"after: {text!r} is not a cursor of this feed") from None
        return cls(usage_seq, seq)


@dataclass(frozen=True, slots=True)
class Page:
    """Events oldest first, and the cursor to read on from (the same cursor when empty)."""

    events: list[FeedEvent]
    cursor: Cursor


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def usage_event(event: UsageEvent) -> FeedEvent:
    """The feed event of a metered usage event (its id is the usage key)."""
    return FeedEvent(
        event.key,
        "/suanwang/market/usage",
        USAGE_TYPE + event.dimension.value,
        f"run/{event.run_id}",
        event.ended_s,
        {
            "value": event.quantity,
            "unit": event.dimension.value,
            "detail": event.detail,
            "tenant": event.tenant,
            "provider": event.provider,
            "run_id": event.run_id,
            "sla_met": event.sla_met,
        },
    )


def _lease_data(lease: LeaseRecord) -> dict[str, object]:
    return {
        "lease_id": lease.lease_id,
        "tenant": lease.tenant,
        "provider": lease.provider,
        "offer_id": lease.offer_id,
        "units": lease.units,
        "price": _money(lease.price),
        "rental": lease.rental.value,
        "node_ids": list(lease.node_ids),
    }


class _Lookup:
    """Leases and settlements read once per page, for the audit entries that name them."""

    def __init__(self, store: MarketStore) -> None:
        self._store = store
        self._leases: dict[str, LeaseRecord] | None = None
        self._settled: dict[int, dict[str, Settlement]] = {}

    def lease(self, lease_id: str) -> LeaseRecord | None:
        if self._leases is None:
            self._leases = {lease.lease_id: lease for lease in self._store.leases()}
        return self._leases.get(lease_id)

    def settlement(self, lease_id: str, period: int) -> Settlement | None:
        if period not in self._settled:
            found = self._store.settlements(period)
            self._settled[period] = {s.lease_id: s for s in found}
        return self._settled[period].get(lease_id)


def _audit_event(entry: AuditEntry, lookup: _Lookup, party: str | None) -> FeedEvent | None:
    """The feed event of a market audit entry, or None (not the market's, or not ``party``'s)."""
    kind = _ACTIONS.get(entry.action)
    if kind is None:
        return None
    name = entry.target.partition(":")[2]
    if kind == PERIOD_CLOSED:
        data: dict[str, object] = {"period": int(name)}
        source = "/suanwang/market/periods"
        return FeedEvent(f"period/{name}/closed", source, kind, name, entry.at_s, data)
    lease = lookup.lease(name)
    if lease is None or (party is not None and party not in (lease.tenant, lease.provider)):
        return None
    data = _lease_data(lease)
    what = kind.rpartition(".")[2]
    event_id = f"lease/{name}/{what}"
    if kind == LEASE_ENDED:
        data["reason"] = lease.end_reason or entry.detail
    elif kind == LEASE_SETTLED:
        match = _SETTLED_PERIOD.match(entry.detail)
        settled = lookup.settlement(name, int(match.group(1))) if match else None
        if match is None or settled is None:
            return None
        period = int(match.group(1))
        event_id = f"lease/{name}/settled/{period}"
        data |= {
            "period": period,
            "charge": _money(settled.charge),
            "payout": _money(settled.payout),
            "fee": _money(settled.fee),
        }
    return FeedEvent(event_id, "/suanwang/market/leases", kind, name, entry.at_s, data)


def _audit_candidates(
    audit: AuditLog, after_seq: int | None, want: int, lookup: _Lookup, party: str | None
) -> list[tuple[int, FeedEvent | None]]:
    """Audit entries after ``after_seq`` as (seq, event or None), in order, up to ``want`` events.

    An entry that is not the market's (or not ``party``'s) has None: the cursor moves past it.
    """
    read: list[tuple[int, FeedEvent | None]] = []
    found, seq = 0, after_seq
    for _ in range(AUDIT_MAX_PAGES):
        entries = audit.list(limit=AUDIT_PAGE, after_seq=seq)
        for entry in entries:
            event = _audit_event(entry, lookup, party)
            read.append((entry.seq, event))
            found += event is not None
            if found >= want:
                return read
        if len(entries) < AUDIT_PAGE:
            break
        seq = entries[-1].seq
    return read


def read_feed(
    store: MarketStore, audit: AuditLog, after: Cursor, limit: int, party: str | None = None
) -> Page:
    """One page of at most ``limit`` events after ``after`` (see the module docstring).

    Raises:
        ValueError: ``limit`` is not 1 to ``MAX_LIMIT``.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit: {limit!r} is not 1 to {MAX_LIMIT}")
    usage = store.usage_after(after.usage_seq, limit, party)
    audited = _audit_candidates(audit, after.audit_seq, limit, _Lookup(store), party)
    events: list[FeedEvent] = []
    usage_seq, seq = after.usage_seq, after.audit_seq
    i = j = 0
    while len(events) < limit:
        while j < len(audited) and audited[j][1] is None:
            seq = audited[j][0]  # not the market's (or not the party's): read past it
            j += 1
        next_audit = audited[j][1] if j < len(audited) else None
        next_usage = usage[i][1] if i < len(usage) else None
        if next_usage is None and next_audit is None:
            break
        if next_usage is not None and (
            next_audit is None or next_usage.ended_s <= next_audit.time_s
        ):
            events.append(usage_event(next_usage))
            usage_seq = usage[i][0]
            i += 1
        elif next_audit is not None:
            events.append(next_audit)
            seq = audited[j][0]
            j += 1
    return Page(events, Cursor(usage_seq, seq))
