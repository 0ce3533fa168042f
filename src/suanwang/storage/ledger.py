"""The ledger's store (``control.ledgerstore.LedgerStore``), in memory and in SQL.

The SQL adapter keeps leaves, complete-subtree hashes and signed heads in ``ledger_leaves``,
``ledger_nodes`` and ``ledger_heads``, all keyed by their position, so a proof is one indexed
batch of lookups at any size. ``append`` checks the stored size and writes in one transaction.
"""

from __future__ import annotations

import builtins
import functools
import threading
from collections.abc import Sequence

from sqlalchemy import Engine, TextClause, bindparam, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanwang.control.ledgerstore import LedgerLeaf, SignedHead, StaleLedgerError, SubtreeHash
from suanwang.storage.sql import _reachable
from suanwang.storage.tables import LedgerHeadRow, LedgerLeafRow, LedgerNodeRow


def _check_next(expected_size: int, size: int, leaves: Sequence[LedgerLeaf]) -> None:
    if size != expected_size:
        raise StaleLedgerError(f"the ledger has {size} leaves, not {expected_size}")
    for offset, leaf in enumerate(leaves):
        if leaf.index != expected_size + offset:
            raise ValueError(
                f"leaf {leaf.index} is out of order (expected {expected_size + offset})"
            )


