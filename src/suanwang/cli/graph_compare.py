"""``suanwang graph compare -f FILE``: single-site against decomposed placement, run in the twin.

The graph (the file format of ``suanwang graph place``) is placed on a fresh state of a
scenario's network three ways (``suanwang.twin.graphcompare``: all at the best single site,
decomposed over cloud, edge and end, and with its aggregate stages on network elements where
some offer compute), and each placement is run through the twin's event loop: the table gives
the end-to-end latency, makespan, traffic (GB x links) and moved GB the twin measured, then
where each stage ran. ``--plot FILE`` draws the two figures side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from suanwang.cli.common import bad_input_exits, console
from suanwang.cli.graph_file import GraphFileError, read_graph
from suanwang.cli.output import AsJson, Output, chosen, print_data, print_whole


def compare(
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
            help="ms one MB x hop of traffic is worth against latency (as for graph place).",
        ),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write a PNG of latency and traffic here.")
    ] = None,
    output: Output = None,
    json_output: AsJson = False,
) -> None:
    """Compare single-site and decomposed placement of a task graph in the twin.

    Prints per placement the twin's end-to-end latency, makespan, traffic and data moved,
    then each stage's place.
    """
    from suanwang.model.graph import GraphError  # noqa: PLC0415
    from suanwang.routing import NoPathError  # noqa: PLC0415
    from suanwang.scenario import ScenarioError, resolve_scenario  # noqa: PLC0415
    from suanwang.scheduling import ClusterState  # noqa: PLC0415
    from suanwang.scheduling.graph import GraphPlacementError  # noqa: PLC0415
    from suanwang.twin.graphcompare import compare_graph  # noqa: PLC0415

    errors = (GraphFileError, GraphError, ScenarioError, GraphPlacementError, NoPathError)
    with bad_input_exits(*errors):
        graph = read_graph(file)
        state = ClusterState(resolve_scenario(scenario).topology)
        comparison = compare_graph(
            graph, state, candidates_per_stage=candidates or None, traffic_weight=traffic_weight
        )
    data = comparison.as_data(state)
    if plot is not None:
        from suanwang.twin.graphplot import comparison_figure  # noqa: PLC0415
        from suanwang.twin.report import save_figure  # noqa: PLC0415

        data["plot"] = str(save_figure(comparison_figure(data), plot))
    fmt = chosen(output, json_output)
    if fmt.is_data:
        print_data(data, fmt)
        return
    _print_tables(data)


def _print_tables(data: dict[str, Any]) -> None:
    from rich.table import Table  # noqa: PLC0415

    title = f"{data['graph']} from {data['ingress_site']} (measured in the twin)"
    table = Table(title=title, title_justify="left")
    table.add_column("placement", style="bold cyan", no_wrap=True)
    for name in ("e2e ms", "makespan ms", "model ms", "traffic GB", "moved GB"):
        table.add_column(name, justify="right", no_wrap=True)
    for row in data["variants"]:
        model = row["model_makespan_ms"]
        table.add_row(
            row["variant"],
            f"{row['end_to_end_ms']:,.1f}",
            f"{row['makespan_ms']:,.1f}",
            "-" if model is None else f"{model:,.1f}",
            f"{row['traffic_gb']:,.4f}",
            f"{row['moved_gb']:,.4f}",
        )
    print_whole(table)
    stages = Table(title="where each stage ran", title_justify="left")
    stages.add_column("stage", style="bold cyan", no_wrap=True)
    for row in data["variants"]:
        stages.add_column(row["variant"], no_wrap=True)
    for s, stage in enumerate(data["variants"][0]["stages"]):
        cells = []
        for row in data["variants"]:
            place = row["stages"][s]
            cells.append(place["at"] + (" (in network)" if place["in_network"] else ""))
        stages.add_row(stage["stage"], *cells)
    print_whole(stages)
    if data.get("single_site_error"):
        console.print(f"no single-site placement: {data['single_site_error']}", highlight=False)
    along = data.get("along_path")
    if along is not None:
        console.print(
            f"along the path {' -> '.join(along['path'])}: saved {along['saved_mb_hops']:,.1f} "
            f"MB x hops against those stages in the cloud",
            highlight=False,
        )
    if "plot" in data:
        console.print(f"plot: {data['plot']}", highlight=False)
