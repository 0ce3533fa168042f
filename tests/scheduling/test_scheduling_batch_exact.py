"""The optimum on hand-made cases: parallel links apart, long paths, lexicographic price, bounds.

Frames here move 0.9 MB within a 40 ms budget, so each reserves 360 Mbps; a 700 Mbps link
carries one of them, never two.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from rich.console import Console

from suanwang.cli.plan import comparison_table
from suanwang.model import (
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
from suanwang.scheduling import ClusterState, Request, builtin_profiles
from suanwang.scheduling.batch import compare_profiles, evaluate, solve_optimum
from suanwang.scheduling.batch.instances import generate_instance
from suanwang.scheduling.cycle import Cycle, required_bandwidth_mbps
from suanwang.scheduling.framework import RouteResult

FP16, FP32, GPU = Precision.FP16, Precision.FP32, AcceleratorKind.GPU
FRAME = TaskSpec(
    20.0, FP16, 1.0, 2.0, AcceleratorNeed(GPU, 1, 8.0), 0.8, 0.1,
    ingress_site="term", latency_budget_ms=40.0, task_class=TaskClass.HOT,
)  # fmt: skip


def gpu_site(site: str) -> Node:
    t4 = Accelerator(GPU, "T4", 4, {FP16: 60_000.0, FP32: 8_000.0}, 16.0, 70.0)
    return Node("gpu", site, cpu_cores=32, mem_gib=128.0, accelerators=(t4,), peak_power_w=400.0)


def frames(count: int) -> list[Request]:
    return [Request(f"f{i}", FRAME) for i in range(count)]


def test_the_frames_reserve_what_the_docstring_says() -> None:
    assert required_bandwidth_mbps(FRAME) == 360.0


def test_parallel_links_are_kept_apart() -> None:
    """Two 700 Mbps links join the terminal and the edge: merged, they would carry one frame."""
    sites = [Site("term", Tier.TERMINAL), Site("edge", Tier.EDGE)]
    links = [
        Link("fast", "term", "edge", 700.0, 1.0),
        Link("slow", "term", "edge", 700.0, 2.0),
    ]
    topology = Topology(sites, [gpu_site("edge")], links=links)
    state = ClusterState(topology)
    optimum = solve_optimum(state, frames(3))
    assert optimum.optimal
    assert optimum.sla_met == 2
    used = sorted(p.segments for p in optimum.placements if p is not None)
    assert used == [("fast",), ("slow",)]
    assert (state.reservations.link_mbps <= topology.arrays.link_bandwidth_mbps + 1e-6).all()


def test_a_path_beyond_the_third_shortest_is_found() -> None:
    """Four relays, the i-th i ms from the terminal: the fourth frame needs the fourth path."""
    sites = [Site("term", Tier.TERMINAL), Site("edge", Tier.EDGE)]
    sites += [Site(f"relay-{i}", Tier.EDGE) for i in range(1, 5)]
    links = [Link(f"in-{i}", "term", f"relay-{i}", 700.0, float(i)) for i in range(1, 5)]
    links += [Link(f"out-{i}", f"relay-{i}", "edge", 10_000.0, 1.0) for i in range(1, 5)]
    topology = Topology(sites, [gpu_site("edge")], links=links)
    optimum = solve_optimum(ClusterState(topology), frames(5))
    assert optimum.optimal
    assert optimum.sla_met == 4
    relays = {p.path[1] for p in optimum.placements if p is not None}
    assert relays == {"relay-1", "relay-2", "relay-3", "relay-4"}
    assert evaluate(topology, frames(5), optimum.placements).sla_met == 4


def test_price_is_least_among_placements_meeting_the_most_slas() -> None:
    """Brute force over every assignment of five tasks to three nodes of one site.

    Nine cores asked, nine held; the last task's price budget rules out the dear node.
    """
    cpu = {FP32: 800.0}
    nodes = [
        Node("cheap", "s", cpu_cores=3, mem_gib=64.0, cpu_peak_gflops=cpu, price_per_hour=0.3),
        Node("dear", "s", cpu_cores=4, mem_gib=64.0, cpu_peak_gflops=cpu, price_per_hour=1.0),
        Node("mid", "s", cpu_cores=2, mem_gib=64.0, cpu_peak_gflops=cpu, price_per_hour=0.5),
    ]
    topology = Topology([Site("s", Tier.EDGE)], nodes)
    specs = [
        TaskSpec(4e4, FP32, 2.0, 1.0, ingress_site="s"),
        TaskSpec(2e4, FP32, 1.0, 1.0, ingress_site="s"),
        TaskSpec(2e4, FP32, 1.0, 1.0, ingress_site="s"),
        TaskSpec(1e4, FP32, 4.0, 1.0, ingress_site="s"),
        TaskSpec(3e4, FP32, 1.0, 1.0, ingress_site="s", budget=0.015),
    ]
    requests = [Request(f"t{i}", spec) for i, spec in enumerate(specs)]
    state = ClusterState(topology)
    nothing = RouteResult(np.zeros(3), np.full(3, np.inf), np.zeros(3), np.zeros(3))
    price = [Cycle(r, state, alive=np.ones(3, dtype=bool), route=nothing).cost() for r in requests]
    best: tuple[int, float] = (0, 0.0)
    for choice in itertools.product([None, 0, 1, 2], repeat=len(specs)):
        cores = np.zeros(3)
        total, placed, ok = 0.0, 0, True
        for spec, node, row in zip(specs, choice, price, strict=True):
            if node is None:
                continue
            cores[node] += spec.cpu_cores
            ok &= spec.budget is None or row[node] <= spec.budget
            total += row[node]
            placed += 1
        if ok and (cores <= [3, 4, 2]).all() and (placed, -total) > (best[0], -best[1]):
            best = (placed, total)
    optimum = solve_optimum(ClusterState(topology), requests)
    assert optimum.optimal
    assert optimum.price_optimal
    assert optimum.sla_met == best[0] == 5  # all: the 4-core task fills "dear"
    assert optimum.price == pytest.approx(best[1], rel=1e-9)


def test_a_time_limited_solve_reports_its_bound_and_never_a_negative_gap() -> None:
    instance = generate_instance(2, shape="ring-chords", load="over")
    requests = list(instance.requests)
    stopped = solve_optimum(ClusterState(instance.topology), requests, time_limit_s=0.0)
    assert stopped.status == "time limit"
    assert stopped.upper_bound is not None
    assert stopped.upper_bound >= stopped.sla_met
    proven = solve_optimum(ClusterState(instance.topology), requests, least_price=False)
    assert proven.optimal
    assert stopped.sla_met <= proven.sla_met <= stopped.upper_bound
    profiles = {name: builtin_profiles()[name] for name in ("cats-joint", "nearest")}
    result = compare_profiles(instance.topology, requests, profiles=profiles, time_limit_s=0.0)
    assert result.gap_kind == "<="
    assert result.reference_sla is not None
    assert result.reference_sla >= max(row.metrics.sla_met for row in result.rows)
    for row in result.rows:
        assert row.gap_pp is not None
        assert row.gap_pp >= 0.0, row.name
        assert row.gap_text().startswith("<=")
    assert "gap <= " in result.gap_summary()
    assert f"(bound {result.reference_sla} " in result.gap_summary()
    console = Console(width=220, record=True)
    console.print(comparison_table("t", result))
    assert "<=" in console.export_text()


def test_a_capped_path_listing_claims_no_bound() -> None:
    instance = generate_instance(9, shape="parallel", load="under", tasks=60)
    requests = list(instance.requests)
    capped = solve_optimum(ClusterState(instance.topology), requests, max_paths_per_pair=1)
    assert capped.status == "restricted"
    assert capped.solved
    assert not capped.optimal
    assert capped.upper_bound is None
    full = solve_optimum(ClusterState(instance.topology), requests, least_price=False)
    assert full.optimal
    assert capped.sla_met <= full.sla_met


def test_one_request_shows_the_node_each_row_chose() -> None:
    sites = [Site("term", Tier.TERMINAL), Site("edge", Tier.EDGE)]
    topology = Topology(sites, [gpu_site("edge")], links=[Link("l", "term", "edge", 700.0, 1.0)])
    result = compare_profiles(
        topology, frames(1), profiles={"nearest": builtin_profiles()["nearest"]}
    )
    assert [row.nodes_text() for row in result.rows] == ["gpu", "gpu", "gpu"]
    console = Console(width=220, record=True)
    console.print(comparison_table("t", result))
    text = console.export_text()
    assert "nodes" in text
    assert "nodes used" not in text
