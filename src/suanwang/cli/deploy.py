"""``suanwang deploy create | list | show | delete``: autoscaled long-running services.

A deployment keeps between ``--min`` and ``--max`` replicas of one task template (a tenant's
artefact, or a catalogue type), each placed by the scheduler on a site of its own where one can
take it, and scales them on their nodes' measured load against ``--target`` (a CPU share; the
rule is ``control.autoscale``'s). ``create`` of an existing name replaces its template and
policy; the replicas follow. Tables fit 80 columns; ``-o json|yaml`` or ``--json`` for scripts.
Exit codes as for ``task``: 2 for bad input or a refusal (4xx), 1 for a server or connection
error.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from suanwang.cli.client import call
from suanwang.cli.code import code_fields
from suanwang.cli.common import fail
from suanwang.cli.crud import add_delete, add_list, add_show
from suanwang.cli.output import AsJson, Kind, Output, chosen, emit, whole_table
from suanwang.cli.tasks import DEFAULT_URL, CaFile, Token, Url

deploy_app = typer.Typer(
    help="Deployments: long-running services with autoscaled replicas.", no_args_is_help=True
)

Name = Annotated[str, typer.Argument(help="The deployment's name (lower-case, digits, -).")]


def _measured(deployment: dict[str, Any]) -> str:
    last = deployment.get("last_decision") or {}
    measured = last.get("measured")
    return "-" if measured is None else f"{measured:.2f}"


def deployments_table(deployments: list[dict[str, Any]], wide: bool = False) -> Table:
    """One row per deployment: name, current and desired replicas, bounds, target, load.

    ``wide`` adds the tenant and the sites the replicas run on.
    """
    columns: list[tuple[str, Kind]] = [("name", "id")]
    if wide:
        columns.append(("tenant", "id"))
    columns += [("current", "number"), ("desired", "number"), ("min", "number")]
    columns += [("max", "number"), ("target", "number"), ("load", "number")]
    if wide:
        columns.append(("sites", "text"))
    rows = []
    for d in deployments:
        row = [d["name"], *([d["tenant"]] if wide else [])]
        row += [str(d["current"]), str(d["desired"]), str(d["min_replicas"])]
        row += [str(d["max_replicas"]), f"{d['target_utilisation']:.2f}", _measured(d)]
        if wide:
            row.append(", ".join(sorted({r["site_id"] for r in d["replicas"] if r["site_id"]})))
        rows.append(row)
    return whole_table(columns, rows)


def deployment_view(deployment: dict[str, Any], wide: bool = False) -> Group:
    """One deployment: its replicas, the last decision and the latest events.

    A replica's row is its task, state and node; ``wide`` adds its site and every kept event.
    """
    columns: list[tuple[str, Kind]] = [("replica", "id"), ("state", "id"), ("node", "id")]
    columns += [("site", "id")] if wide else []
    rows = [
        [r["task_id"], r["state"], r["node_id"] or "-", *([r["site_id"] or "-"] if wide else [])]
        for r in deployment["replicas"]
    ]
    title = (
        f"{deployment['name']} [{deployment['tenant']}]: {deployment['current']} of "
        f"{deployment['desired']} replica(s), {deployment['min_replicas']}.."
        f"{deployment['max_replicas']}, target {deployment['target_utilisation']:.2f}"
    )
    table = whole_table(columns, rows, title=escape(title), title_justify="left")
    parts: list[Any] = [table]
    last = deployment.get("last_decision")
    if last is not None:
        parts.append(Text(f"last decision: {last['reason']}", overflow="fold"))
    events = deployment["events"] if wide else deployment["events"][-5:]
    parts += [Text(f"- {event}", overflow="fold") for event in events]
    return Group(*parts)


def _template(spec: str | None, options: dict[str, Any], code: dict[str, Any]) -> dict[str, Any]:
    try:
        template: Any = json.loads(spec) if spec else {}
    except json.JSONDecodeError as exc:
        raise fail(f"--template is not JSON: {exc}") from None
    if not isinstance(template, dict):
        raise fail(f"--template must be a JSON object, got {type(template).__name__}")
    template.update({name: value for name, value in options.items() if value is not None})
    template.update(code)
    return template


@deploy_app.command("create")
def create_deployment(
    name: Name,
    *,
    artefact: Annotated[str | None, typer.Option(help="Digest of the replicas' artefact.")] = None,
    entry: Annotated[str | None, typer.Option(help="module:function in the artefact.")] = None,
    inputs: Annotated[
        list[str] | None, typer.Option("--input", help="Digest of an input object (repeat).")
    ] = None,
    task_type: Annotated[str | None, typer.Option("--type", help="Catalogue task type.")] = None,
    ingress: Annotated[str | None, typer.Option(help="Ingress site.")] = None,
    work_gflop: Annotated[float | None, typer.Option(min=0, help="Work, GFLOP.")] = None,
    cpu_cores: Annotated[float | None, typer.Option(min=0, help="Cores per replica.")] = None,
    mem_gib: Annotated[float | None, typer.Option(min=0, help="Memory per replica.")] = None,
    template: Annotated[
        str | None, typer.Option(help="A replica's whole task spec as JSON (options override).")
    ] = None,
    min_replicas: Annotated[int, typer.Option("--min", min=1, help="Fewest replicas.")] = 1,
    max_replicas: Annotated[int, typer.Option("--max", min=1, help="Most replicas.")] = 1,
    target: Annotated[
        float, typer.Option(min=0, max=1, help="Load per replica aimed at (CPU share).")
    ] = 0.6,
    tolerance: Annotated[float, typer.Option(min=0, max=1, help="No change within this.")] = 0.1,
    scale_down_window_s: Annotated[
        float, typer.Option(min=0, help="Scale down only after this long below the target.")
    ] = 60.0,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Create a deployment (or update one's template and policy); prints it with its replicas."""
    if max_replicas < min_replicas:
        raise fail(f"--max {max_replicas} is below --min {min_replicas}")
    options = {
        "task_type": task_type,
        "ingress_site": ingress,
        "work_gflop": work_gflop,
        "cpu_cores": cpu_cores,
        "mem_gib": mem_gib,
    }
    body = {
        "name": name,
        "template": _template(template, options, code_fields(artefact, entry, inputs or [])),
        "min_replicas": min_replicas,
        "max_replicas": max_replicas,
        "target_utilisation": target,
        "tolerance": tolerance,
        "scale_down_window_s": scale_down_window_s,
    }
    made = call(url, token, "POST", "/v1/deployments", json=body, ca_file=ca_file)
    emit(made, chosen(fmt, as_json), deployment_view)


add_list(
    deploy_app,
    "/v1/deployments",
    deployments_table,
    "deployments",
    "Your tenant's deployments (every tenant's for an admin) with their replica counts.",
)
add_show(
    deploy_app,
    "/v1/deployments",
    Name,
    deployment_view,
    "One deployment: its replicas with node and site, the last scaling decision, its events.",
)
add_delete(
    deploy_app,
    "/v1/deployments",
    Name,
    "Remove a deployment and cancel its replicas.",
)
