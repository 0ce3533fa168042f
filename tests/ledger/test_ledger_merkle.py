"""Merkle hashing and proofs against an independent reading of RFC 9162 §2.1.

The reference below is written from the RFC's text (the recursive definitions of MTH, PATH and
PROOF, and the verification algorithms of §2.1.3.2 and §2.1.4.2); it imports nothing of the
project's Merkle code, so a shared mistake cannot hide.
"""

from __future__ import annotations

import hashlib
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.ledger import merkle

# -- an independent reference, from the RFC text -------------------------------------------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_leaf(data: bytes) -> bytes:
    return _h(b"\x00" + data)


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return _h(b"")
    if len(d) == 1:
        return ref_leaf(d[0])
    k = _k(len(d))
    return _h(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


def ref_verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, path: list[bytes], root: bytes
) -> bool:
    # RFC 9162 §2.1.3.2, step by step.
    if leaf_index >= tree_size:
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            if fn % 2 == 0:
                while not (fn % 2 == 1 or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            r = _h(b"\x01" + r + p)
        fn //= 2
        sn //= 2
    return sn == 0 and r == root


def ref_verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]
) -> bool:
    # RFC 9162 §2.1.4.2, step by step (first < second, first > 0).
    if not path:
        return False
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1
    if fn % 2 == 1:
        while fn % 2 == 1:
            fn //= 2
            sn //= 2
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = _h(b"\x01" + c + fr)
            sr = _h(b"\x01" + c + sr)
            if fn % 2 == 0:
                while not (fn % 2 == 1 or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            sr = _h(b"\x01" + sr + c)
        fn //= 2
        sn //= 2
    return fr == first_hash and sr == second_hash and sn == 0


# -- the project's side: proofs built from stored complete subtrees -------------------------


class _Tree:
    """Leaves appended with ``merkle.push``; subtree hashes kept as a store would."""

    def __init__(self, data: list[bytes]) -> None:
        self.hashes: dict[tuple[int, int], bytes] = {}
        frontier: list[tuple[int, bytes]] = []
        for i, item in enumerate(data):
            h = merkle.leaf_hash(item)
            self.hashes[0, i] = h
            frontier, made = merkle.push(frontier, h, i)
            self.hashes.update(((lv, ix), nh) for lv, ix, nh in made)
        self.size = len(data)

    def root(self, n: int) -> bytes:
        return merkle.fold([self.hashes[p] for p in merkle.decompose(0, n)])

    def inclusion(self, m: int, n: int) -> list[bytes]:
        return merkle.assemble(merkle.inclusion_plan(m, n), self.hashes)

    def consistency(self, m: int, n: int) -> list[bytes]:
        return merkle.assemble(merkle.consistency_plan(m, n), self.hashes)


def _data(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


N = 40
DATA = _data(N)
TREE = _Tree(DATA)


def test_leaf_and_node_hashes_follow_the_rfc() -> None:
    assert merkle.leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert (
        merkle.node_hash(b"l" * 32, b"r" * 32)
        == hashlib.sha256(b"\x01" + b"l" * 32 + b"r" * 32).digest()
    )
    assert hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT


def test_roots_of_every_size_match_the_reference() -> None:
    for n in range(N + 1):
        assert TREE.root(n) == ref_mth(DATA[:n]), n
        assert merkle.root_of([merkle.leaf_hash(x) for x in DATA[:n]]) == ref_mth(DATA[:n])


def test_inclusion_proofs_of_every_leaf_of_every_size_1_to_40() -> None:
    for n in range(1, N + 1):
        root = ref_mth(DATA[:n])
        for m in range(n):
            proof = TREE.inclusion(m, n)
            assert proof == ref_path(m, DATA[:n]), (m, n)
            assert ref_verify_inclusion(m, n, ref_leaf(DATA[m]), proof, root)
            assert merkle.verify_inclusion(m, n, ref_leaf(DATA[m]), proof, root)
            # A wrong leaf, index or root fails both verifiers.
            assert not merkle.verify_inclusion(m, n, ref_leaf(b"other"), proof, root)
            assert not merkle.verify_inclusion(m, n, ref_leaf(DATA[m]), proof, _h(b"x"))
            if n > 1:
                wrong = (m + 1) % n
                assert merkle.verify_inclusion(
                    wrong, n, ref_leaf(DATA[m]), proof, root
                ) == ref_verify_inclusion(wrong, n, ref_leaf(DATA[m]), proof, root)


def test_consistency_proofs_of_every_pair_up_to_40() -> None:
    for n in range(1, N + 1):
        for m in range(1, n + 1):
            proof = TREE.consistency(m, n)
            assert proof == ref_proof(m, DATA[:n]), (m, n)
            old, new = ref_mth(DATA[:m]), ref_mth(DATA[:n])
            assert merkle.verify_consistency(m, n, old, new, proof)
            if m < n:
                assert ref_verify_consistency(m, n, old, new, proof), (m, n)
                assert not merkle.verify_consistency(m, n, _h(b"x"), new, proof)
                assert not merkle.verify_consistency(m, n, old, _h(b"x"), proof)
                if proof:
                    assert not merkle.verify_consistency(m, n, old, new, proof[:-1])


def test_consistency_edge_cases() -> None:
    root = ref_mth(DATA[:5])
    assert merkle.consistency_plan(0, 5) == []
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, root, [])
    assert merkle.verify_consistency(5, 5, root, root, [])
    assert not merkle.verify_consistency(5, 5, root, _h(b"x"), [])
    assert not merkle.verify_consistency(6, 5, root, root, [])


def test_random_pairs_in_a_larger_tree() -> None:
    rng = random.Random(16)
    data = _data(1500)
    tree = _Tree(data)
    for _ in range(60):
        n = rng.randint(1, len(data))
        m = rng.randint(1, n)
        old, new = ref_mth(data[:m]), ref_mth(data[:n])
        assert tree.root(n) == new
        proof = tree.consistency(m, n)
        assert m == n or ref_verify_consistency(m, n, old, new, proof)
        leaf = rng.randrange(n)
        path = tree.inclusion(leaf, n)
        assert ref_verify_inclusion(leaf, n, ref_leaf(data[leaf]), path, new)


def test_proof_sizes_are_logarithmic() -> None:
    size = 10_000_000
    for index in (0, 1, size // 2, size - 1):
        assert len(merkle.subtrees_of(merkle.inclusion_plan(index, size))) <= 2 * 24
    assert len(merkle.subtrees_of(merkle.consistency_plan(3_333_333, size))) <= 3 * 24


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_property_inclusion_and_consistency(n: int, draw: st.DataObject) -> None:
    data = _data(n)
    tree = _Tree(data)
    m = draw.draw(st.integers(min_value=0, max_value=n - 1))
    root = ref_mth(data)
    assert ref_verify_inclusion(m, n, ref_leaf(data[m]), tree.inclusion(m, n), root)
    old = draw.draw(st.integers(min_value=1, max_value=n))
    proof = tree.consistency(old, n)
    assert merkle.verify_consistency(old, n, ref_mth(data[:old]), root, proof)
    if old < n:
        assert ref_verify_consistency(old, n, ref_mth(data[:old]), root, proof)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=2, max_value=200), st.data())
def test_property_a_changed_leaf_breaks_the_proofs(n: int, draw: st.DataObject) -> None:
    data = _data(n)
    bad = draw.draw(st.integers(min_value=0, max_value=n - 1))
    tampered = [*data[:bad], b"tampered", *data[bad + 1 :]]
    tree = _Tree(tampered)
    root = ref_mth(data)
    assert tree.root(n) != root
    m = draw.draw(st.integers(min_value=0, max_value=n - 1))
    # The path of leaf m covers the changed leaf unless m is that leaf.
    verified = ref_verify_inclusion(m, n, ref_leaf(data[m]), tree.inclusion(m, n), root)
    assert verified == (m == bad)
    old = draw.draw(st.integers(min_value=bad + 1, max_value=n))
    if old < n:
        honest_old = ref_mth(data[:old])
        assert not merkle.verify_consistency(
            old, n, honest_old, tree.root(n), tree.consistency(old, n)
        )
