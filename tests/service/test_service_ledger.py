"""The ledger syncer: audit entries get leaves and a signed head off the writer's path."""

from __future__ import annotations

from suanwang.ledger import Ledger
from suanwang.security.keys import KeyPair, Role
from suanwang.service.ledger import LedgerSyncer
from suanwang.storage import open_store


def test_the_syncer_checkpoints_and_syncs_at_stop() -> None:
    stores = open_store("memory://")
    assert stores.ledger is not None
    ledger = Ledger(stores.ledger, stores.audit, key=KeyPair.generate(Role.CONTROLLER))
    syncer = LedgerSyncer(ledger, interval_s=0.01)
    syncer.start()
    for i in range(5):
        stores.audit.append("admin", "token.create", f"token:{i}", "", 1.0 + i)
    syncer.stop()
    head = ledger.head()
    assert head is not None
    assert head.size == 5
    assert ledger.verify().ok


def test_a_failed_sync_is_reported_not_raised() -> None:
    stores = open_store("memory://")
    assert stores.ledger is not None
    verifier = Ledger(
        stores.ledger, stores.audit, public_key=KeyPair.generate(Role.CONTROLLER).public_key
    )
    stores.audit.append("admin", "x", "y", "", 1.0)
    assert LedgerSyncer(verifier).sync_now() is False
