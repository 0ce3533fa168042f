"""Awareness benchmark: signed reports ingested per second (verification included) and the time
to build a scheduling ``Snapshot`` at 10,000 nodes.

Targets (issue "measurement, identity and awareness"): >= 10,000 reports/s, <= 20 ms per snapshot.

Run: ``.venv/bin/python -m benchmarks.bench_awareness [--runs N] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np

from suanwang.control.awareness import Aggregator
from suanwang.control.ports import SystemClock
from suanwang.measure import UpdateMode, UpdatePolicy
from suanwang.security import (
    KeyPair,
    KeyRing,
    MetricReport,
    ParallelChecker,
    Role,
    SignedEnvelope,
    Verifier,
    check_signatures,
    parse_body,
    sign_report,
)

SNAPSHOT_NODES = 10_000
REPORTS_PER_S_TARGET = 10_000.0
SNAPSHOT_MS_TARGET = 20.0


def _setup(nodes: int, reports: int, agents: int) -> tuple[KeyRing, list[str], list[bytes]]:
    """A key ring with ``agents`` agent keys sharing ``nodes`` nodes, and signed wire reports."""
    rng = np.random.default_rng(7)
    node_ids = [f"n{i:05d}" for i in range(nodes)]
    pairs = [KeyPair.generate(Role.AGENT) for _ in range(agents)]
    keyring = KeyRing()
    for i, node_id in enumerate(node_ids):
        keyring.bind_agent(pairs[i % agents].public_key, node_id)
    now_s = time.time()
    wires = []
    for r in range(reports):
        i = r % nodes
        values = {
            "cpu_free_cores": float(rng.integers(0, 64)),
            "mem_free_gib": float(rng.uniform(0, 256)),
            "load_ratio": float(rng.uniform(0, 1)),
            "rtt_ms": float(rng.uniform(1, 40)),
            "service_latency_ms": float(rng.uniform(1, 100)),
        }
        report = MetricReport(node_ids[i], values, now_s)
        wires.append(sign_report(pairs[i % agents], report).to_wire())
    return keyring, node_ids, wires


def _aggregator(keyring: KeyRing, node_ids: Sequence[str]) -> Aggregator:
    # interval 0: every verified report is applied (the most work per report).
    policy = UpdatePolicy(UpdateMode.INTERVAL, interval_s=0.0)
    verifier = Verifier(keyring, max_age_s=3600.0)
    capacity = np.full(len(node_ids), 64.0)
    return Aggregator(node_ids, verifier, SystemClock(), policy=policy, cpu_capacity_cores=capacity)


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _row(name: str, samples: list[float], unit: str, target: str, ok: bool) -> list[str]:
    return [
        name,
        f"{statistics.median(samples):,.1f}",
        f"{min(samples):,.1f}",
        f"{max(samples):,.1f}",
        unit,
        target,
        "yes" if ok else "NO",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="repetitions (median reported)")
    parser.add_argument("--quick", action="store_true", help="fewer reports, for a smoke run")
    args = parser.parse_args(argv)
    runs = max(1, args.runs)
    n_reports = 4_000 if args.quick else 20_000
    keyring, node_ids, wires = _setup(SNAPSHOT_NODES, n_reports, agents=1_000)
    rows: list[list[str]] = []

    envelopes = [SignedEnvelope.from_wire(wire) for wire in wires]
    items = [(_raw_key(keyring, e.body), e.body, e.signature) for e in envelopes]
    floor = [len(items) / _timed(lambda: check_signatures(items)) for _ in range(runs)]
    rows.append(_row("baseline: bare Ed25519 verify, 1 core", floor, "reports/s", "-", True))

    single = []
    for _ in range(runs):
        aggregator = _aggregator(keyring, node_ids)
        single.append(len(wires) / _timed(lambda a=aggregator: [a.ingest(w) for w in wires]))
    ok = statistics.median(single) >= REPORTS_PER_S_TARGET
    rows.append(_row("ingest one by one, 1 process", single, "reports/s", ">= 10,000", ok))

    batch = []
    for _ in range(runs):
        aggregator = _aggregator(keyring, node_ids)
        batch.append(len(wires) / _timed(lambda a=aggregator: a.ingest_many(wires)))
    ok = statistics.median(batch) >= REPORTS_PER_S_TARGET
    rows.append(_row("ingest_many, 1 process", batch, "reports/s", ">= 10,000", ok))

    workers = min(2, os.cpu_count() or 1)
    parallel = []
    with ParallelChecker(workers=workers) as checker:
        checker.warm_up()  # start the workers outside the timing
        for _ in range(runs):
            aggregator = _aggregator(keyring, node_ids)
            parallel.append(len(wires) / _timed(lambda a=aggregator: a.ingest_many(wires, checker)))
    ok = statistics.median(parallel) >= REPORTS_PER_S_TARGET
    name = f"ingest_many, signatures on {workers} worker processes"
    rows.append(_row(name, parallel, "reports/s", ">= 10,000", ok))

    aggregator = _aggregator(keyring, node_ids)
    aggregator.ingest_many(wires)
    aggregator.snapshot()  # warm up
    snapshot_ms = [1000.0 * _timed(aggregator.snapshot) for _ in range(max(runs, 10))]
    ok = statistics.median(snapshot_ms) <= SNAPSHOT_MS_TARGET
    rows.append(_row(f"snapshot at {SNAPSHOT_NODES:,} nodes", snapshot_ms, "ms", "<= 20", ok))

    _print(rows, n_reports, runs)
    return 0


def _raw_key(keyring: KeyRing, body: bytes) -> bytes:
    """Raw public key of the agent that signed ``body`` (for the bare-verify baseline)."""
    header, _ = parse_body(body)
    trusted = keyring.agent(header.key_id)
    assert trusted is not None
    return trusted.raw


def _print(rows: list[list[str]], n_reports: int, runs: int) -> None:
    headers = ["benchmark", "median", "min", "max", "unit", "target", "met"]
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    print(
        f"awareness: {n_reports:,} signed reports over {SNAPSHOT_NODES:,} nodes, {runs} runs; "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}"
    )
    for row in [headers, ["-" * w for w in widths], *rows]:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells))


if __name__ == "__main__":
    raise SystemExit(main())
