"""``suanwang graph place -f FILE``: place a task graph (a DAG of stages) on a scenario's network.

The graph file is YAML or JSON::

    id: video-analytics
    ingress_site: term-futian
    latency_budget_ms: 800          # optional; a placement over it is refused
    budget: 5.0                     # optional price budget of the stages' compute
    stages:
      - {id: decode, work_gflop: 20, cpu_cores: 2, input_mb: 4}
      - {id: detect, work_gflop: 800, precision: fp16, task_class: hot,
         accelerator: {kind: gpu, count: 1}}
      - {id: track, work_gflop: 5, result_mb: 0.2}
    edges:
      - {src: decode, dst: detect, data_mb: 2}
      - {src: detect, dst: track, reduction_ratio: 0.1}

Stage fields are those of ``suanwang.model.graph.Stage``; an edge has ``data_mb`` or
``reduction_ratio``. The placement is planned on a fresh state of the scenario (nothing live is
touched); ``--exact`` also solves the MILP on the same cost model and prints the gap.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from suanwang.cli.common import bad_input_exits, console
from suanwang.cli.graph_file import GraphFileError, read_graph
from suanwang.cli.output import AsJson, Output, chosen, print_data, print_whole

if TYPE_CHECKING:
    from suanwang.model.graph import TaskGraph
    from suanwang.scheduling.graph import ExactResult, GraphPlacement

graph_app = typer.Typer(help="Task graphs (decomposition): place a DAG of stages.")

EXACT_MAX_STAGES, EXACT_MAX_NODES = 12, 16
"""``--exact`` is for small graphs: at most this many stages on this many model nodes."""


@graph_app.command("place")
def place(
    file: Annotated[Path, typer.Option("--file", "-f", help="The graph file (YAML or JSON).")],
    *,
    scenario: Annotated[
        str, typer.Option("--scenario", help="A built-in scenario name or a scenario file.")
    ] = "metro-edge",
    candidates: Annotated[
        int,
        typer.Option(
            "--candidates", min=0, help="Candidate nodes per kind of demand; 0: every node."
        ),
    ] = 32,
    traffic_weight: Annotated[
        float | None,
        typer.Option(
            "--traffic-weight",
            min=0.0,
            help="ms one MB x hop of traffic is worth against latency (default 0: least "
            "latency; 1 for a graph with along-path stages).",
        ),
    ] = None,
    exact: Annotated[
        bool, typer.Option("--exact", help="Also solve the MILP optimum (small graphs only).")
    ] = False,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, help="MILP time limit in seconds.")
    ] = 60.0,
    output: Output = None,
    json_output: AsJson = False,
) -> None:
    """Place a task graph by network-aware HEFT on a fresh state of a scenario's network.

    Prints each stage's node, site, start and finish, then the makespan (the last result back
    at the ingress), traffic and price; --exact adds the MILP optimum and the gap.
    """
    from suanwang.model.graph import GraphError  # noqa: PLC0415
    from suanwang.scenario import ScenarioError, resolve_scenario  # noqa: PLC0415
    from suanwang.scheduling import ClusterState  # noqa: PLC0415
    from suanwang.scheduling.graph import GraphPlacementError, place_graph  # noqa: PLC0415

    with bad_input_exits(GraphFileError, GraphError, ScenarioError, GraphPlacementError):
        graph = read_graph(file)
        topology = resolve_scenario(scenario).topology
        state = ClusterState(topology)
        placement = place_graph(
            graph, state, candidates_per_stage=candidates or None, traffic_weight=traffic_weight
        )
        optimum = _exact(graph, placement, time_limit) if exact else None
    arrays = topology.arrays
    sites = [arrays.vertex_ids[int(v)] for v in arrays.node_vertex[list(placement.node_index)]]
    data = _as_data(graph, placement, optimum, sites)
    fmt = chosen(output, json_output)
    if fmt.is_data:
        print_data(data, fmt)
        return
    _print_table(data)


def _exact(graph: TaskGraph, placement: GraphPlacement, time_limit_s: float) -> ExactResult:
    from suanwang.scheduling.graph import GraphPlacementError, solve_exact  # noqa: PLC0415

    nodes = placement.costs.nodes.size
    if len(graph.stages) > EXACT_MAX_STAGES or nodes > EXACT_MAX_NODES:
        raise GraphPlacementError(
            f"--exact is for small graphs (<= {EXACT_MAX_STAGES} stages on <= "
            f"{EXACT_MAX_NODES} candidate nodes); got {len(graph.stages)} stages on {nodes} "
            "nodes (lower --candidates)"
        )
    return solve_exact(graph, placement.costs, time_limit_s=time_limit_s)


def _as_data(
    graph: TaskGraph, placement: GraphPlacement, optimum: ExactResult | None, sites: list[str]
) -> dict[str, Any]:
    schedule = placement.schedule
    data: dict[str, Any] = {
        "graph": graph.id,
        "ingress_site": graph.ingress_site,
        "makespan_ms": schedule.makespan_ms,
        "latency_budget_ms": graph.latency_budget_ms,
        "traffic_mb_hops": schedule.traffic_mb_hops,
        "wan_mb": schedule.wan_mb,
        "cost": schedule.cost,
        "along_path": None
        if placement.along_path is None
        else {
            "path": list(placement.along_path.path),
            "traffic_mb_hops": placement.along_path.traffic_mb_hops,
            "cloud_traffic_mb_hops": placement.along_path.cloud_traffic_mb_hops,
            "saved_mb_hops": placement.along_path.saved_mb_hops,
        },
        "stages": [
            {
                "stage": stage.id,
                "node": placement.node_ids[s],
                "site": sites[s],
                "start_ms": float(schedule.start_ms[s]),
                "finish_ms": float(schedule.finish_ms[s]),
            }
            for s, stage in enumerate(graph.stages)
        ],
    }
    if optimum is not None:
        best = optimum.schedule.makespan_ms
        data["optimum"] = {
            "makespan_ms": best,
            "bound_ms": optimum.bound_ms,
            "proven": optimum.proven,
            "solve_s": optimum.solve_s,
            "gap": (schedule.makespan_ms - best) / best if best > 0 else 0.0,
        }
    return data


def _print_table(data: dict[str, Any]) -> None:
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=f"{data['graph']} from {data['ingress_site']}", title_justify="left")
    table.add_column("stage", style="bold cyan", no_wrap=True)
    table.add_column("node", no_wrap=True)
    table.add_column("site", no_wrap=True)
    table.add_column("start ms", justify="right", no_wrap=True)
    table.add_column("finish ms", justify="right", no_wrap=True)
    for row in sorted(data["stages"], key=lambda row: (row["start_ms"], row["stage"])):
        table.add_row(
            row["stage"],
            row["node"],
            row["site"],
            f"{row['start_ms']:,.1f}",
            f"{row['finish_ms']:,.1f}",
        )
    print_whole(table)
    budget = data["latency_budget_ms"]
    within = "" if budget is None else f" (budget {budget:g} ms)"
    console.print(f"makespan {data['makespan_ms']:,.1f} ms{within}", highlight=False)
    console.print(
        f"traffic {data['traffic_mb_hops']:,.1f} MB x hops, {data['wan_mb']:,.1f} MB off-site; "
        f"price {data['cost']:.6g}",
        highlight=False,
    )
    along = data.get("along_path")
    if along is not None:
        console.print(
            f"along the path {' -> '.join(along['path'])}: {along['traffic_mb_hops']:,.1f} MB x "
            f"hops against {along['cloud_traffic_mb_hops']:,.1f} with those stages in the cloud "
            f"(saved {along['saved_mb_hops']:,.1f})",
            highlight=False,
        )
    optimum = data.get("optimum")
    if optimum is not None:
        state = "proven optimal" if optimum["proven"] else f"bound {optimum['bound_ms']:,.1f} ms"
        gap = "-" if math.isnan(optimum["gap"]) else f"{optimum['gap']:+.1%}"
        console.print(
            f"MILP: {optimum['makespan_ms']:,.1f} ms ({state}, {optimum['solve_s']:.2f} s); "
            f"HEFT's gap {gap}",
            highlight=False,
        )


def _register_compare() -> None:
    """Add ``graph compare`` (its module reads graph files through this one)."""
    from suanwang.cli.graph_compare import compare  # noqa: PLC0415

    graph_app.command("compare")(compare)


_register_compare()
