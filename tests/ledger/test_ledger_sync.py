"""``Ledger.sync`` over audit logs whose seq numbers have gaps (PostgreSQL sequences)."""

from __future__ import annotations

import builtins

from suanwang.control.stores import AuditEntry
from suanwang.ledger import Ledger
from suanwang.security.keys import KeyPair, Role
from suanwang.storage.ledger import MemoryLedgerStore


class GappyAudit:
    """An audit log whose entries are given with their seq numbers (gaps allowed)."""

    def __init__(self) -> None:
        self.entries: builtins.list[AuditEntry] = []

    def add(self, seq: int) -> None:
        self.entries.append(AuditEntry(seq, float(seq), "who", "act", f"t:{seq}", ""))
        self.entries.sort(key=lambda e: e.seq)

    def append(self, who: str, action: str, target: str, detail: str, at_s: float) -> AuditEntry:
        raise NotImplementedError

    def list(
        self, limit: int = 100, since_s: float | None = None, after_seq: int | None = None
    ) -> builtins.list[AuditEntry]:
        return [e for e in self.entries if e.seq > (after_seq or 0)][:limit]


def test_a_gap_waits_until_it_settles_and_a_late_commit_is_not_skipped() -> None:
    now = [0.0]
    audit = GappyAudit()
    store = MemoryLedgerStore()
    ledger = Ledger(
        store,
        audit,
        key=KeyPair.generate(Role.CONTROLLER),
        monotonic=lambda: now[0],
        gap_settle_s=5.0,
    )
    for seq in (1, 2, 4, 5):  # 3 is still being committed
        audit.add(seq)
    head = ledger.sync()
    assert head is not None
    assert head.size == 2
    audit.add(3)  # the late commit
    now[0] = 1.0
    head = ledger.sync()
    assert head is not None
    assert [leaf.seq for leaf in store.leaves(0, 10)] == [1, 2, 3, 4, 5]
    audit.add(8)  # 6 and 7 rolled back: never committed
    now[0] = 2.0
    assert ledger.sync() == head
    now[0] = 8.0
    head = ledger.sync()
    assert head is not None
    assert head.size == 6
    assert ledger.verify().ok


def test_sync_pages_through_many_entries() -> None:
    audit = GappyAudit()
    for seq in range(1, 2501):
        audit.add(seq)
    store = MemoryLedgerStore()
    ledger = Ledger(store, audit, key=KeyPair.generate(Role.CONTROLLER))
    head = ledger.sync(batch=1000)
    assert head is not None
    assert head.size == 2500
    assert len(store.heads()) == 1
    report = ledger.verify(page=700)
    assert report.ok, report.problems
    assert report.entries == 2500
