"""Task graph placement: time to place a 1,000-stage graph on 10,000 nodes; HEFT's gap to the MILP.

(a) Speed. A seeded layered graph (``scheduling.graph.instances.layered_graph``: 1,000 stages in
layers of 50, each fed by one to three stages of the layer before; 60 % CPU, 30 % GPU, 10 % NPU
work; 0.5-20 MB an edge, a quarter as reduction ratios) entering at ``terminal-0`` of
``generate_scenario(10_000, seed=1)``, placed by ``place_graph`` (cost model over the
prefiltered candidates, HEFT with its lookahead, budgets, ledger reservation of every stage) on a
fresh ``ClusterState`` each run. Cold runs first drop the routing caches (``clear_graph_cache``),
so that they rebuild the routing graph and every shortest-path tree; warm runs reuse them, as a
running control plane does. Target: <= 1 s.

(b) Gap. Small instances of every graph shape (chain, fork-join, layered, random; 6-10 stages)
on small topologies (star, chain, mesh; 6-8 nodes), seeds fixed: the MILP (``solve_exact``) and
HEFT on the same cost model; gap = (HEFT - optimum) / optimum, taken against the MILP's proven
bound where the time limit stopped it. Target: median <= 10 % over >= 20 instances.

Run: ``.venv/bin/python -m benchmarks.bench_graph [--runs N] [--quick] [--instances N]``.
Results go to ``bench-results/graph-<UTC time>.json`` (not with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from suanwang.routing import clear_graph_cache
from suanwang.scenario.generate import generate_scenario
from suanwang.scheduling import ClusterState
from suanwang.scheduling.graph import (
    GraphPlacementError,
    GraphSchedule,
    graph_costs,
    heft,
    list_schedule,
    place_graph,
    solve_exact,
)
from suanwang.scheduling.graph.instances import (
    GRAPH_SHAPES,
    TOPOLOGY_SHAPES,
    layered_graph,
    random_graph,
    small_topology,
)

ROOT = Path(__file__).resolve().parent.parent
NODES, STAGES, WIDTH, SEED, INGRESS = 10_000, 1_000, 50, 1, "terminal-0"
QUICK_NODES, QUICK_STAGES, QUICK_WIDTH = 1_000, 100, 10
RUNS, INSTANCES, QUICK_INSTANCES = 7, 24, 4
TIME_LIMIT_S, QUICK_TIME_LIMIT_S = 120.0, 10.0
TARGET_S, TARGET_GAP = 1.0, 0.10


def speed(nodes: int, stages: int, width: int, runs: int) -> dict[str, Any]:
    """Cold and warm placement times of the large graph, and the split of a warm one."""
    scenario = generate_scenario(nodes, SEED)
    graph = layered_graph(stages, width, SEED, INGRESS)
    times: dict[str, list[float]] = {"cold": [], "warm": []}
    placement = None
    for kind in ("cold", "warm"):
        for _ in range(runs):
            if kind == "cold":
                clear_graph_cache()
            state = ClusterState(scenario.topology)
            started = time.perf_counter()
            placement = place_graph(graph, state)
            times[kind].append(time.perf_counter() - started)
    assert placement is not None
    state = ClusterState(scenario.topology)
    started = time.perf_counter()
    costs = graph_costs(graph, state, 32)
    built = time.perf_counter()
    heft(graph, costs)
    placed = time.perf_counter()
    plain = heft(graph, costs, lookahead=False)
    plain_s = time.perf_counter() - placed
    schedule = placement.schedule
    return {
        "nodes": nodes,
        "stages": stages,
        "edges": len(graph.edges),
        "cold_s": times["cold"],
        "warm_s": times["warm"],
        "split_s": {"cost_model": built - started, "heft": placed - built},
        "plain_heft_s": plain_s,
        "model_nodes": int(costs.nodes.size),
        "model_sites": int(costs.latency_ms.shape[0]),
        "makespan_ms": schedule.makespan_ms,
        "plain_makespan_ms": plain.makespan_ms,
        "traffic_mb_hops": schedule.traffic_mb_hops,
        "wan_mb": schedule.wan_mb,
        "nodes_used": len(set(placement.node_index)),
    }


def gap_instance(i: int, time_limit_s: float) -> dict[str, Any]:
    """One small instance: the MILP's optimum and HEFT with and without its lookahead."""
    shape, topology_shape = GRAPH_SHAPES[i % 4], TOPOLOGY_SHAPES[(i // 4) % 3]
    graph = random_graph(shape, 6 + i % 5, seed=100 + i)
    topology = small_topology(topology_shape, 6 + i % 3, seed=100 + i)
    costs = graph_costs(graph, ClusterState(topology))
    row: dict[str, Any] = {
        "name": f"{shape}/{topology_shape}/{100 + i}",
        "stages": len(graph.stages),
        "edges": len(graph.edges),
        "nodes": int(costs.nodes.size),
    }
    exact = solve_exact(graph, costs, time_limit_s=time_limit_s)
    optimum = exact.schedule.makespan_ms if exact.proven else exact.bound_ms
    row.update(proven=exact.proven, optimum_ms=optimum, milp_s=exact.solve_s)
    rules: dict[str, Callable[[], GraphSchedule]] = {
        "best": lambda: list_schedule(graph, costs),
        "heft": lambda: heft(graph, costs, lookahead=True),
        "plain": lambda: heft(graph, costs, lookahead=False),
    }
    for name, rule in rules.items():
        try:
            started = time.perf_counter()
            makespan = rule().makespan_ms
            row[f"{name}_s"] = time.perf_counter() - started
        except GraphPlacementError:
            makespan = float("inf")
        row[f"{name}_ms"] = makespan
        row[f"{name}_gap"] = (makespan - optimum) / optimum
    return row


def _spread(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=RUNS, help="placements of each kind")
    parser.add_argument("--quick", action="store_true", help="a small graph, a few instances")
    parser.add_argument("--instances", type=int, default=INSTANCES, help="gap instances")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.instances < 1:
        parser.error("--runs and --instances must be at least 1")
    if args.quick:
        fast = speed(QUICK_NODES, QUICK_STAGES, QUICK_WIDTH, 1)
        rows = [gap_instance(i, QUICK_TIME_LIMIT_S) for i in range(QUICK_INSTANCES)]
    else:
        fast = speed(NODES, STAGES, WIDTH, max(args.runs, 5))
        rows = [gap_instance(i, TIME_LIMIT_S) for i in range(args.instances)]
    print(
        f"graph: {fast['stages']} stages, {fast['edges']} edges on {fast['nodes']:,} nodes; "
        f"model {fast['model_nodes']} nodes on {fast['model_sites']} sites"
    )
    print(f"  cold (routing caches dropped): {_spread(fast['cold_s'])}")
    print(f"  warm:                          {_spread(fast['warm_s'])}")
    split = fast["split_s"]
    print(
        f"  one warm run: cost model {split['cost_model']:.3f} s, HEFT with lookahead "
        f"{split['heft']:.3f} s, plain HEFT {fast['plain_heft_s']:.3f} s (place_graph runs both)"
    )
    print(
        f"  makespan {fast['makespan_ms']:,.1f} ms (plain {fast['plain_makespan_ms']:,.1f}), "
        f"traffic {fast['traffic_mb_hops']:,.0f} MB x hops, {fast['wan_mb']:,.0f} MB off-site, "
        f"{fast['nodes_used']} nodes used"
    )
    for row in rows:
        print(
            f"  {row['name']:28s} {row['stages']:2d} stages {row['edges']:2d} edges "
            f"{row['nodes']} nodes: optimum {row['optimum_ms']:8.1f} ms "
            f"({'proven' if row['proven'] else 'bound'}, {row['milp_s']:.2f} s), "
            f"list scheduler {row['best_gap']:+.1%} (lookahead {row['heft_gap']:+.1%}, "
            f"plain {row['plain_gap']:+.1%})"
        )
    proven = sum(row["proven"] for row in rows)
    print(f"  gap over {len(rows)} instances ({proven} proven optimal):")
    for name, label in (("best", "list scheduler"), ("heft", "lookahead only"), ("plain", "plain")):
        gaps = [row[f"{name}_gap"] for row in rows]
        print(
            f"    {label:15s} median {statistics.median(gaps):6.1%}, max {max(gaps):7.1%}, "
            f"within 10 % on {sum(g <= TARGET_GAP for g in gaps)}, "
            f"refused {sum(g == float('inf') for g in gaps)}"
        )
    if not args.quick:
        out = ROOT / "bench-results"
        out.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        document = {
            "machine": {"python": platform.python_version(), "cores": _cores()},
            "versions": {name: metadata.version(name) for name in ("numpy", "scipy")},
            "speed": fast,
            "gap": rows,
        }
        (out / f"graph-{stamp}.json").write_text(json.dumps(document, indent=2) + "\n")
    return 0


def _cores() -> int:
    return os.cpu_count() or 0


if __name__ == "__main__":
    raise SystemExit(main())
