"""Usage metering on SQLite: exactly-once ingest rate, and an invoice over 1,000,000 events.

Targets (compute-trading issue): usage ingest of at least 20,000 events/s exactly once on
SQLite; an invoice over 1,000,000 events in at most 5 s.

* ``ingest``: ``SqlMarketStore.ingest`` on a fresh SQLite database (the server's engine and
  settings, via ``open_store``), in batches as the plane flushes them after a commit
  (``--batch`` events, by default 500 and 5,000: five events a run, by key), a tenth of the
  batches sent again whole (a replayed commit: every event a duplicate). The rate counts
  every event sent, duplicates included; after the run the table must hold each key once.
* ``invoice``: ``store.usage_lines(period)`` (one SQL ``GROUP BY`` over the period's rows) and
  ``rate`` for every tenant of the period, on a database holding ``--events`` events of it
  (default 1,000,000: 100 tenants, 10 providers, filled through the same ``ingest``). The
  lines must sum, per dimension, to what was sent, and every run give the same total.

Run: ``.venv/bin/python -m benchmarks.bench_usage [--runs N] [--quick] [--events N]
[--batch N ...]``.
"""

from __future__ import annotations

import argparse
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from decimal import Decimal
from importlib import metadata
from pathlib import Path

from suanwang.market import Dimension, UsageEvent, builtin_plan, rate
from suanwang.market.store import MarketStore
from suanwang.storage import open_store
from suanwang.storage.market import SqlMarketStore

INGEST_TARGET_PER_S = 20_000.0
INVOICE_TARGET_S = 5.0
INGEST_EVENTS, QUICK_INGEST_EVENTS = 200_000, 20_000
INVOICE_EVENTS, QUICK_INVOICE_EVENTS = 1_000_000, 50_000
BATCHES = (500, 5_000)
"""Events per ingest batch: a commit of 100 runs' five events, and of 1,000."""
RUNS, QUICK_RUNS = 5, 2
REPLAY_SHARE = 0.1
TENANTS, PROVIDERS = 100, 10
PERIOD_S = 86_400.0
PERIOD = 10
DIMENSIONS = (
    (Dimension.CORE_SECONDS, ""),
    (Dimension.MEMORY_GIB_SECONDS, ""),
    (Dimension.TASKS, ""),
    (Dimension.GFLOP, "fp32"),
    (Dimension.NETWORK_GB, ""),
)


def run_events(first_run: int, runs: int, seed: int) -> list[UsageEvent]:
    """The five events of each of ``runs`` runs from ``first_run`` on, all in ``PERIOD``."""
    rng = random.Random(seed)
    events: list[UsageEvent] = []
    for run in range(first_run, first_run + runs):
        held_s = rng.uniform(1.0, 3600.0)
        tenant, provider = f"t{run % TENANTS}", f"p{run % PROVIDERS}"
        ended_s = PERIOD * PERIOD_S + rng.uniform(0.0, PERIOD_S - 1.0)
        met = rng.random() > 0.05
        quantities = (2.0 * held_s, 4.0 * held_s, 1.0, 5.0, 0.01)
        for (dimension, detail), quantity in zip(DIMENSIONS, quantities, strict=True):
            events.append(
                UsageEvent(
                    f"task-{run:09d}@1.0",
                    tenant,
                    provider,
                    dimension,
                    quantity,
                    ended_s,
                    detail,
                    met,
                )
            )
    return events


def fresh_store(folder: Path, name: str) -> MarketStore:
    """A market store on a new migrated SQLite file in ``folder``."""
    stores = open_store(f"sqlite:///{folder / name}")
    return SqlMarketStore(stores.engine, PERIOD_S, Decimal("0.05"))  # type: ignore[arg-type]


