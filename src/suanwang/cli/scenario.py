"""``suanwang scenario ...``: list, show, validate, generate, import and describe scenario files."""

from __future__ import annotations

import dataclasses
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from suanwang.cli.common import bad_input_exits, console, err_console, fail
from suanwang.cli.output import AsJson, Output, chosen, keep_whole, print_data, print_whole

# The scenario package (pydantic schema, numpy) is imported inside each command: `suanwang
# --help` must not pay for it.
if TYPE_CHECKING:
    from suanwang.model import Scenario
    from suanwang.scenario.summary import ScenarioSummary

app = typer.Typer(
    help="Scenario files: topology, services, workload, failures and energy.",
    no_args_is_help=True,
)

OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write to this file (.yaml, .yml or .json) instead of standard output.",
    ),
]


def _emit(scenario: Scenario, output: Path | None) -> None:
    """Write ``scenario`` to ``output`` (format from its suffix) or as YAML to standard output."""
    from suanwang.scenario import dump_scenario, dumps_scenario  # noqa: PLC0415

    if output is None:
        typer.echo(dumps_scenario(scenario, "yaml"), nl=False)
        return
    dump_scenario(scenario, output)
    topology = scenario.topology
    err_console.print(
        f"wrote {output}: {len(topology.sites)} sites, {len(topology.nodes)} nodes, "
        f"{len(topology.elements)} network elements, {len(topology.links)} links",
        highlight=False,
    )


@app.command("list")
def list_builtins(fmt: Output = None, as_json: AsJson = False) -> None:
    """List the built-in scenarios."""
    from suanwang.scenario import builtin_info  # noqa: PLC0415

    shown = chosen(fmt, as_json)
    if shown.is_data:
        rows = [{"name": info.name, "description": info.description} for info in builtin_info()]
        print_data(rows, shown)
        return
    table = Table(title="Built-in scenarios", title_justify="left")
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("description")
    for info in builtin_info():
        table.add_row(info.name, info.description)
    print_whole(keep_whole(table, text=("description",)))


def summary_tables(summary: ScenarioSummary) -> list[Table]:
    """Rich tables for a scenario summary: compute per tier, then network and workload counts.

    The tier table ends in a totals row: the sites, nodes, cores, memory and peak rates summed.
    """
    tiers = Table(title=f"{summary.name}: compute per tier", title_justify="left")
    for column in ("tier", "sites", "nodes", "CPU cores", "memory TiB", "accelerators"):
        tiers.add_column(column, justify="left" if column in {"tier", "accelerators"} else "right")
    tiers.add_column("peak PFLOPS fp32", justify="right")
    tiers.add_column("peak PFLOPS fp16", justify="right")
    for tier in summary.tiers:
        accelerators = ", ".join(f"{count:,} {kind}" for kind, count in tier.accelerators.items())
        tiers.add_row(
            tier.tier.value,
            f"{tier.sites:,}",
            f"{tier.nodes:,}",
            f"{tier.cpu_cores:,}",
            f"{tier.mem_gib / 1024:,.1f}",
            accelerators or "-",
            f"{tier.peak_pflops_fp32:,.2f}",
            f"{tier.peak_pflops_fp16:,.2f}",
        )
    if summary.tiers:
        tiers.rows[-1].end_section = True
        tiers.add_row(
            "total",
            f"{sum(t.sites for t in summary.tiers):,}",
            f"{sum(t.nodes for t in summary.tiers):,}",
            f"{sum(t.cpu_cores for t in summary.tiers):,}",
            f"{sum(t.mem_gib for t in summary.tiers) / 1024:,.1f}",
            "",
            f"{sum(t.peak_pflops_fp32 for t in summary.tiers):,.2f}",
            f"{sum(t.peak_pflops_fp16 for t in summary.tiers):,.2f}",
            style="bold",
        )
    rest = Table(title="network and workload", title_justify="left", show_header=False)
    rest.add_column("what", style="bold")
    rest.add_column("count", justify="right")
    rest.add_row("network elements", f"{summary.elements:,}")
    rest.add_row("links", f"{summary.links:,}")
    rest.add_row("link capacity (Gbps, sum)", f"{summary.total_bandwidth_gbps:,.0f}")
    rest.add_row("services", f"{summary.services:,}")
    rest.add_row("task types", f"{summary.task_types:,}")
    rest.add_row("arrival streams", f"{summary.arrival_streams:,}")
    rest.add_row("failures", f"{summary.failures:,}")
    return [keep_whole(tiers, text=("accelerators",)), keep_whole(rest)]


def workload_table(scenario: Scenario) -> Table:
    """The workload catalogue as a table."""
    table = Table(title="workload catalogue", title_justify="left")
    for column in ("task type", "class", "work GFLOP", "precision", "needs", "budget ms"):
        table.add_column(
            column, justify="right" if column in {"work GFLOP", "budget ms"} else "left"
        )
    for task_type in scenario.workload.task_types:
        spec = task_type.spec
        needs = f"{spec.cpu_cores:g} cores, {spec.mem_gib:g} GiB"
        if spec.accelerator is not None:
            needs += f", {spec.accelerator.count} {spec.accelerator.kind.value}"
        budget = "-" if spec.latency_budget_ms is None else f"{spec.latency_budget_ms:g}"
        table.add_row(
            task_type.name,
            spec.task_class.value,
            f"{spec.work_gflop:,.6g}",
            spec.precision.value,
            needs,
            budget,
        )
    return keep_whole(table, text=("needs",))


