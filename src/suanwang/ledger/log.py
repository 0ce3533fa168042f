"""The audit ledger: checkpoints the audit log into a signed Merkle log, proves and verifies it.

``Ledger.sync`` appends one leaf per audit entry not yet in the log and signs a new head. It
reads where the log ends from the store each time and appends with the size it computed from,
in one transaction, so re-running after a crash neither duplicates nor skips an entry (an entry
already having a leaf is refused by the store). ``Ledger.verify`` recomputes everything from the
rows: each audit entry against its leaf, the leaves against the stored subtree hashes, every
stored head's root and signature, and a witness head's consistency with the current tree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from suanwang.control.ledgerstore import LedgerLeaf, LedgerStore, SignedHead, SubtreeHash
from suanwang.control.stores import MAX_PAGE_SIZE, AuditEntry, AuditLog
from suanwang.ledger import merkle
from suanwang.ledger.heads import Witness, encode_entry, head_signed_by, sign_head
from suanwang.security.keys import KeyPair, raw_public_bytes

GAP_SETTLE_S = 5.0
"""How long a gap in audit ``seq`` numbers waits before sync treats it as permanent.

PostgreSQL sequences hand out numbers before commit: a later number may commit first, and a
rolled-back one never does. Sync stops at a gap until it has stood this long.
"""


VERIFY_PAGE = 10_000
"""Leaves ``verify`` reads (and whose subtree hashes it compares) per round trip."""


class LedgerError(Exception):
    """The ledger cannot do what was asked (no such entry, no head yet, sizes out of range)."""


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Proof that an audit entry is leaf ``index`` of the tree under ``head``."""

    seq: int
    index: int
    leaf_hash: bytes
    path: tuple[bytes, ...]
    head: SignedHead


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """Proof that the tree of ``old_size`` leaves is a prefix of the tree of ``new_size``."""

    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    path: tuple[bytes, ...]


@dataclass(slots=True)
class VerifyReport:
    """What ``Ledger.verify`` found.

    Attributes:
        ok: Nothing was wrong.
        size: Leaves checked.
        entries: Audit entries read.
        problems: What was wrong, first found first.
        first_bad_seq: The audit ``seq`` of the first entry found bad (or the first one of the
            span that a mismatching root covers), None when ``ok``.
    """

    size: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None

    @property
    def ok(self) -> bool:
        """Nothing was wrong."""
        return not self.problems

    def bad(self, message: str, seq: int | None = None) -> None:
        """Record a problem (and the first bad seq, when this is the earliest so far)."""
        self.problems.append(message)
        if seq is not None and (self.first_bad_seq is None or seq < self.first_bad_seq):
            self.first_bad_seq = seq


def _now_ms() -> int:
    return int(time.time() * 1000)