def time_ingest(store: MarketStore, events: int, batch: int, seed: int) -> tuple[float, int]:
    """Ingest ``events`` events in batches, a share of them sent twice; (events/s, sent)."""
    rng = random.Random(seed)
    runs_per_batch = max(batch // len(DIMENSIONS), 1)
    batches = [
        run_events(start, runs_per_batch, seed + start)
        for start in range(0, events // len(DIMENSIONS), runs_per_batch)
    ]
    replays = [b for b in batches if rng.random() < REPLAY_SHARE]
    order = batches + replays
    rng.shuffle(order)
    started = time.perf_counter()
    for one in order:
        store.ingest(one)
    elapsed_s = time.perf_counter() - started
    return sum(len(b) for b in order) / elapsed_s, sum(len(b) for b in batches)


def count_rows(path: Path) -> int:
    """Rows of the usage table of the SQLite file at ``path``."""
    with sqlite3.connect(path) as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM usage_events").fetchone()
        return int(count)


def time_invoices(store: MarketStore) -> tuple[float, Decimal, int]:
    """Read the period's lines and rate every tenant; (seconds, total, lines)."""
    plan = builtin_plan()
    started = time.perf_counter()
    lines = store.usage_lines(PERIOD)
    tenants = sorted({line.tenant for line in lines})
    total = sum((rate(t, PERIOD, lines, plan).total for t in tenants), Decimal(0))
    return time.perf_counter() - started, total, len(lines)


def check_lines(store: MarketStore, sent: dict[Dimension, float]) -> None:
    """Raise unless the period's lines sum, per dimension, to what was sent."""
    summed: dict[Dimension, float] = {}
    for line in store.usage_lines(PERIOD):
        summed[line.dimension] = summed.get(line.dimension, 0.0) + line.quantity
    for dimension, quantity in sent.items():
        if abs(summed.get(dimension, 0.0) - quantity) > 1e-6 * max(quantity, 1.0):
            raise RuntimeError(
                f"{dimension.value}: lines sum {summed.get(dimension)}, sent {quantity}"
            )


def main(argv: list[str] | None = None) -> int:
    """Time the runs; print medians, ranges and the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=RUNS, help="runs timed (median reported)")
    parser.add_argument("--quick", action="store_true", help="fewer events, fewer runs")
    parser.add_argument("--events", type=int, help="events of the invoice's period")
    parser.add_argument(
        "--batch", type=int, action="append", help="events per ingest batch (repeatable)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or min(args.batch or BATCHES) < len(DIMENSIONS):
        parser.error("--runs must be at least 1 and --batch at least 5")
    runs = QUICK_RUNS if args.quick else args.runs
    ingest_events = QUICK_INGEST_EVENTS if args.quick else INGEST_EVENTS
    invoice_events = args.events or (QUICK_INVOICE_EVENTS if args.quick else INVOICE_EVENTS)
    print(
        f"usage: {runs} runs; Python {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, SQLAlchemy {metadata.version('sqlalchemy')}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-usage-") as tmp:
        folder = Path(tmp)
        for batch in args.batch or BATCHES:
            rates: list[float] = []
            for run in range(runs):
                name = f"ingest-{batch}-{run}.db"
                per_s, distinct = time_ingest(fresh_store(folder, name), ingest_events, batch, run)
                stored = count_rows(folder / name)
                if stored != distinct:
                    raise RuntimeError(f"run {run}: {stored} rows for {distinct} distinct keys")
                rates.append(per_s)
            median = statistics.median(rates)
            print(
                f"ingest ({ingest_events:,} events in batches of {batch:,}, "
                f"{REPLAY_SHARE:.0%} of batches sent twice): {median:,.0f} events/s "
                f"(median; {min(rates):,.0f}-{max(rates):,.0f}); each key stored once"
            )
            print(
                f"target >= {INGEST_TARGET_PER_S:,.0f}/s: "
                f"{'met' if median >= INGEST_TARGET_PER_S else 'NOT met'}"
            )

        store = fresh_store(folder, "invoice.db")
        filled = time.perf_counter()
        sent: dict[Dimension, float] = {}
        batch_runs = max(BATCHES) // len(DIMENSIONS)
        for start in range(0, invoice_events // len(DIMENSIONS), batch_runs):
            events = run_events(start, batch_runs, start)
            store.ingest(events)
            for event in events:
                sent[event.dimension] = sent.get(event.dimension, 0.0) + event.quantity
        fill_s = time.perf_counter() - filled
        seconds: list[float] = []
        totals: set[Decimal] = set()
        for _ in range(runs):
            took_s, total, lines = time_invoices(store)
            seconds.append(took_s)
            totals.add(total)
        if len(totals) != 1:
            raise RuntimeError(f"invoice totals differ between runs: {sorted(totals)}")
        check_lines(store, sent)
        median_s = statistics.median(seconds)
        print(
            f"invoice over {count_rows(folder / 'invoice.db'):,} events (filled in {fill_s:.1f} s"
            f" through ingest), {TENANTS} tenants, {lines:,} lines, total {total}: "
            f"{median_s:.3f} s (median; {min(seconds):.3f}-{max(seconds):.3f})"
        )
        print(
            f"target <= {INVOICE_TARGET_S:.0f} s: "
            f"{'met' if median_s <= INVOICE_TARGET_S else 'NOT met'}"
        )
    # A missed target is a figure to report, as in the other suites, not a failure to run.
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
