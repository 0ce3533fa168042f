"""The audit ledger: checkpoints the audit log into a signed Merkle log, proves and verifies it.

``Ledger.sync`` appends one leaf per audit entry not yet in the log and signs a new head. It
reads where the log ends from the store each time and appends with the size it computed from,
in one transaction, so re-running after a crash neither duplicates nor skips an entry (an entry
already having a leaf is refused by the store). ``Ledger.verify`` recomputes everything from the
rows: each audit entry against its leaf, the leaves against the stored subtree hashes, every
stored head's root and signature, and a witness head's consistency with the current tree.

Proofs are ``proofs`` (``LedgerReader``), verification ``verify`` (``LedgerVerifier``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from suanwang.control.ledgerstore import LedgerLeaf, LedgerStore, SignedHead, SubtreeHash
from suanwang.control.stores import MAX_PAGE_SIZE, AuditEntry, AuditLog
from suanwang.ledger import merkle
from suanwang.ledger.heads import encode_entry, sign_head
from suanwang.ledger.proofs import LedgerError
from suanwang.ledger.verify import LedgerVerifier
from suanwang.security.keys import KeyPair

GAP_SETTLE_S = 5.0
"""How long a gap in audit ``seq`` numbers waits before sync treats it as permanent.

PostgreSQL sequences hand out numbers before commit: a later number may commit first, and a
rolled-back one never does. Sync stops at a gap until it has stood this long.
"""


def _now_ms() -> int:
    return int(time.time() * 1000)


class Ledger(LedgerVerifier):
    """The audit ledger over a ``LedgerStore`` and the ``AuditLog`` it checkpoints.

    Args:
        store: Where the tree is kept.
        audit: The audit log.
        key: Signs new heads; None for a verifier that holds only ``public_key``.
        public_key: Checks heads; defaults to ``key``'s.
        clock_ms: Timestamp of new heads (milliseconds since the epoch).
        monotonic: Clock of the gap rule (seconds).
    """

    def __init__(
        self,
        store: LedgerStore,
        audit: AuditLog,
        *,
        key: KeyPair | None = None,
        public_key: Ed25519PublicKey | None = None,
        clock_ms: Callable[[], int] = _now_ms,
        monotonic: Callable[[], float] = time.monotonic,
        gap_settle_s: float = GAP_SETTLE_S,
    ) -> None:
        if public_key is None and key is None:
            raise ValueError("a ledger needs a signing key or a public key")
        self.store = store
        self.audit = audit
        self._key = key
        self.public_key: Ed25519PublicKey = public_key or key.public_key  # type: ignore[union-attr]
        self._clock_ms = clock_ms
        self._monotonic = monotonic
        self._gap_settle_s = gap_settle_s
        self._gaps: dict[int, float] = {}

    # -- writing ---------------------------------------------------------------------------
    def _take(self, entries: list[AuditEntry], last_seq: int) -> list[AuditEntry]:
        """The entries up to the first unsettled gap in seq numbers."""
        out: list[AuditEntry] = []
        previous = last_seq
        for entry in entries:
            if previous and entry.seq != previous + 1:
                first_seen = self._gaps.setdefault(entry.seq, self._monotonic())
                if self._monotonic() - first_seen < self._gap_settle_s:
                    break
                self._gaps.pop(entry.seq, None)
            out.append(entry)
            previous = entry.seq
        return out

    def sync(self, batch: int = MAX_PAGE_SIZE) -> SignedHead | None:
        """Append leaves for the audit entries not yet in the log and sign a new head.

        Returns:
            The new head, or the latest one when nothing was appended (None when empty).

        Raises:
            LedgerError: no signing key.
            StaleLedgerError: another writer appended meanwhile (run it again).
        """
        if self._key is None:
            raise LedgerError("this ledger has no signing key")
        last = self.store.last_leaf()
        size = 0 if last is None else last.index + 1
        last_seq = 0 if last is None else last.seq
        frontier = self._frontier(size)
        appended = False
        while True:
            entries = self._take(self.audit.list(limit=batch, after_seq=last_seq), last_seq)
            if not entries:
                break
            leaves: list[LedgerLeaf] = []
            nodes: list[SubtreeHash] = []
            start = size
            for entry in entries:
                h = merkle.leaf_hash(encode_entry(entry))
                leaves.append(LedgerLeaf(size, entry.seq, h))
                frontier, made = merkle.push(frontier, h, size)
                nodes.extend(SubtreeHash(level, index, nh) for level, index, nh in made)
                size += 1
            self.store.append(start, leaves, nodes)
            last_seq = entries[-1].seq
            appended = True
            if len(entries) < batch:
                break
        latest = self.store.latest_head()
        if not appended and (latest is None or latest.size == size):
            return latest
        head = sign_head(self._key, size, merkle.fold([h for _, h in frontier]), self._clock_ms())
        self.store.add_head(head)
        return head

    # -- reading ---------------------------------------------------------------------------
