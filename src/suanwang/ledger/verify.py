"""Verifying the audit ledger: everything recomputed from the rows, the first bad entry named.

``LedgerVerifier`` is the part of ``Ledger`` (``log``) behind ``verify``: each audit entry
against its leaf, the leaves against the stored subtree hashes, every stored head's root and
signature, and a witness head's consistency with the current tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from suanwang.control.ledgerstore import LedgerLeaf, LedgerStore, SignedHead
from suanwang.control.stores import MAX_PAGE_SIZE, AuditEntry, AuditLog
from suanwang.ledger import merkle
from suanwang.ledger.heads import Witness, encode_entry, head_signed_by
from suanwang.ledger.proofs import LedgerReader
from suanwang.security.keys import raw_public_bytes

VERIFY_PAGE = 10_000
"""Leaves ``verify`` reads (and whose subtree hashes it compares) per round trip."""


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


class LedgerVerifier(LedgerReader):
    """``verify`` of a ``Ledger`` (see the module docstring)."""

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
