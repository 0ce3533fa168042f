"""The market events feed over the in-memory store and audit log: merge, paging, cursors."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest

from suanwang.market import Dimension, Offer, UsageEvent, Want
from suanwang.service import market_feed
from suanwang.service.market_feed import Cursor, read_feed
from suanwang.storage.market_memory import MemoryMarketStore
from suanwang.storage.memory import MemoryAuditLog

DAY_S = 86_400.0


def usage(run: str, ended_s: float, tenant: str = "acme") -> UsageEvent:
    return UsageEvent(run, tenant, "hospital", Dimension.TASKS, 1.0, ended_s)


@pytest.fixture
def books() -> tuple[MemoryMarketStore, MemoryAuditLog]:
    """A lease of acme's started at 100 s, usage at 50, 150 and 250 s (one of globex)."""
    store, audit = MemoryMarketStore(DAY_S, Decimal("0.10")), MemoryAuditLog()
    offer = Offer("o1", "hospital", "node.day", 1, Decimal("40.00"), "CN-GD")
    store.list_offer(offer, ["n1"], 0.0)
    store.deposit("acme", Decimal("100.00"))
    store.buy("L1", Want("acme", "node.day", 1, Decimal("50.00")), 100.0)
    audit.append("ops", "market.offer", "offer:o1", "", 0.0)  # not in the feed
    audit.append("alice", "market.lease.start", "lease:L1", "", 100.0)
    audit.append("alice", "task.submit", "task:1", "", 120.0)  # not the market's
    store.ingest([usage("r1", 50.0), usage("r2", 150.0), usage("r3", 250.0, tenant="globex")])
    return store, audit


def test_pages_merge_both_sources_by_time_and_never_repeat(
    books: tuple[MemoryMarketStore, MemoryAuditLog],
) -> None:
    store, audit = books
    everything = read_feed(store, audit, Cursor(), 100).events
    assert [e.id for e in everything] == ["r1/tasks", "lease/L1/started", "r2/tasks", "r3/tasks"]
    assert [e.time_s for e in everything] == [50.0, 100.0, 150.0, 250.0]
    seen, cursor = [], Cursor()
    for _ in range(10):
        page = read_feed(store, audit, Cursor.decode(cursor.encode()), 1)
        if not page.events:
            assert page.cursor == cursor  # an empty page keeps the cursor
            break
        seen += [e.id for e in page.events]
        cursor = page.cursor
    assert seen == [e.id for e in everything]

    # What is stored later comes after the cursor; nothing already read comes again.
    store.ingest([usage("r4", 300.0)])
    store.settle("L1", 0)
    audit.append("ops", "market.lease.settle", "lease:L1", "period 0: charge 40.00", 310.0)
    store.close_period(0)
    audit.append("ops", "market.period.close", "period:0", "1 bills", 320.0)
    later = read_feed(store, audit, cursor, 100).events
    assert [e.id for e in later] == ["r4/tasks", "lease/L1/settled/0", "period/0/closed"]
    settled = later[1].data
    assert (settled["charge"], settled["payout"], settled["fee"]) == ("40.00", "36.00", "4.00")


def test_a_party_sees_its_own_usage_and_leases(
    books: tuple[MemoryMarketStore, MemoryAuditLog],
) -> None:
    store, audit = books
    globex = read_feed(store, audit, Cursor(), 100, party="globex").events
    assert [e.id for e in globex] == ["r3/tasks"]
    hospital = read_feed(store, audit, Cursor(), 100, party="hospital").events
    assert len(hospital) == 4  # the provider of every run and of the lease


def test_the_cursor_moves_past_audit_entries_that_are_not_the_markets(
    books: tuple[MemoryMarketStore, MemoryAuditLog], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, audit = books
    monkeypatch.setattr(market_feed, "AUDIT_PAGE", 2)
    monkeypatch.setattr(market_feed, "AUDIT_MAX_PAGES", 2)
    for i in range(20):
        audit.append("alice", "task.submit", f"task:{i}", "", 130.0)
    audit.append("ops", "market.lease.end", "lease:L1", "done", 400.0)
    store.end_lease("L1", "done", 400.0)
    found: list[str] = []
    cursor = read_feed(store, audit, Cursor(), 100).cursor  # the first page reads 4 entries
    for _ in range(20):
        page = read_feed(store, audit, cursor, 100)
        found += [e.id for e in page.events]
        if page.cursor == cursor:
            break
        cursor = page.cursor
    assert found == ["lease/L1/ended"]


@pytest.mark.parametrize(
    "text",
    [
        "not-a-cursor!",
        base64.urlsafe_b64encode(b"[1, 2, 3]").decode(),
        base64.urlsafe_b64encode(json.dumps([None, 2**63]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps([2**63, None]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps([[1.0, "k"], 1]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps([-1, None]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps([True, None]).encode()).decode(),
        "中文",
    ],
)
def test_a_malformed_cursor_names_the_field(text: str) -> None:
    with pytest.raises(ValueError, match=r"after: .* is not a cursor of this feed"):
        Cursor.decode(text)


def test_a_cursor_round_trips_and_the_limit_is_bounded(
    books: tuple[MemoryMarketStore, MemoryAuditLog],
) -> None:
    cursor = Cursor(12, 7)
    assert Cursor.decode(cursor.encode()) == cursor
    assert Cursor.decode("") == Cursor()
    with pytest.raises(ValueError, match="limit: 0 is not 1 to 1000"):
        read_feed(*books, Cursor(), 0)
