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
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from suanwang.cli.common import bad_input_exits, console
from suanwang.cli.output import AsJson, Output, chosen, print_data, print_whole

if TYPE_CHECKING:
    from suanwang.model.graph import Edge, Stage, TaskGraph
    from suanwang.scheduling.graph import ExactResult, GraphPlacement

graph_app = typer.Typer(help="Task graphs (decomposition): place a DAG of stages.")

MAX_FILE_BYTES = 4 * 1024 * 1024
"""Largest graph file read."""
EXACT_MAX_STAGES, EXACT_MAX_NODES = 12, 16
"""``--exact`` is for small graphs: at most this many stages on this many model nodes."""
_GRAPH_KEYS = {"id", "ingress_site", "latency_budget_ms", "budget", "tenant", "stages", "edges"}
_STAGE_NUMBERS = ("work_gflop", "cpu_cores", "mem_gib", "input_mb", "result_mb")
_STAGE_KEYS = {"id", "precision", "accelerator", "task_class", *_STAGE_NUMBERS}
_EDGE_KEYS = {"src", "dst", "data_mb", "reduction_ratio"}
_ACCELERATOR_KEYS = {"kind", "count", "min_mem_gib"}


class GraphFileError(ValueError):
    """A graph file that cannot be read; the message names the file and the field path."""


def _mapping(value: Any, where: str, keys: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise GraphFileError(f"{where}: expected a mapping, got {type(value).__name__}")
    unknown = sorted(set(map(str, value)) - keys)
    if unknown:
        raise GraphFileError(f"{where}: unknown field {unknown[0]!r}; known: {sorted(keys)}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GraphFileError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise GraphFileError(f"{where}: expected text, got {value!r}")
    return value


def _stage(value: Any, where: str) -> Stage:
    from suanwang.model import AcceleratorKind, AcceleratorNeed, Precision, TaskClass  # noqa: PLC0415
    from suanwang.model.graph import Stage  # noqa: PLC0415

    data = _mapping(value, where, _STAGE_KEYS)
    fields: dict[str, Any] = {"id": _text(data.get("id"), f"{where}.id")}
    fields["work_gflop"] = _number(data.get("work_gflop"), f"{where}.work_gflop")
    for name in _STAGE_NUMBERS[1:]:
        if name in data:
            fields[name] = _number(data[name], f"{where}.{name}")
    for name, kind in (("precision", Precision), ("task_class", TaskClass)):
        if name in data:
            try:
                fields[name] = kind(data[name])
            except ValueError:
                known = [str(member) for member in kind]
                raise GraphFileError(
                    f"{where}.{name}: expected one of {known}, got {data[name]!r}"
                ) from None
    if data.get("accelerator") is not None:
        need = _mapping(data["accelerator"], f"{where}.accelerator", _ACCELERATOR_KEYS)
        try:
            kind_of = AcceleratorKind(str(need.get("kind")))
        except ValueError:
            known = [str(member) for member in AcceleratorKind]
            raise GraphFileError(
                f"{where}.accelerator.kind: expected one of {known}, got {need.get('kind')!r}"
            ) from None
        count = _number(need.get("count", 1), f"{where}.accelerator.count")
        if count != int(count) or count < 1:
            raise GraphFileError(f"{where}.accelerator.count: expected a whole number >= 1")
        memory = _number(need.get("min_mem_gib", 0.0), f"{where}.accelerator.min_mem_gib")
        fields["accelerator"] = AcceleratorNeed(kind_of, int(count), memory)
    return Stage(**fields)


def _edge(value: Any, where: str) -> Edge:
    from suanwang.model.graph import Edge  # noqa: PLC0415

    data = _mapping(value, where, _EDGE_KEYS)
    ratio = data.get("reduction_ratio")
    return Edge(
        _text(data.get("src"), f"{where}.src"),
        _text(data.get("dst"), f"{where}.dst"),
        _number(data.get("data_mb", 0.0), f"{where}.data_mb"),
        None if ratio is None else _number(ratio, f"{where}.reduction_ratio"),
    )


def graph_from_data(data: Any) -> TaskGraph:
    """The task graph of a decoded graph document (module docstring).

    Raises:
        GraphFileError: A field of the wrong shape or type, named by its path.
        suanwang.model.graph.GraphError: An invariant of the graph (cycle, unknown stage...).
    """
    from suanwang.model.graph import TaskGraph  # noqa: PLC0415

    doc = _mapping(data, "graph", _GRAPH_KEYS)
    stages, edges = doc.get("stages"), doc.get("edges", [])
    if not isinstance(stages, list) or not isinstance(edges, list):
        raise GraphFileError("graph: stages and edges must be lists")
    optional: dict[str, Any] = {}
    for name in ("latency_budget_ms", "budget"):
        if doc.get(name) is not None:
            optional[name] = _number(doc[name], name)
    for name in ("ingress_site", "tenant"):
        if doc.get(name) is not None:
            optional[name] = _text(doc[name], name)
    return TaskGraph(
        _text(doc.get("id"), "id"),
        tuple(_stage(stage, f"stages[{i}]") for i, stage in enumerate(stages)),
        tuple(_edge(edge, f"edges[{i}]") for i, edge in enumerate(edges)),
        **optional,
    )


def read_graph(path: Path) -> TaskGraph:
    """The task graph in the YAML or JSON file ``path``.

    Raises:
        GraphFileError: Unreadable, too large, not YAML, or a field is wrong (with its path).
        suanwang.model.graph.GraphError: An invariant of the graph is broken.
    """
    import yaml  # noqa: PLC0415

    from suanwang.model.graph import GraphError  # noqa: PLC0415

    try:
        if not path.is_file():
            raise GraphFileError(f"{path}: not a readable file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise GraphFileError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return graph_from_data(data)
    except yaml.MarkedYAMLError as error:
        line = "" if error.problem_mark is None else f":{error.problem_mark.line + 1}"
        raise GraphFileError(f"{path}{line}: {error.problem or 'not YAML'}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise GraphFileError(f"{path}: {' '.join(str(error).split())}") from None
    except (GraphFileError, GraphError) as error:
        if str(error).startswith(str(path)):
            raise
        raise GraphFileError(f"{path}: {error}") from None


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
        float,
        typer.Option(
            "--traffic-weight",
            min=0.0,
            help="ms one MB x hop of traffic is worth against latency (0: least latency).",
        ),
    ] = 0.0,
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
    optimum = data.get("optimum")
    if optimum is not None:
        state = "proven optimal" if optimum["proven"] else f"bound {optimum['bound_ms']:,.1f} ms"
        gap = "-" if math.isnan(optimum["gap"]) else f"{optimum['gap']:+.1%}"
        console.print(
            f"MILP: {optimum['makespan_ms']:,.1f} ms ({state}, {optimum['solve_s']:.2f} s); "
            f"HEFT's gap {gap}",
            highlight=False,
        )