@app.command()
def show(
    scenario: Annotated[str, typer.Argument(help="A built-in name or a scenario file.")],
    fmt: Output = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Summarise a scenario: compute per tier, network, workload."""
    from suanwang.scenario import ScenarioError, resolve_scenario  # noqa: PLC0415
    from suanwang.scenario.summary import summarise  # noqa: PLC0415

    with bad_input_exits(ScenarioError):
        loaded = resolve_scenario(scenario)
    summary = summarise(loaded)
    shown = chosen(fmt, json_output)
    if shown.is_data:
        print_data(dataclasses.asdict(summary), shown)
        return
    if summary.description:
        console.print(summary.description.strip(), highlight=False)
    for table in (*summary_tables(summary), workload_table(loaded)):
        print_whole(table)


@app.command()
def validate(
    files: Annotated[
        list[str], typer.Argument(help="Scenario files (.yaml, .yml, .json) or built-in names.")
    ],
) -> None:
    """Check scenario files or built-ins; print one line for each; exit 2 if any is invalid."""
    from suanwang.scenario import ScenarioError, resolve_scenario  # noqa: PLC0415

    bad = 0
    for path in files:
        try:
            # a file when one is there (or the name has a scenario suffix), else a built-in,
            # as every other command that takes a scenario reads it
            scenario = resolve_scenario(path)
        except ScenarioError as error:
            bad += 1
            err_console.print(f"error: {error}", highlight=False, markup=False, soft_wrap=True)
            continue
        topology = scenario.topology
        console.print(
            f"ok: {path} ({len(topology.sites)} sites, {len(topology.nodes)} nodes, "
            f"{len(topology.links)} links)",
            highlight=False,
        )
    if bad:
        raise typer.Exit(2)


@app.command()
def generate(
    nodes: Annotated[
        int, typer.Option("--nodes", "-n", min=1, max=1_000_000, help="Compute nodes.")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", "-s", min=0, help="Random seed.")] = 0,
    name: Annotated[
        str | None, typer.Option(help="Scenario name (default generated-N-sS).")
    ] = None,
    output: OutputOption = None,
) -> None:
    """Generate a realistic tiered topology of any size (deterministic for a seed)."""
    from suanwang.scenario import ScenarioError  # noqa: PLC0415
    from suanwang.scenario.generate import generate_scenario  # noqa: PLC0415  # keeps start-up fast

    with bad_input_exits(ScenarioError):
        _emit(generate_scenario(nodes, seed=seed, name=name), output)


@app.command("generate-edgesimpy")
def generate_edgesimpy_dataset(
    *,
    users: Annotated[int, typer.Option("--users", min=1, help="Users (one app each).")] = 100,
    servers: Annotated[int, typer.Option("--servers", min=1, help="Edge servers.")] = 25,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The EdgeSimPy JSON file to write.")
    ] = Path("edgesimpy.json"),
    seed: Annotated[int, typer.Option("--seed", "-s", min=0, help="Random seed.")] = 0,
    base_stations: Annotated[
        int | None, typer.Option(min=1, help="Base stations (default max(servers, users/4)).")
    ] = None,
    steps: Annotated[int, typer.Option(min=0, help="Steps of each mobility trace.")] = 600,
) -> None:
    """Generate an EdgeSimPy-format dataset (as EdgeSimPy's scaled datasets are built)."""
    from suanwang.scenario.importers.edgesimpy_gen import (  # noqa: PLC0415
        generate_edgesimpy,
        write_edgesimpy,
    )

    try:
        data = generate_edgesimpy(
            users, servers, seed=seed, base_stations=base_stations, steps=steps
        )
        write_edgesimpy(output, data)
    except ValueError as error:
        raise fail(str(error)) from None
    except OSError as error:
        raise fail(f"{output}: cannot write the file: {error.strerror or error}") from None
    err_console.print(
        f"wrote {output}: {users} users, {servers} servers, {len(data['BaseStation'])} base"
        f" stations, {len(data['NetworkLink'])} links",
        highlight=False,
        soft_wrap=True,
    )


class ImportFormat(StrEnum):
    """Formats ``suanwang scenario import`` reads."""

    EDGESIMPY = "edgesimpy"
    GRAPHML = "graphml"
    GML = "gml"


@app.command("import")
def import_(
    fmt: Annotated[
        ImportFormat, typer.Argument(metavar="FORMAT", help="edgesimpy, graphml or gml.")
    ],
    file: Annotated[Path, typer.Argument(help="The file to import.")],
    output: OutputOption = None,
) -> None:
    """Import an EdgeSimPy dataset or a GraphML/GML topology (e.g. Internet Topology Zoo)."""
    # Imported here: networkx is slow to import and only these commands need it.
    from suanwang.scenario import ScenarioError  # noqa: PLC0415
    from suanwang.scenario.importers import import_edgesimpy, import_graph  # noqa: PLC0415

    with bad_input_exits(ScenarioError):
        scenario = import_edgesimpy(file) if fmt is ImportFormat.EDGESIMPY else import_graph(file)
        _emit(scenario, output)


@app.command()
def schema(output: OutputOption = None) -> None:
    """Print the JSON Schema of scenario files (for editors and validators)."""
    from suanwang.scenario import ScenarioDoc  # noqa: PLC0415

    text = json.dumps(ScenarioDoc.model_json_schema(by_alias=True), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise fail(f"{output}: cannot write the file: {error.strerror or error}") from None
    err_console.print(f"wrote {output}", highlight=False)
