"""``suanwang graph run -f FILE [--dry-run]``, ``graph list``, ``show ID``, ``cancel ID``.

``run`` posts a graph file (the format of ``graph place``; each stage may also name the
tenant's ``artefact``, ``entry`` and ``inputs``) to ``POST /v1/graphs``: the server places it
on the live network, all stages or none, and runs it stage by stage, each stage's result the
next one's input. ``--dry-run`` prints the placement only. ``show`` prints each stage's state,
node and run time against the estimate, and the makespan against the placement's. Tables fit
80 columns; ``-o wide`` adds the planned node, the measured start and finish, the task and the
output digest; ``-o json|yaml`` or ``--json`` for scripts. Exit codes as for
``task``: 2 for bad input or a refusal (4xx), 1 for a server or connection error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.text import Text

from suanwang.cli.client import call
from suanwang.cli.common import fail
from suanwang.cli.crud import add_list, add_show
from suanwang.cli.output import AsJson, Kind, Output, chosen, emit, whole_table
from suanwang.cli.tasks import DEFAULT_URL, CaFile, Token, Url

MAX_FILE_BYTES = 4 * 1024 * 1024
"""Largest graph file read."""

RunId = Annotated[str, typer.Argument(help="The graph run's id (graph list shows them).")]
File = Annotated[Path, typer.Option("--file", "-f", help="The graph file (YAML or JSON).")]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Print the placement only; reserve and run nothing.")
]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _error(value: float | None) -> str:
    return "-" if value is None else f"{value:+.0%}"


def graphs_table(graphs: list[dict[str, Any]], wide: bool = False) -> Any:
    """One row per graph: id, state, stages completed, estimated and measured makespan."""
    columns: list[tuple[str, Kind]] = [("graph", "id")]
    columns += [("tenant", "id")] if wide else []
    columns += [("state", "id"), ("done", "number"), ("est ms", "number")]
    columns += [("ms", "number"), ("error", "number")]
    rows = []
    for g in graphs:
        done = sum(s["state"] == "completed" for s in g["stages"])
        row = [g["id"], *([g["tenant"]] if wide else []), g["state"], f"{done}/{len(g['stages'])}"]
        row += [_ms(g["estimated_makespan_ms"]), _ms(g["measured_makespan_ms"])]
        rows.append([*row, _error(g["makespan_error"])])
    return whole_table(columns, rows)


def graph_view(graph: dict[str, Any], wide: bool = False) -> Group:
    """One graph: a stage per row (state, node, run time estimated and measured, the error).

    ``wide`` adds the planned node, the measured start and finish (ms after submission), the
    task and the output digest.
    """
    columns: list[tuple[str, Kind]] = [("stage", "id"), ("state", "id"), ("node", "id")]
    if wide:
        columns += [("planned", "id"), ("start ms", "number"), ("finish ms", "number")]
    columns += [("est ms", "number"), ("ms", "number"), ("error", "number")]
    if wide:
        columns += [("task", "id"), ("output", "id")]
    rows = []
    for s in graph["stages"]:
        row = [s["stage"], s["state"], s["node_id"] or s["planned_node"]]
        if wide:
            row += [s["planned_node"], _ms(s["started_ms"]), _ms(s["finished_ms"])]
        row += [_ms(s["estimated_run_ms"]), _ms(s["measured_run_ms"]), _error(s["run_error"])]
        if wide:
            row += [s["task_id"] or "-", s["output"] or "-"]
        rows.append(row)
    head = f"{graph['id']} [{graph['tenant']}]: {graph['state']}"
    made, estimated = graph["measured_makespan_ms"], _ms(graph["estimated_makespan_ms"])
    span = f"makespan {estimated} ms estimated"
    if made is not None:
        span = f"makespan {_ms(made)} ms against {estimated} estimated"
        span += f" ({_error(graph['makespan_error'])})"
    parts: list[Any] = [Text(head, style="bold"), whole_table(columns, rows), Text(span)]
    if graph["reason"]:
        parts.append(Text.from_markup(f"[dim]{escape(graph['reason'])}[/dim]"))
    return Group(*parts)


def _read(file: Path) -> Any:
    import yaml  # noqa: PLC0415 (keeps `suanwang --help` fast)

    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise fail(f"{file}: larger than {MAX_FILE_BYTES:,} bytes")
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise fail(f"{file}: {' '.join(str(error).split())}") from None
    if not isinstance(data, dict):
        raise fail(f"{file}: expected a mapping (id, ingress_site, stages, edges)")
    return data


def run(
    file: File,
    *,
    dry_run: DryRun = False,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Place a graph on the live network (all stages or none) and run it stage by stage."""
    params = {"dry_run": "true"} if dry_run else {}
    body = _read(file)
    found = call(url, token, "POST", "/v1/graphs", json=body, params=params, ca_file=ca_file)
    emit(found, chosen(fmt, as_json), graph_view)


def cancel(
    run_id: RunId,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Cancel a running graph: its running stages are cancelled, the rest never start."""
    found = call(url, token, "DELETE", f"/v1/graphs/{run_id}", ca_file=ca_file)
    emit(found, chosen(fmt, as_json), graph_view)


def add_run_commands(app: typer.Typer) -> None:
    """Add ``run``, ``list``, ``show`` and ``cancel`` to the ``graph`` command group."""
    app.command("run")(run)
    add_list(app, "/v1/graphs", graphs_table, "graphs", "The live graphs, oldest first.")
    add_show(app, "/v1/graphs", RunId, graph_view, "One graph: its stages, planned and measured.")
    app.command("cancel")(cancel)
