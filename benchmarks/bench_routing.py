"""Routing benchmark: routing-graph build and 100 single-source Dijkstra runs, scipy vs networkx.

On generated topologies (``generate_scenario``): the 10,000-node one (its vertex count is
printed: sites and network elements, far fewer than nodes) and one of about 10,000 vertices, the
size DESIGN.md §5 quotes (~0.13 s with scipy, ~1.25 s with networkx for 100 runs). Both
libraries run in this process on the same graph (parallel links merged to the fastest) from the
same 100 sources; figures are the median of ``--runs`` repetitions.

Rows:

* ``graph build``: ``RoutingGraph.from_arrays`` (the topology's arrays built beforehand);
* ``scipy dijkstra``: 100 × ``scipy.sparse.csgraph.dijkstra`` with predecessors, one source each;
* ``distances_from, cold``: 100 × ``distances_from`` with an empty tree cache (Dijkstra plus hop
  counts, bottlenecks and link lookups for every vertex);
* ``distances_from, cached``: the same 100 sources again (the scheduler's hot path);
* ``distances_from, residual``: cached trees, bottlenecks refolded over a residual array;
* ``distances_from, pruned``: a requirement that prunes links, empty cache (Dijkstra per call);
* ``networkx dijkstra``: 100 × ``networkx.single_source_dijkstra`` (distances and paths, the
  counterpart of scipy with predecessors, and the baseline of the last column);
* ``networkx, lengths only``: 100 × ``networkx.single_source_dijkstra_path_length``.

Run: ``.venv/bin/python -m benchmarks.bench_routing [--runs N] [--quick]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from importlib import metadata

import networkx as nx
import numpy as np
from scipy.sparse.csgraph import dijkstra

from suanwang.routing import RoutingGraph, distances_from
from suanwang.scenario.generate import generate_scenario

SEED = 1
SOURCES = 100
NODES = 10_000
VERTEX_MATCHED_NODES = 125_000  # about 10,000 vertices, the graph size DESIGN.md §5 quotes
QUICK_NODES = 2_000


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _networkx_graph(graph: RoutingGraph) -> nx.Graph:
    """The same edges as the routing graph (after merging parallel links), for networkx."""
    n = graph.n_vertices
    keys = graph.edges.keys
    tails, heads = keys // n, keys % n
    forward = tails < heads
    latency = graph.link_latency_ms[graph.edges.link[forward]]
    simple = nx.Graph()
    simple.add_nodes_from(range(n))
    simple.add_weighted_edges_from(
        zip(tails[forward].tolist(), heads[forward].tolist(), latency.tolist(), strict=True),
        weight="latency_ms",
    )
    return simple


def _suite(nodes: int, runs: int) -> tuple[str, int, int, list[tuple[str, list[float]]]]:
    topology = generate_scenario(nodes, seed=SEED).topology
    arrays = topology.arrays
    graph = RoutingGraph.from_arrays(arrays, topology.version)
    n = graph.n_vertices
    rng = np.random.default_rng(SEED)
    sources = rng.choice(n, size=SOURCES, replace=n < SOURCES).tolist()
    simple = _networkx_graph(graph)
    residual = graph.link_bandwidth_mbps * rng.uniform(0.2, 1.0, graph.n_links)
    need = float(np.quantile(graph.link_bandwidth_mbps, 0.25))

    # Correctness first (untimed): both libraries agree on every distance from one source.
    ours = distances_from(graph, sources[0]).latency_ms[0]
    theirs = nx.single_source_dijkstra_path_length(simple, sources[0], weight="latency_ms")
    reference = np.full(n, np.inf)
    reference[list(theirs)] = list(theirs.values())
    if not np.allclose(ours, reference, rtol=1e-12, atol=1e-9):
        raise AssertionError("scipy and networkx distances differ")

    def scipy_runs() -> None:
        for source in sources:
            dijkstra(graph.latency_csr, directed=True, indices=source, return_predecessors=True)

    def ours_runs(residual_mbps: np.ndarray | None = None, need_mbps: float = 0.0) -> None:
        for source in sources:
            distances_from(
                graph, source, residual_bandwidth_mbps=residual_mbps, min_bandwidth_mbps=need_mbps
            )

    def cold(residual_mbps: np.ndarray | None = None, need_mbps: float = 0.0) -> float:
        graph.trees.clear()
        return _timed(lambda: ours_runs(residual_mbps, need_mbps))

    def networkx_runs() -> None:
        for source in sources:
            nx.single_source_dijkstra(simple, source, weight="latency_ms")

    def networkx_length_runs() -> None:
        for source in sources:
            nx.single_source_dijkstra_path_length(simple, source, weight="latency_ms")

    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        rows = {
            "graph build": _timed(lambda: RoutingGraph.from_arrays(arrays, topology.version)),
            "scipy dijkstra": _timed(scipy_runs),
            "distances_from, cold": cold(),
            "distances_from, cached": _timed(ours_runs),
            "distances_from, residual": _timed(lambda: ours_runs(residual)),
            "distances_from, pruned": cold(residual, need),
            "networkx dijkstra": _timed(networkx_runs),
            "networkx, lengths only": _timed(networkx_length_runs),
        }
        for name, seconds in rows.items():
            samples.setdefault(name, []).append(seconds)
    label = f"{nodes:,} nodes"
    return label, n, graph.n_links, list(samples.items())


def _print(results: list[tuple[str, int, int, list[tuple[str, list[float]]]]], runs: int) -> None:
    versions = {name: metadata.version(name) for name in ("numpy", "scipy", "networkx")}
    print(f"python {platform.python_version()}, {platform.machine()}, {versions}")
    print(f"median of {runs} run(s); Dijkstra rows are {SOURCES} single-source runs in total")
    head = (
        f"{'topology':<14} {'vertices':>8} {'links':>7}  {'case':<26} {'median ms':>10} "
        f"{'min-max ms':>17} {'vs networkx':>11}"
    )
    print(head)
    print("-" * len(head))
    for label, vertices, links, rows in results:
        baseline = statistics.median(dict(rows)["networkx dijkstra"])
        for name, seconds in rows:
            median = statistics.median(seconds)
            ratio = "-" if name == "graph build" else f"{baseline / median:.1f}x"
            spread = f"{1e3 * min(seconds):.2f}-{1e3 * max(seconds):.2f}"
            print(
                f"{label:<14} {vertices:>8,} {links:>7,}  {name:<26} {1e3 * median:>10.2f} "
                f"{spread:>17} {ratio:>11}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="repetitions (median reported)")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_NODES:,} nodes only, 1 run (smoke test)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    runs = 1 if args.quick else args.runs
    sizes = [QUICK_NODES] if args.quick else [NODES, VERTEX_MATCHED_NODES]
    _print([_suite(nodes, runs) for nodes in sizes], runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