class MemoryLedgerStore:
    """A ``LedgerStore`` in lists and dicts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._leaves: builtins.list[LedgerLeaf] = []
        self._by_seq: dict[int, LedgerLeaf] = {}
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._heads: dict[int, SignedHead] = {}

    def size(self) -> int:
        """See ``LedgerStore.size``."""
        with self._lock:
            return len(self._leaves)

    def last_leaf(self) -> LedgerLeaf | None:
        """See ``LedgerStore.last_leaf``."""
        with self._lock:
            return self._leaves[-1] if self._leaves else None

    def append(
        self, expected_size: int, leaves: Sequence[LedgerLeaf], nodes: Sequence[SubtreeHash]
    ) -> None:
        """See ``LedgerStore.append``."""
        with self._lock:
            _check_next(expected_size, len(self._leaves), leaves)
            seqs = [leaf.seq for leaf in leaves]
            if len(set(seqs)) != len(seqs) or any(s in self._by_seq for s in seqs):
                raise StaleLedgerError("an audit entry already has a leaf")
            self._leaves.extend(leaves)
            self._by_seq.update((leaf.seq, leaf) for leaf in leaves)
            self._nodes.update(((n.level, n.index), n.hash) for n in nodes)

    def leaves(self, start: int, limit: int) -> builtins.list[LedgerLeaf]:
        """See ``LedgerStore.leaves``."""
        with self._lock:
            return self._leaves[max(start, 0) : max(start, 0) + limit]

    def leaf_of(self, seq: int) -> LedgerLeaf | None:
        """See ``LedgerStore.leaf_of``."""
        with self._lock:
            return self._by_seq.get(seq)

    def nodes(self, level: int, start: int, limit: int) -> builtins.list[SubtreeHash]:
        """See ``LedgerStore.nodes``."""
        with self._lock:
            found = sorted(i for lv, i in self._nodes if lv == level and i >= start)[:limit]
            return [SubtreeHash(level, i, self._nodes[level, i]) for i in found]

    def hashes(self, subtrees: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """See ``LedgerStore.hashes``."""
        with self._lock:
            out: dict[tuple[int, int], bytes] = {}
            for level, index in subtrees:
                if level == 0:
                    if 0 <= index < len(self._leaves):
                        out[0, index] = self._leaves[index].hash
                elif (level, index) in self._nodes:
                    out[level, index] = self._nodes[level, index]
            return out

    def add_head(self, head: SignedHead) -> None:
        """See ``LedgerStore.add_head``."""
        with self._lock:
            self._heads.setdefault(head.size, head)

    def latest_head(self) -> SignedHead | None:
        """See ``LedgerStore.latest_head``."""
        with self._lock:
            return self._heads[max(self._heads)] if self._heads else None

    def heads(self) -> builtins.list[SignedHead]:
        """See ``LedgerStore.heads``."""
        with self._lock:
            return [self._heads[size] for size in sorted(self._heads)]


_LEAF_HASHES = select(LedgerLeafRow.idx, LedgerLeafRow.hash).where(
    LedgerLeafRow.idx.in_(bindparam("ids", expanding=True))
)


_NODES_PER_QUERY = 64
"""Most subtree lookups one statement ORs together (a proof needs under 64 at any size)."""


@functools.lru_cache(maxsize=_NODES_PER_QUERY)
def _node_hashes(count: int) -> TextClause:
    """``count`` subtree lookups by primary key in one statement (each term uses the index)."""
    terms = " OR ".join(f"(level = :l{n} AND idx = :i{n})" for n in range(count))
    return text(f"SELECT level, idx, hash FROM ledger_nodes WHERE {terms}")


def _leaf(row: LedgerLeafRow) -> LedgerLeaf:
    return LedgerLeaf(row.idx, row.seq, bytes(row.hash))


def _head(row: LedgerHeadRow) -> SignedHead:
    return SignedHead(row.size, bytes(row.root), row.timestamp_ms, row.key_id, bytes(row.signature))


class SqlLedgerStore:
    """A ``LedgerStore`` in the ``ledger_*`` tables.

    Args:
        engine: Engine on a database migrated to the head.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def size(self) -> int:
        """See ``LedgerStore.size``."""
        with _reachable(), Session(self._engine) as session:
            top = session.scalar(select(func.max(LedgerLeafRow.idx)))
            return 0 if top is None else int(top) + 1

    def last_leaf(self) -> LedgerLeaf | None:
        """See ``LedgerStore.last_leaf``."""
        query = select(LedgerLeafRow).order_by(LedgerLeafRow.idx.desc()).limit(1)
        with _reachable(), Session(self._engine) as session:
            row = session.scalar(query)
            return None if row is None else _leaf(row)

    def append(
        self, expected_size: int, leaves: Sequence[LedgerLeaf], nodes: Sequence[SubtreeHash]
    ) -> None:
        """See ``LedgerStore.append``."""
        if not leaves and not nodes:
            return
        leaf_rows = [{"idx": x.index, "seq": x.seq, "hash": x.hash} for x in leaves]
        node_rows = [{"level": n.level, "idx": n.index, "hash": n.hash} for n in nodes]
        try:
            with _reachable(), Session(self._engine) as session, session.begin():
                top = session.scalar(select(func.max(LedgerLeafRow.idx)))
                _check_next(expected_size, 0 if top is None else int(top) + 1, leaves)
                if leaf_rows:
                    session.execute(insert(LedgerLeafRow), leaf_rows)
                if node_rows:
                    session.execute(insert(LedgerNodeRow), node_rows)
        except IntegrityError as exc:
            # Another writer stored these positions first (or an entry already has a leaf).
            raise StaleLedgerError(f"the ledger moved on: {exc.orig}") from exc

    def leaves(self, start: int, limit: int) -> builtins.list[LedgerLeaf]:
        """See ``LedgerStore.leaves``."""
        t = LedgerLeafRow.__table__.c
        query = select(t.idx, t.seq, t.hash).where(t.idx >= start).order_by(t.idx).limit(limit)
        with _reachable(), self._engine.connect() as connection:
            return [LedgerLeaf(i, s, bytes(h)) for i, s, h in connection.execute(query)]

    def leaf_of(self, seq: int) -> LedgerLeaf | None:
        """See ``LedgerStore.leaf_of``."""
        t = LedgerLeafRow.__table__.c
        query = select(t.idx, t.seq, t.hash).where(t.seq == seq)
        with _reachable(), self._engine.connect() as connection:
            row = connection.execute(query).first()
            return None if row is None else LedgerLeaf(row[0], row[1], bytes(row[2]))

    def nodes(self, level: int, start: int, limit: int) -> builtins.list[SubtreeHash]:
        """See ``LedgerStore.nodes``."""
        t = LedgerNodeRow.__table__.c
        query = (
            select(t.level, t.idx, t.hash)
            .where(t.level == level, t.idx >= start)
            .order_by(t.idx)
            .limit(limit)
        )
        with _reachable(), self._engine.connect() as connection:
            return [SubtreeHash(lv, i, bytes(h)) for lv, i, h in connection.execute(query)]

    def hashes(self, subtrees: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """See ``LedgerStore.hashes``."""
        leaf_ids = [index for level, index in subtrees if level == 0]
        node_keys = [(level, index) for level, index in subtrees if level > 0]
        out: dict[tuple[int, int], bytes] = {}
        with _reachable(), self._engine.connect() as connection:
            if leaf_ids:
                rows = connection.execute(_LEAF_HASHES, {"ids": leaf_ids})
                out.update(((0, int(i)), bytes(h)) for i, h in rows)
            for first in range(0, len(node_keys), _NODES_PER_QUERY):
                chunk = node_keys[first : first + _NODES_PER_QUERY]
                params: dict[str, int] = {}
                for n, (level, index) in enumerate(chunk):
                    params[f"l{n}"], params[f"i{n}"] = level, index
                found = connection.execute(_node_hashes(len(chunk)), params)
                out.update(((int(lv), int(i)), bytes(h)) for lv, i, h in found)
        return out

    def add_head(self, head: SignedHead) -> None:
        """See ``LedgerStore.add_head``."""
        row = LedgerHeadRow(
            size=head.size,
            root=head.root,
            timestamp_ms=head.timestamp_ms,
            key_id=head.key_id,
            signature=head.signature,
        )
        try:
            with _reachable(), Session(self._engine) as session, session.begin():
                if session.get(LedgerHeadRow, head.size) is None:
                    session.add(row)
        except IntegrityError:
            pass  # a head of this size was kept meanwhile: the first one stays

    def latest_head(self) -> SignedHead | None:
        """See ``LedgerStore.latest_head``."""
        query = select(LedgerHeadRow).order_by(LedgerHeadRow.size.desc()).limit(1)
        with _reachable(), Session(self._engine) as session:
            row = session.scalar(query)
            return None if row is None else _head(row)

    def heads(self) -> builtins.list[SignedHead]:
        """See ``LedgerStore.heads``."""
        query = select(LedgerHeadRow).order_by(LedgerHeadRow.size)
        with _reachable(), Session(self._engine) as session:
            return [_head(row) for row in session.scalars(query)]
