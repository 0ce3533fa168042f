"""Reading the audit ledger: roots, and inclusion and consistency proofs from stored hashes.

``LedgerReader`` is the part of ``Ledger`` (``log``) that only reads the ``LedgerStore``: a
proof is assembled from the stored subtree hashes (``merkle``), never from the audit log, so
it proves what the signed heads cover.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from suanwang.control.ledgerstore import LedgerStore, SignedHead
from suanwang.control.stores import AuditLog
from suanwang.ledger import merkle


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


class LedgerReader:
    """Roots and proofs of a ``Ledger`` (see the module docstring)."""

    store: LedgerStore
    audit: AuditLog
    public_key: Ed25519PublicKey

    def _frontier(self, size: int) -> list[tuple[int, bytes]]:
        pieces = merkle.decompose(0, size)
        found = self.store.hashes(pieces)
        try:
            return [(level, found[level, index]) for level, index in pieces]
        except KeyError as exc:
            raise LedgerError(f"the ledger store lacks subtree {exc.args[0]}") from exc

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