class Ledger:
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

    def _frontier(self, size: int) -> list[tuple[int, bytes]]:
        pieces = merkle.decompose(0, size)
        found = self.store.hashes(pieces)
        try:
            return [(level, found[level, index]) for level, index in pieces]
        except KeyError as exc:
            raise LedgerError(f"the ledger store lacks subtree {exc.args[0]}") from exc

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

    def head(self) -> SignedHead | None:
        """The latest signed head."""
        return self.store.latest_head()

    def root(self, size: int) -> bytes:
        """The root of the first ``size`` leaves, from the stored hashes."""
        if not 0 <= size <= self.store.size():
            raise LedgerError(f"the ledger has no tree of {size} leaves")
        return merkle.fold([h for _, h in self._frontier(size)])

    def _proof(self, ranges: list[merkle.Range]) -> tuple[bytes, ...]:
        subtrees = merkle.subtrees_of(ranges)
        found = self.store.hashes(subtrees)
        try:
            return tuple(merkle.assemble(ranges, found))
        except KeyError as exc:
            raise LedgerError(f"the ledger store lacks subtree {exc.args[0]}") from exc

    def prove(self, seq: int, head: SignedHead | None = None) -> InclusionProof:
        """An inclusion proof of audit entry ``seq`` under ``head`` (default: the latest).

        Raises:
            LedgerError: the entry has no leaf under that head, or there is no head.
        """
        head = head or self.store.latest_head()
        if head is None:
            raise LedgerError("the ledger has no signed head yet")
        leaf = self.store.leaf_of(seq)
        if leaf is None or leaf.index >= head.size:
            raise LedgerError(f"audit entry {seq} is not in the ledger's tree of {head.size}")
        path = self._proof(merkle.inclusion_plan(leaf.index, head.size))
        return InclusionProof(seq, leaf.index, leaf.hash, path, head)

    def consistency(self, old: int, new: int | None = None) -> ConsistencyProof:
        """A consistency proof from the tree of ``old`` leaves to that of ``new`` (default: all).

        Raises:
            LedgerError: a size is out of range.
        """
        size = self.store.size()
        new = size if new is None else new
        if not 0 <= old <= new <= size:
            raise LedgerError(f"no consistency proof from {old} to {new} (the ledger has {size})")
        path = self._proof(merkle.consistency_plan(old, new))
        return ConsistencyProof(old, new, self.root(old), self.root(new), path)

    # -- verifying -------------------------------------------------------------------------

    def verify(self, witness: Witness | None = None, page: int = VERIFY_PAGE) -> VerifyReport:
        """Recompute the whole ledger from the rows and report the first bad entry.

        Checks each audit entry against its leaf (same seq, same hash), every subtree hash the
        leaves complete against the stored one, the root at every stored head's size against
        the head (and its signature), and, given a witness, that the current tree extends the
        witness head (its root recomputed, and a consistency proof from it checked).
        """
        report = VerifyReport()
        heads = self.store.heads()
        for head in heads:
            if not head_signed_by(head, self.public_key):
                report.bad(f"the head of size {head.size} has no valid signature of this key")
        if witness is not None:
            self._check_witness_key(witness, report)
        wanted = {h.size for h in heads}
        if witness is not None:
            wanted.add(witness.head.size)
        roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
        cursor = _AuditCursor(self.audit)
        frontier: list[tuple[int, bytes]] = []
        size = 0
        while True:
            leaves = self.store.leaves(size, page)
            made_all: list[tuple[int, int, bytes]] = []
            seq_at: dict[int, int] = {}
            gap: LedgerLeaf | None = None
            for leaf in leaves:
                if leaf.index != size:
                    gap = leaf
                    break
                report.entries += _match(leaf, cursor, report)
                seq_at[leaf.index] = leaf.seq
                frontier, made = merkle.push(frontier, leaf.hash, size)
                made_all.extend(made)
                size += 1
                if size in wanted:
                    roots[size] = merkle.fold([h for _, h in frontier])
            _check_nodes(self.store, made_all, seq_at, report)
            if gap is not None:
                last_seq = seq_at.get(size - 1)
                report.bad(
                    f"ledger leaf {size} is missing (the next stored is {gap.index})",
                    gap.seq if last_seq is None else last_seq + 1,
                )
                report.size = size
                return report
            if len(leaves) < page:
                break
        report.size = size
        self._check_heads(heads, roots, report)
        if witness is not None:
            self._check_witness(witness, size, roots, report)
        return report

    def _check_heads(
        self, heads: list[SignedHead], roots: dict[int, bytes], report: VerifyReport
    ) -> None:
        good = 0  # size of the last head whose root the leaves still give
        for head in heads:
            root = roots.get(head.size)
            if root is None:
                report.bad(f"the signed head of size {head.size} is beyond the ledger's leaves")
            elif root != head.root:
                # The change lies after the last head that still checks out: a fallback when
                # no row-level check named an entry.
                leaf = self.store.leaves(good, 1) if report.first_bad_seq is None else []
                report.bad(
                    f"the leaves {good}..{head.size - 1} do not give the root the head of "
                    f"size {head.size} signed",
                    leaf[0].seq if leaf else None,
                )
            elif head_signed_by(head, self.public_key):
                good = head.size
        if not heads and self.store.size():
            report.bad("the ledger has leaves but no signed head")

    def _check_witness_key(self, witness: Witness, report: VerifyReport) -> None:
        if witness.public_key and witness.public_key != raw_public_bytes(self.public_key):
            report.bad("the witness was signed by another ledger key")
        elif not head_signed_by(witness.head, self.public_key):
            report.bad("the witness head has no valid signature of this key")

    def _check_witness(
        self, witness: Witness, size: int, roots: dict[int, bytes], report: VerifyReport
    ) -> None:
        old = witness.head
        if old.size > size:
            report.bad(
                f"the ledger has {size} leaves, fewer than the {old.size} the witness signed "
                "(entries were removed)"
            )
            return
        if roots.get(old.size) != old.root:
            leaf = self.store.leaves(0, 1) if report.first_bad_seq is None else []
            report.bad(
                f"the first {old.size} leaves no longer give the witness's root: entries up to "
                f"leaf {old.size - 1} were changed",
                leaf[0].seq if leaf else None,
            )
            return
        latest = self.store.latest_head()
        if latest is None or latest.size < old.size:
            return
        proof = self.consistency(old.size, latest.size)
        if not merkle.verify_consistency(old.size, latest.size, old.root, latest.root, proof.path):
            report.bad(f"no consistency proof from the witness ({old.size}) to the latest head")


