"""The ledger's store port: leaves, complete-subtree hashes and signed tree heads of a Merkle log.

The ledger (``suanwang.ledger``) checkpoints the audit log into an append-only Merkle tree; this
port is where it keeps the tree. ``suanwang.storage`` implements it in memory and in SQL.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from suanwang.control.stores import ConflictError


class StaleLedgerError(ConflictError):
    """An append was based on another tree size than the stored one (another writer was first)."""


@dataclass(frozen=True, slots=True)
class LedgerLeaf:
    """One leaf of the log.

    Attributes:
        index: Position in the tree, from 0.
        seq: The audit entry (``AuditEntry.seq``) the leaf records.
        hash: ``SHA-256(0x00 || encoding of the entry)``.
    """

    index: int
    seq: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class SubtreeHash:
    """The hash of the complete subtree of ``2**level`` leaves numbered ``index`` (level >= 1)."""

    level: int
    index: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class SignedHead:
    """A signed tree head: the root of the first ``size`` leaves, signed with Ed25519.

    Attributes:
        size: Leaves the head covers.
        root: Merkle tree hash of those leaves.
        timestamp_ms: When it was signed, milliseconds since the epoch.
        key_id: Key id (``security.keys.key_id_of``) of the signing key.
        signature: Ed25519 signature of ``ledger.heads.head_message``.
    """

    size: int
    root: bytes
    timestamp_ms: int
    key_id: str
    signature: bytes


@runtime_checkable
class LedgerStore(Protocol):
    """Durable leaves, subtree hashes and signed heads of one Merkle log.

    Contract:
        * Append-only: nothing is changed or removed through the port.
        * ``append`` is atomic: its leaves and subtree hashes are all stored or none are, so a
          crash never leaves half a batch; and it stores only when the stored size is the one
          the caller computed from (``StaleLedgerError`` otherwise), so two writers never
          interleave leaves.
        * A leaf's ``seq`` is unique: one audit entry never gets two leaves.
        * Lookups by index, seq and (level, index) are indexed: an inclusion proof costs
          O(log n) lookups (one batch) at any size.
        * Safe to call from many threads; the SQL adapter also across processes.
    """

    def size(self) -> int:
        """Leaves stored."""
        ...

    def last_leaf(self) -> LedgerLeaf | None:
        """The newest leaf, or None when the log is empty."""
        ...

    def append(
        self, expected_size: int, leaves: Sequence[LedgerLeaf], nodes: Sequence[SubtreeHash]
    ) -> None:
        """Store leaves ``expected_size ..`` and the subtree hashes they complete, atomically.

        Raises:
            StaleLedgerError: the stored size is not ``expected_size``, or a ``seq`` is taken.
            StoreUnavailableError: the database cannot be reached.
        """
        ...

    def leaves(self, start: int, limit: int) -> builtins.list[LedgerLeaf]:
        """Leaves from index ``start``, at most ``limit`` of them, in order."""
        ...

    def leaf_of(self, seq: int) -> LedgerLeaf | None:
        """The leaf recording audit entry ``seq``, if any."""
        ...

    def nodes(self, level: int, start: int, limit: int) -> builtins.list[SubtreeHash]:
        """Stored subtree hashes of one level from ``start``, in index order."""
        ...

    def hashes(self, subtrees: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored hashes of these complete subtrees ``(level, index)``; level 0 are leaves.

        Absent ones are left out of the answer.
        """
        ...

    def add_head(self, head: SignedHead) -> None:
        """Keep a signed head (a head of a size already kept is ignored)."""
        ...

    def latest_head(self) -> SignedHead | None:
        """The head of the largest size, or None."""
        ...

    def heads(self) -> builtins.list[SignedHead]:
        """Every kept head, smallest size first."""
        ...
