"""Property: no node's compute and no link's bandwidth is ever over-committed (DESIGN.md §7).

Hypothesis draws small random topologies (tiers, capacities, accelerators, a partly connected
network of narrow links) and random streams of operations: placements through a scheduler
(binds), completions, cancellations and failures (releases in random order, double releases,
releases of ids never seen) and reservations written straight to the ledger. After every step
the ledger's sums stay within capacity and equal the sum of what the held tasks hold; after
everything is released the sums are exactly zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from suanwang.model import (
    ACCELERATOR_KINDS,
    Accelerator,
    AcceleratorKind,
    AcceleratorNeed,
    Link,
    Node,
    Precision,
    Site,
    TaskClass,
    TaskSpec,
    Tier,
    Topology,
)
from suanwang.scheduling import (
    ClusterState,
    OverCommitError,
    Request,
    Reservation,
    Reservations,
    Scheduler,
    builtin_profiles,
)

EPS = 1e-6
PROFILES = ["cats-joint", "nearest", "random", "least-loaded", "compute-only"]
KINDS = [AcceleratorKind.GPU, AcceleratorKind.NPU]
TIERS = [Tier.ONSITE, Tier.EDGE, Tier.REGION, Tier.HUB]


@st.composite
def topologies(draw: st.DrawFn) -> Topology:
    """2-7 sites (the first a terminal), 1-8 nodes, a random tree with gaps plus extra links."""
    n_sites = draw(st.integers(2, 7))
    sites = [Site("s0", Tier.TERMINAL)] + [
        Site(f"s{i}", draw(st.sampled_from(TIERS))) for i in range(1, n_sites)
    ]
    nodes = []
    for i in range(draw(st.integers(1, 8))):
        accelerators = ()
        if draw(st.booleans()):
            kind = draw(st.sampled_from(KINDS))
            accelerators = (
                Accelerator(
                    kind,
                    "dev",
                    draw(st.integers(1, 4)),
                    {Precision.FP16: 50_000.0, Precision.FP32: 10_000.0},
                    mem_gib=draw(st.sampled_from([16.0, 40.0, 80.0])),
                ),
            )
        nodes.append(
            Node(
                f"n{i}",
                f"s{draw(st.integers(1, n_sites - 1))}",
                cpu_cores=draw(st.integers(1, 16)),
                mem_gib=float(draw(st.integers(1, 64))),
                cpu_peak_gflops={Precision.FP32: float(draw(st.integers(10, 4_000)))},
                accelerators=accelerators,
                price_per_hour=float(draw(st.integers(0, 50))),
            )
        )
    links = []
    for i in range(1, n_sites):
        if draw(st.integers(0, 5)) > 0:  # now and then a site stays cut off
            parent = draw(st.integers(0, i - 1))
            links.append(_link(draw, f"t{i}", f"s{parent}", f"s{i}"))
    for k in range(draw(st.integers(0, 3))):
        a, b = draw(st.integers(0, n_sites - 1)), draw(st.integers(0, n_sites - 1))
        if a != b:
            links.append(_link(draw, f"x{k}", f"s{a}", f"s{b}"))
    return Topology(sites, nodes, links=links)


def _link(draw: st.DrawFn, link_id: str, a: str, b: str) -> Link:
    return Link(
        link_id,
        a,
        b,
        bandwidth_mbps=float(draw(st.sampled_from([20, 50, 100, 200, 1_000]))),
        latency_ms=float(draw(st.integers(0, 15))),
        cost_per_gb=float(draw(st.integers(0, 3))) / 10.0,
    )


@st.composite
def specs(draw: st.DrawFn, n_sites: int) -> TaskSpec:
    need = None
    if draw(st.integers(0, 3)) == 0:
        need = AcceleratorNeed(
            draw(st.sampled_from(KINDS)),
            draw(st.integers(1, 2)),
            draw(st.sampled_from([0.0, 16.0, 40.0])),
        )
    data = float(draw(st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0, 2.0])))
    return TaskSpec(
        work_gflop=float(draw(st.integers(1, 500))),
        precision=Precision.FP16 if need is not None and draw(st.booleans()) else Precision.FP32,
        cpu_cores=float(draw(st.sampled_from([0.5, 1.0, 2.0, 4.0, 8.0]))),
        mem_gib=float(draw(st.sampled_from([0.5, 1.0, 4.0, 16.0]))),
        accelerator=need,
        data_in_mb=data,
        data_out_mb=data / 2,
        ingress_site=f"s{draw(st.integers(0, n_sites - 1))}",
        latency_budget_ms=draw(st.sampled_from([None, 100.0, 1_000.0, 60_000.0])),
        deadline_s=draw(st.sampled_from([None, None, 10.0, 600.0])),
        task_class=draw(st.sampled_from(list(TaskClass))),
    )


@dataclass
class Book:
    """What the test expects the ledger to hold."""

    seen: list[str]
    unknown: int = 0


def _check(ledger: Reservations, topology: Topology, ids: list[str]) -> None:
    arrays = topology.arrays
    # within capacity, never negative
    assert (ledger.cpu_cores <= arrays.node_cpu_cores + EPS).all()
    assert (ledger.mem_gib <= arrays.node_mem_gib + EPS).all()
    assert (ledger.accelerators <= arrays.node_accel_count + EPS).all()
    assert (ledger.link_mbps <= arrays.link_bandwidth_mbps + EPS).all()
    for array in (ledger.cpu_cores, ledger.mem_gib, ledger.accelerators, ledger.link_mbps):
        assert (array >= -EPS).all()
    # the sums are the sums of what the held tasks hold
    cpu, mem = np.zeros_like(ledger.cpu_cores), np.zeros_like(ledger.mem_gib)
    accel, links = np.zeros_like(ledger.accelerators), np.zeros_like(ledger.link_mbps)
    held = [r for r in map(ledger.held, ids) if r is not None]
    assert len(held) == len(ledger)
    for r in held:
        cpu[r.node] += r.cpu_cores
        mem[r.node] += r.mem_gib
        if r.accelerator_kind is not None:
            accel[r.node, ACCELERATOR_KINDS.index(r.accelerator_kind)] += r.accelerator_count
        if r.bandwidth_mbps > 0:
            links[list(r.links)] += r.bandwidth_mbps
    np.testing.assert_allclose(ledger.cpu_cores, cpu, atol=EPS)
    np.testing.assert_allclose(ledger.mem_gib, mem, atol=EPS)
    np.testing.assert_allclose(ledger.accelerators, accel, atol=EPS)
    np.testing.assert_allclose(ledger.link_mbps, links, atol=EPS)


def _sums(ledger: Reservations) -> list[np.ndarray]:
    return [
        a.copy() for a in (ledger.cpu_cores, ledger.mem_gib, ledger.accelerators, ledger.link_mbps)
    ]


def _direct(draw: st.DrawFn, topology: Topology, task_id: str) -> Reservation:
    arrays = topology.arrays
    n_links = len(arrays.link_ids)
    links: tuple[int, ...] = ()
    if n_links and draw(st.booleans()):
        links = tuple(draw(st.lists(st.integers(0, n_links - 1), min_size=1, max_size=3)))
    kind = draw(st.sampled_from([None, *KINDS]))
    return Reservation(
        task_id,
        draw(st.integers(0, len(arrays.node_ids) - 1)),
        cpu_cores=float(draw(st.sampled_from([0.0, 1.0, 3.0, 9.0]))),
        mem_gib=float(draw(st.sampled_from([0.0, 2.0, 30.0]))),
        accelerator_kind=kind,
        accelerator_count=0 if kind is None else draw(st.integers(1, 3)),
        links=links,
        bandwidth_mbps=float(draw(st.sampled_from([0.0, 10.0, 60.0, 300.0]))),
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(topology=topologies(), profile=st.sampled_from(PROFILES), data=st.data())
def test_ledger_never_over_commits(topology: Topology, profile: str, data: Any) -> None:
    state = ClusterState(topology)
    ledger = state.reservations
    scheduler = Scheduler(builtin_profiles()[profile], state)
    book = Book(seen=[])
    placed = 0
    for step in range(data.draw(st.integers(1, 40), label="steps")):
        action = data.draw(st.sampled_from(["place", "place", "place", "release", "direct"]))
        if action == "place":
            task_id = f"t{step}"
            spec = data.draw(specs(len(topology.sites)))
            before = _sums(ledger)
            decision = scheduler.schedule(Request(task_id, spec))
            assert (task_id in ledger) is (decision.placement is not None)
            if decision.placement is None:  # a refusal holds nothing
                for old, new in zip(before, _sums(ledger), strict=True):
                    np.testing.assert_array_equal(old, new)
            else:
                placed += 1
                held = ledger.held(task_id)
                assert held is not None
                assert topology.arrays.node_ids[held.node] == decision.placement.node_id
                assert held.bandwidth_mbps == decision.placement.reserved_bandwidth_mbps
                assert [topology.arrays.link_ids[k] for k in held.links] == list(
                    decision.placement.segments
                )
            book.seen.append(task_id)
        elif action == "release":
            # completion, cancellation or failure; any id: held, released before, or unknown
            choices = [*book.seen, f"ghost-{book.unknown}"]
            task_id = data.draw(st.sampled_from(choices))
            book.unknown += task_id.startswith("ghost")
            scheduler.release(task_id)
            assert task_id not in ledger
        else:
            task_id = f"d{step}"
            reservation = _direct(data.draw, topology, task_id)
            before = _sums(ledger)
            try:
                ledger.reserve(reservation)
            except OverCommitError:  # a refused reservation changes nothing
                assert task_id not in ledger
                for old, new in zip(before, _sums(ledger), strict=True):
                    np.testing.assert_array_equal(old, new)
            book.seen.append(task_id)
        _check(ledger, topology, book.seen)

    event(f"placed {min(placed, 10) // 5 * 5}+")
    order = data.draw(st.permutations(book.seen), label="release order")
    for task_id in [*order, *order[: len(order) // 2]]:  # everything, then half of it again
        scheduler.release(task_id)
        _check(ledger, topology, book.seen)
    assert len(ledger) == 0
    for array in (ledger.cpu_cores, ledger.mem_gib, ledger.accelerators, ledger.link_mbps):
        assert (array == 0.0).all()
