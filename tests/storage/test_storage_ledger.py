"""The ``LedgerStore`` contract on every adapter, and the ledger over real stores.

Tamper tests run on SQLite and PostgreSQL: they change ``audit_log`` or the ``ledger_*`` rows
behind the stores' back (dropping the audit log's no-update triggers first, as an attacker with
the database would) and check that ``Ledger.verify`` fails naming the first bad entry, and that a
witness head saved before the tampering proves it even when every hash was recomputed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from suanwang.control.ledgerstore import (
    LedgerLeaf,
    LedgerStore,
    SignedHead,
    StaleLedgerError,
    SubtreeHash,
)
from suanwang.ledger import Ledger, merkle, read_witness, write_witness
from suanwang.ledger.heads import encode_entry, head_signed_by
from suanwang.security.keys import KeyPair, Role
from suanwang.storage import Stores, open_store
from suanwang.storage.engine import make_engine

KEY = KeyPair.generate(Role.CONTROLLER)


def _ledger(stores: Stores, key: KeyPair = KEY) -> Ledger:
    assert stores.ledger is not None
    return Ledger(stores.ledger, stores.audit, key=key, clock_ms=lambda: 1_700_000_000_000)


def _fill(stores: Stores, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        stores.audit.append(f"user{i % 3}", "task.submit", f"task:{i}", f"detail {i}", 1000.0 + i)


# -- the port's contract ---------------------------------------------------------------------


def _leaf(i: int, seq: int | None = None) -> LedgerLeaf:
    return LedgerLeaf(i, i + 1 if seq is None else seq, merkle.leaf_hash(b"%d" % i))


def test_contract_append_and_read_back(stores: Stores) -> None:
    store = stores.ledger
    assert isinstance(store, LedgerStore)
    assert store.size() == 0
    assert store.last_leaf() is None
    assert store.latest_head() is None
    leaves = [_leaf(i) for i in range(5)]
    node = SubtreeHash(1, 0, merkle.node_hash(leaves[0].hash, leaves[1].hash))
    store.append(0, leaves, [node])
    assert store.size() == 5
    assert store.last_leaf() == leaves[-1]
    assert store.leaves(1, 2) == leaves[1:3]
    assert store.leaves(5, 10) == []
    assert store.leaf_of(3) == leaves[2]
    assert store.leaf_of(99) is None
    assert store.nodes(1, 0, 10) == [node]
    assert store.hashes([(0, 4), (1, 0), (1, 7), (0, 9)]) == {
        (0, 4): leaves[4].hash,
        (1, 0): node.hash,
    }
    assert store.hashes([]) == {}


def test_contract_append_is_checked_against_the_size(stores: Stores) -> None:
    store = stores.ledger
    assert store is not None
    store.append(0, [_leaf(0)], [])
    with pytest.raises(StaleLedgerError):
        store.append(0, [_leaf(0, seq=50)], [])
    with pytest.raises(StaleLedgerError):
        store.append(1, [_leaf(1, seq=1)], [])  # seq 1 already has a leaf
    assert store.size() == 1
    assert store.leaf_of(50) is None


def test_contract_a_failed_append_stores_nothing(stores: Stores) -> None:
    store = stores.ledger
    assert store is not None
    store.append(0, [_leaf(0)], [])
    with pytest.raises(StaleLedgerError):
        store.append(1, [_leaf(1), _leaf(2, seq=1)], [SubtreeHash(1, 0, b"x" * 32)])
    assert store.size() == 1
    assert store.hashes([(1, 0), (0, 1)]) == {}


def test_contract_heads(stores: Stores) -> None:
    store = stores.ledger
    assert store is not None
    first = SignedHead(1, b"a" * 32, 10, "k", b"s" * 64)
    second = SignedHead(3, b"b" * 32, 20, "k", b"t" * 64)
    store.add_head(second)
    store.add_head(first)
    store.add_head(SignedHead(3, b"c" * 32, 30, "k", b"u" * 64))  # ignored: size 3 is kept
    assert store.latest_head() == second
    assert store.heads() == [first, second]


def test_contract_concurrent_appends_never_interleave(stores: Stores) -> None:
    store = stores.ledger
    assert store is not None
    errors: list[Exception] = []

    def writer(base: int) -> None:
        for _ in range(20):
            size = store.size()
            try:
                store.append(size, [LedgerLeaf(size, base + size, b"h" * 32)], [])
            except StaleLedgerError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(b * 1000,)) for b in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    leaves = store.leaves(0, 100)
    assert [leaf.index for leaf in leaves] == list(range(len(leaves)))
    assert len(leaves) + len(errors) == 40


# -- the ledger over the stores ----------------------------------------------------------------


def test_sync_is_idempotent_and_verifies(open_stores: Callable[[], Stores]) -> None:
    stores = open_stores()
    ledger = _ledger(stores)
    assert ledger.sync() is None
    _fill(stores, 37)
    head = ledger.sync()
    assert head is not None
    assert head.size == 37
    assert head_signed_by(head, KEY.public_key)
    entries = stores.audit.list(limit=100)
    assert head.root == merkle.root_of([merkle.leaf_hash(encode_entry(e)) for e in entries])
    assert ledger.sync() == head  # nothing new: same head, no new leaves
    _fill(stores, 5, 37)
    again = open_stores()  # a restart reads where the log ends from the store
    head2 = _ledger(again).sync()
    assert head2 is not None
    assert head2.size == 42
    report = _ledger(again).verify()
    assert report.ok, report.problems
    assert report.size == 42


def test_sync_after_a_crash_between_append_and_head(stores: Stores) -> None:
    ledger = _ledger(stores)
    _fill(stores, 10)
    ledger.sync()
    _fill(stores, 3, 10)
    # A crash after the leaves were stored, before the head was signed:
    entries = stores.audit.list(after_seq=10)
    assert stores.ledger is not None
    frontier = [(lv, h) for lv, h in ledger._frontier(10)]
    leaves, nodes = [], []
    for i, entry in enumerate(entries):
        h = merkle.leaf_hash(encode_entry(entry))
        leaves.append(LedgerLeaf(10 + i, entry.seq, h))
        frontier, made = merkle.push(frontier, h, 10 + i)
        nodes.extend(SubtreeHash(lv, ix, nh) for lv, ix, nh in made)
    stores.ledger.append(10, leaves, nodes)
    head = ledger.sync()
    assert head is not None
    assert head.size == 13
    assert stores.ledger.size() == 13
    assert ledger.verify().ok


def test_proofs_check_with_the_rfc_algorithms(stores: Stores) -> None:
    ledger = _ledger(stores)
    _fill(stores, 21)
    old = ledger.sync()
    assert old is not None
    _fill(stores, 12, 21)
    head = ledger.sync()
    assert head is not None
    for seq in (1, 7, 21, 33):
        proof = ledger.prove(seq)
        assert merkle.verify_inclusion(
            proof.index, head.size, proof.leaf_hash, proof.path, head.root
        )
    consistency = ledger.consistency(old.size, head.size)
    assert consistency.old_root == old.root
    assert merkle.verify_consistency(old.size, head.size, old.root, head.root, consistency.path)


def test_a_witness_round_trips(stores: Stores, tmp_path: Path) -> None:
    ledger = _ledger(stores)
    _fill(stores, 4)
    head = ledger.sync()
    assert head is not None
    path = write_witness(head, KEY.public_key, tmp_path / "witness.json")
    witness = read_witness(path)
    assert witness.head == head
    _fill(stores, 4, 4)
    ledger.sync()
    assert ledger.verify(witness).ok
    other = Ledger(
        stores.ledger, stores.audit, public_key=KeyPair.generate(Role.CONTROLLER).public_key
    )  # type: ignore[arg-type]
    assert not other.verify(witness).ok


# -- tampering, on real databases ------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def tampered(sql_url: str) -> Iterator[tuple[Stores, Engine]]:
    """Stores with 50 synced entries, and a raw engine on them with the guard triggers dropped."""
    stores = open_store(sql_url)
    _fill(stores, 50)
    _ledger(stores).sync()
    engine = make_engine(sql_url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP TRIGGER audit_log_no_change ON audit_log"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
            connection.execute(text("DROP TRIGGER audit_log_no_delete"))
    yield stores, engine
    engine.dispose()
    stores.close()


def _sql(engine: Engine, *statements: str) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def test_an_edited_audit_row_is_named(tampered: tuple[Stores, Engine]) -> None:
    stores, engine = tampered
    _sql(engine, "UPDATE audit_log SET who = 'mallory' WHERE seq = 17")
    _sql(engine, "UPDATE audit_log SET detail = 'x' WHERE seq = 30")
    report = _ledger(stores).verify()
    assert not report.ok
    assert report.first_bad_seq == 17


def test_a_deleted_audit_row_is_named(tampered: tuple[Stores, Engine]) -> None:
    stores, engine = tampered
    _sql(engine, "DELETE FROM audit_log WHERE seq = 23")
    report = _ledger(stores).verify()
    assert report.first_bad_seq == 23
    assert "missing" in report.problems[0]


def test_reordered_audit_rows_are_named(tampered: tuple[Stores, Engine]) -> None:
    stores, engine = tampered
    # Swap the contents of rows 12 and 13 (the seq numbers stay in order).
    _sql(
        engine,
        "UPDATE audit_log SET seq = -1 WHERE seq = 12",
        "UPDATE audit_log SET seq = 12 WHERE seq = 13",
        "UPDATE audit_log SET seq = 13 WHERE seq = -1",
    )
    report = _ledger(stores).verify()
    assert report.first_bad_seq == 12


def test_an_edited_leaf_or_node_is_named(tampered: tuple[Stores, Engine]) -> None:
    stores, engine = tampered
    _sql(
        engine,
        "UPDATE ledger_nodes SET hash = ledger_leaves.hash FROM ledger_leaves "
        "WHERE ledger_nodes.level = 2 AND ledger_nodes.idx = 3 AND ledger_leaves.idx = 0",
    )
    report = _ledger(stores).verify()
    assert not report.ok
    assert report.first_bad_seq == 13  # leaves 12..15 are audit entries 13..16
    _sql(engine, "DELETE FROM ledger_leaves WHERE idx = 40")
    report = _ledger(stores).verify()
    assert report.first_bad_seq == 13


def test_recomputed_hashes_fail_the_signed_head_and_the_witness(
    tampered: tuple[Stores, Engine], tmp_path: Path
) -> None:
    stores, engine = tampered
    ledger = _ledger(stores)
    head = ledger.head()
    assert head is not None
    witness_path = write_witness(head, KEY.public_key, tmp_path / "w.json")
    _fill(stores, 10, 50)
    ledger.sync()
    # The attacker edits entry 9 and rebuilds every leaf and node from the edited rows.
    _sql(engine, "UPDATE audit_log SET action = 'task.cancel' WHERE seq = 9")
    _sql(
        engine, "DELETE FROM ledger_nodes", "DELETE FROM ledger_leaves", "DELETE FROM ledger_heads"
    )
    attacker = KeyPair.generate(Role.CONTROLLER)
    _ledger(stores, attacker).sync()
    fooled = Ledger(stores.ledger, stores.audit, key=attacker)  # type: ignore[arg-type]
    assert fooled.verify().ok  # consistent with itself, under the attacker's key
    report = _ledger(stores).verify()  # the auditor's key
    assert not report.ok
    report = _ledger(stores).verify(read_witness(witness_path))
    assert not report.ok
    assert any("witness" in problem for problem in report.problems)


def test_reordered_or_edited_leaves_are_named(tampered: tuple[Stores, Engine]) -> None:
    stores, engine = tampered
    # Swap the hashes of leaves 20 and 21 (audit entries 21 and 22).
    _sql(
        engine,
        "UPDATE ledger_leaves SET seq = -1 WHERE idx = 20",
        "UPDATE ledger_leaves SET seq = 21 WHERE idx = 21",
        "UPDATE ledger_leaves SET seq = 22 WHERE idx = 20",
        "UPDATE ledger_leaves SET idx = -1 WHERE idx = 20",
        "UPDATE ledger_leaves SET idx = 20 WHERE idx = 21",
        "UPDATE ledger_leaves SET idx = 21 WHERE idx = -1",
    )
    report = _ledger(stores).verify()
    assert not report.ok
    assert report.first_bad_seq == 21


def test_deleted_heads_fail_verification(tampered: tuple[Stores, Engine], tmp_path: Path) -> None:
    stores, engine = tampered
    head = _ledger(stores).head()
    assert head is not None
    witness = write_witness(head, KEY.public_key, tmp_path / "w.json")
    _sql(engine, "DELETE FROM ledger_heads")
    assert not _ledger(stores).verify().ok
    _sql(engine, "DELETE FROM ledger_nodes", "DELETE FROM ledger_leaves")
    # An emptied ledger looks like one never synced, except to the witness.
    assert _ledger(stores).verify().ok
    report = _ledger(stores).verify(read_witness(witness))
    assert not report.ok
    assert "fewer than the 50" in report.problems[0]
