"""Ledger benchmark: durable appends on SQLite, inclusion proofs at 10,000,000 entries, verify.

Rows:

* ``sync, SQLite``: ``Ledger.sync`` over audit entries already committed (1,000 leaves and their
  subtree hashes per transaction, ``synchronous=FULL``, the server's setting), in leaves/s;
  target >= 5,000/s;
* ``append + sync, SQLite``: ``AuditLog.append`` (one commit each) then ``Ledger.sync`` after
  every 100, the end-to-end rate, in entries/s;
* ``inclusion proof``: ``Ledger.prove(seq)`` of a random entry (one indexed leaf lookup, one
  batch of O(log n) subtree lookups) on a SQLite ledger of ``--entries`` leaves (default
  10,000,000) bulk-built for the benchmark (its hashes computed as ``sync`` would, rows written
  with raw executemany; cached in ``--workdir`` across runs), in ms per proof; target <= 1 ms;
* ``verify``: ``Ledger.verify()`` of ``--verify-entries`` audit entries (default 1,000,000):
  every audit row re-hashed against its leaf, every subtree hash recomputed and compared, the
  heads' roots and signatures checked, in s; target <= 30 s.

Run: ``.venv/bin/python -m benchmarks.bench_ledger [--runs N] [--quick] [--entries N]
[--verify-entries N] [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from importlib import metadata
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from suanwang.control.stores import AuditEntry
from suanwang.ledger import Ledger, merkle
from suanwang.ledger.heads import encode_entry, sign_head
from suanwang.security.keys import KeyPair, Role
from suanwang.storage import open_store

PROOF_ENTRIES = 10_000_000
VERIFY_ENTRIES = 1_000_000
SYNC_ENTRIES = 50_000
QUICK = 20_000
PROOFS_PER_RUN = 1_000
CHUNK = 200_000
KEY = KeyPair.from_private_key(
    Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"bench").digest()), Role.CONTROLLER
)


def _entry(seq: int) -> AuditEntry:
    return AuditEntry(seq, 1.7e9 + seq, f"user{seq % 7}", "task.submit", f"task:{seq:08x}", "")


def _bulk_audit(db: Path, n: int) -> None:
    """``n`` audit rows written straight into a migrated database."""
    with open_store(f"sqlite:///{db}"):
        pass
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA synchronous=OFF")
    with connection:
        for start in range(1, n + 1, CHUNK):
            rows = [
                (e.seq, e.at_s, e.who, e.action, e.target, e.detail)
                for e in map(_entry, range(start, min(start + CHUNK, n + 1)))
            ]
            connection.executemany("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?)", rows)
    connection.close()


def _bulk_ledger(db: Path, n: int) -> None:
    """A ledger of ``n`` leaves (audit entries 1..n) and its head, written in bulk."""
    with open_store(f"sqlite:///{db}"):
        pass
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA journal_mode=OFF")
    frontier: list[tuple[int, bytes]] = []
    with connection:
        for start in range(0, n, CHUNK):
            leaves, nodes = [], []
            for index in range(start, min(start + CHUNK, n)):
                h = merkle.leaf_hash(encode_entry(_entry(index + 1)))
                leaves.append((index, index + 1, h))
                frontier, made = merkle.push(frontier, h, index)
                nodes.extend(made)
            connection.executemany("INSERT INTO ledger_leaves VALUES (?, ?, ?)", leaves)
            connection.executemany("INSERT INTO ledger_nodes VALUES (?, ?, ?)", nodes)
        head = sign_head(KEY, n, merkle.fold([h for _, h in frontier]), 1_700_000_000_000)
        connection.execute(
            "INSERT INTO ledger_heads VALUES (?, ?, ?, ?, ?)",
            (head.size, head.root, head.timestamp_ms, head.key_id, head.signature),
        )
    connection.close()


def _sync_rate(work: Path, n: int) -> tuple[float, float]:
    db = work / f"sync-{time.monotonic_ns()}.db"
    _bulk_audit(db, n)
    with open_store(f"sqlite:///{db}") as stores:
        assert stores.ledger is not None
        ledger = Ledger(stores.ledger, stores.audit, key=KEY)
        start = time.perf_counter()
        ledger.sync()
        synced = n / (time.perf_counter() - start)
        m = min(n // 10, 5_000)
        start = time.perf_counter()
        for i in range(m):
            stores.audit.append("bench", "task.submit", f"task:{i}", "", 2e9 + i)
            if i % 100 == 99:
                ledger.sync()
        ledger.sync()
        both = m / (time.perf_counter() - start)
        assert stores.ledger.size() == n + m
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return synced, both


def _proof_times(db: Path, n: int, count: int, rng: random.Random) -> list[float]:
    with open_store(f"sqlite:///{db}") as stores:
        assert stores.ledger is not None
        ledger = Ledger(stores.ledger, stores.audit, key=KEY)
        head = ledger.head()
        assert head is not None
        assert head.size == n
        times = []
        for _ in range(count):
            seq = rng.randint(1, n)
            start = time.perf_counter()
            proof = ledger.prove(seq, head)
            times.append(time.perf_counter() - start)
            assert merkle.verify_inclusion(proof.index, n, proof.leaf_hash, proof.path, head.root)
    return times


def _verify_time(db: Path) -> tuple[float, int]:
    with open_store(f"sqlite:///{db}") as stores:
        assert stores.ledger is not None
        ledger = Ledger(stores.ledger, stores.audit, key=KEY)
        start = time.perf_counter()
        report = ledger.verify()
        took = time.perf_counter() - start
        assert report.ok, report.problems
    return took, report.size


def _spread(values: list[float]) -> str:
    if len(values) < 2:
        return "-"
    return f"{min(values):.3g}..{max(values):.3g}"


def _rows(
    work: Path, runs: int, sync_entries: int, entries: int, verify_entries: int
) -> list[tuple[str, str, list[float], str]]:
    rows: list[tuple[str, str, list[float], str]] = []
    syncs, boths = [], []
    for _ in range(runs):
        synced, both = _sync_rate(work, sync_entries)
        syncs.append(synced)
        boths.append(both)
    rows.append((f"sync, SQLite ({sync_entries:,})", "leaves/s", syncs, ">= 5,000"))
    rows.append(("append + sync, SQLite", "entries/s", boths, ""))
    proof_db = work / f"proof-{entries}.db"
    if not proof_db.exists():
        start = time.perf_counter()
        _bulk_ledger(proof_db, entries)
        print(
            f"built a ledger of {entries:,} leaves in {time.perf_counter() - start:.0f} s",
            flush=True,
        )
    rng = random.Random(16)
    medians = []
    for _ in range(runs):
        times = _proof_times(proof_db, entries, PROOFS_PER_RUN, rng)
        medians.append(statistics.median(times) * 1000)
    rows.append((f"inclusion proof ({entries:,})", "ms", medians, "<= 1"))
    verify_db = work / f"verify-{verify_entries}.db"
    if not verify_db.exists():
        _bulk_audit(verify_db, verify_entries)
        with open_store(f"sqlite:///{verify_db}") as stores:
            assert stores.ledger is not None
            Ledger(stores.ledger, stores.audit, key=KEY).sync()
    verifies = []
    for _ in range(runs):
        took, size = _verify_time(verify_db)
        assert size == verify_entries
        verifies.append(took)
    rows.append((f"verify ({verify_entries:,})", "s", verifies, "<= 30"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="repetitions (median reported)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK:,} entries, 1 run")
    parser.add_argument("--entries", type=int, default=PROOF_ENTRIES, help="ledger size of proofs")
    parser.add_argument("--verify-entries", type=int, default=VERIFY_ENTRIES)
    parser.add_argument("--sync-entries", type=int, default=SYNC_ENTRIES)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the built databases here")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    runs = 1 if args.quick else args.runs
    entries = QUICK if args.quick else args.entries
    verify_entries = QUICK if args.quick else args.verify_entries
    sync_entries = QUICK if args.quick else args.sync_entries
    temp = None
    if args.workdir is None:
        temp = tempfile.TemporaryDirectory(prefix="bench-ledger-")
        work = Path(temp.name)
    else:
        work = args.workdir
        work.mkdir(parents=True, exist_ok=True)
    print(
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
        f"sqlalchemy {metadata.version('sqlalchemy')}, "
        f"cryptography {metadata.version('cryptography')}, {platform.machine()}",
        flush=True,
    )
    rows = _rows(work, runs, sync_entries, entries, verify_entries)
    print(f"{'row':36} {'unit':10} {'median':>12} {'spread (min..max)':>20} target")
    for name, unit, values, target in rows:
        print(
            f"{name:36} {unit:10} {statistics.median(values):12.4g} {_spread(values):>20} {target}"
        )
    if temp is not None:
        temp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