class _AuditCursor:
    """The audit log read forward one page at a time."""

    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit
        self._page: list[AuditEntry] = []
        self._after = 0
        self._done = False

    def peek(self) -> AuditEntry | None:
        if not self._page and not self._done:
            self._page = self._audit.list(limit=MAX_PAGE_SIZE, after_seq=self._after)
            self._page.reverse()
            self._done = not self._page
        return self._page[-1] if self._page else None

    def pop(self) -> None:
        self._after = self._page.pop().seq


def _match(leaf: LedgerLeaf, cursor: _AuditCursor, report: VerifyReport) -> int:
    """Check the audit entry of ``leaf``; the number of entries read (0 or 1)."""
    entry = cursor.peek()
    while entry is not None and entry.seq < leaf.seq:
        report.bad(f"audit entry {entry.seq} is not in the ledger (inserted)", entry.seq)
        cursor.pop()
        entry = cursor.peek()
    if entry is None or entry.seq > leaf.seq:
        report.bad(f"audit entry {leaf.seq} is missing (deleted)", leaf.seq)
        return 0
    cursor.pop()
    if merkle.leaf_hash(encode_entry(entry)) != leaf.hash:
        report.bad(f"audit entry {entry.seq} does not match its leaf", entry.seq)
    return 1


def _check_nodes(
    store: LedgerStore,
    made: list[tuple[int, int, bytes]],
    seq_at: dict[int, int],
    report: VerifyReport,
) -> None:
    """Compare recomputed subtree hashes with the stored ones (the first mismatch is named)."""
    if not made:
        return
    spans: dict[int, tuple[int, int]] = {}
    for level, index, _ in made:
        low, high = spans.get(level, (index, index))
        spans[level] = (min(low, index), max(high, index))
    stored: dict[tuple[int, int], bytes] = {}
    for level, (low, high) in spans.items():
        stored.update(((n.level, n.index), n.hash) for n in store.nodes(level, low, high - low + 1))
    for level, index, h in made:
        if stored.get((level, index)) != h:
            first = index << level
            leaf = seq_at.get(first)
            if leaf is None:
                found = store.leaves(first, 1)
                leaf = found[0].seq if found else None
            report.bad(
                f"ledger subtree (level {level}, index {index}) does not match its leaves "
                f"{first}..{first + (1 << level) - 1}",
                leaf,
            )
            return
