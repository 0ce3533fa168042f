"""Merkle tree hashing and proofs in the shape of RFC 6962 / RFC 9162 §2.1 (pure functions).

Leaves hash as ``SHA-256(0x00 || data)``, interior nodes as ``SHA-256(0x01 || left || right)``;
a tree of ``n`` leaves splits at ``k``, the largest power of two below ``n``. A *complete
subtree* ``(level, index)`` covers leaves ``index * 2**level`` to ``(index + 1) * 2**level - 1``
(level 0 is a leaf). Every hash a proof needs is such a subtree or a fold of a few of them, so
proofs are planned first (``inclusion_plan``, ``consistency_plan``: which subtrees) and then
assembled from their hashes (fetched in one batch from a store), O(log n) of them in all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

Subtree = tuple[int, int]
"""A complete subtree: ``(level, index)``."""

Range = tuple[int, int]
"""Leaves ``[start, end)``."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root hash of the empty tree (RFC 9162: the hash of the empty string)."""


def split_point(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def decompose(start: int, end: int) -> list[Subtree]:
    """The complete subtrees whose right fold is ``MTH(D[start:end])``.

    ``start`` must be aligned as it is in the tree's recursion (a multiple of the largest power
    of two not above ``end - start``). The subtrees come in decreasing size, left to right.
    """
    pieces: list[Subtree] = []
    while start < end:
        n = end - start
        size = n if n & (n - 1) == 0 else split_point(n)
        level = size.bit_length() - 1
        pieces.append((level, start >> level))
        start += size
    return pieces


def fold(hashes: Sequence[bytes]) -> bytes:
    """Root of a range from its ``decompose`` pieces' hashes: ``h1 . (h2 . (... hj))``."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def inclusion_plan(index: int, size: int) -> list[Range]:
    """The ranges whose roots make the audit path of leaf ``index`` in a tree of ``size``.

    In proof order (leaf to root), as RFC 9162 §2.1.3.1 ``PATH(m, D[n])``.

    Raises:
        ValueError: ``index`` is not within ``0..size-1``.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    ranges: list[Range] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = split_point(end - start)
        if m < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m = start + k, m - k
    ranges.reverse()
    return ranges


def consistency_plan(old: int, new: int) -> list[Range]:
    """The ranges whose roots make the consistency proof from ``old`` to ``new`` leaves.

    RFC 9162 §2.1.4.1 ``PROOF(m, D[n])``, in proof order. Empty when ``old`` is 0 or equals
    ``new``.

    Raises:
        ValueError: not ``0 <= old <= new``.
    """
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from {old} to {new} leaves")
    if old in (0, new):
        return []
    ranges: list[Range] = []
    start, end, m, complete = 0, new, old, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                ranges.append((start, end))
            break
        k = split_point(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, complete = start + k, m - k, False
    ranges.reverse()
    return ranges


def subtrees_of(ranges: Iterable[Range]) -> list[Subtree]:
    """Every complete subtree the ranges decompose into (what to fetch from a store)."""
    out: list[Subtree] = []
    for start, end in ranges:
        out.extend(decompose(start, end))
    return out


def assemble(ranges: Iterable[Range], hashes: Mapping[Subtree, bytes]) -> list[bytes]:
    """The proof: each range's root, from the fetched subtree hashes.

    Raises:
        KeyError: a subtree hash the ranges need is missing.
    """
    return [fold([hashes[s] for s in decompose(start, end)]) for start, end in ranges]


def range_root(
    start: int, end: int, hashes: Callable[[list[Subtree]], Mapping[Subtree, bytes]]
) -> bytes:
    """``MTH(D[start:end])`` from a batch lookup of subtree hashes."""
    pieces = decompose(start, end)
    found = hashes(pieces)
    return fold([found[p] for p in pieces])


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """``MTH`` of a list of leaf hashes (for small trees and tests; O(n))."""
    frontier: list[tuple[int, bytes]] = []
    for h in leaf_hashes:
        frontier = push(frontier, h)[0]
    return fold([h for _, h in frontier])


def push(
    frontier: list[tuple[int, bytes]], leaf: bytes, size: int | None = None
) -> tuple[list[tuple[int, bytes]], list[tuple[int, int, bytes]]]:
    """Append one leaf hash to a frontier (the tree's ``decompose(0, n)`` as (level, hash)).

    Args:
        frontier: The complete subtrees of the tree so far, largest first.
        leaf: The new leaf's hash.
        size: Leaves before this one (the frontier's total); computed when None.

    Returns:
        The new frontier, and the complete subtrees of level 1 and up this leaf completed, as
        ``(level, index, hash)``.
    """
    if size is None:
        size = sum(1 << level for level, _ in frontier)
    made: list[tuple[int, int, bytes]] = []
    out = list(frontier)
    level, h, index = 0, leaf, size
    while out and out[-1][0] == level:
        _, left = out.pop()
        h = node_hash(left, h)
        level += 1
        index >>= 1
        made.append((level, index, h))
    out.append((level, h))
    return out, made


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show leaf hash ``leaf`` at ``index`` under ``root``."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: does ``proof`` show the tree of ``old`` leaves is a prefix of ``new``."""
    if not 0 <= old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
