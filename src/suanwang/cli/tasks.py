"""``suanwang task | node``: the control plane from the command line.

``task`` and ``node`` talk to a running server over HTTP (``--url``/``SUANWANG_URL``,
``--token``/``SUANWANG_TOKEN``, else the config file's context: ``suanwang.cli.contexts``);
an ``https://`` server is verified against the system's certificate authorities or
``--ca-file``/``SUANWANG_CA_FILE`` (a private CA or the server's pinned certificate).
``token`` is in ``suanwang.cli.tokens``. Tables by default (``-o wide`` for every column),
``-o json|yaml`` or ``--json`` for scripts. A task id may be given by a unique prefix.
Errors are one line: exit 2 for a refused request (4xx), 1 for a server or connection error, 3
for a task the scheduler rejected (it is stored, and printed, all the same).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import typer

from suanwang.cli.client import (
    answer,
    call,
    did_you_mean,
    offset_pages,
    quiet_get,
    request,
    resolve_task_id,
)
from suanwang.cli.common import err_console, fail
from suanwang.cli.contexts import from_context
from suanwang.cli.output import AsJson, Output, chosen, emit, emit_list
from suanwang.cli.task_tables import change_table, history_table, node_table, task_table

task_app = typer.Typer(
    help="Submit, list, inspect, cancel and explain tasks.", no_args_is_help=True
)
node_app = typer.Typer(help="Nodes of the live topology.", no_args_is_help=True)

Url = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="SUANWANG_URL",
        help="Server URL (else the context's server).",
        callback=from_context("server"),
    ),
]
Token = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="SUANWANG_TOKEN",
        help="Bearer token (else the context's).",
        show_default=False,
        callback=from_context("token"),
    ),
]
CaFile = Annotated[
    str | None,
    typer.Option(
        "--ca-file",
        envvar="SUANWANG_CA_FILE",
        help="PEM file to verify an https server with: its CA or its own certificate.",
        callback=from_context("ca_file"),
    ),
]
DEFAULT_URL = "http://127.0.0.1:8080"


EXIT_REJECTED = 3
"""Exit code of ``task submit`` when the scheduler rejected the task (stored as rejected)."""

UNKNOWN_INGRESS = re.compile(r"unknown ingress site '(?P<name>[^']*)'")
"""The scheduler's reason for an ingress site the topology lacks."""


@task_app.command("submit")
def submit(
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    task_type: Annotated[str | None, typer.Option("--type", help="Catalogue task type.")] = None,
    ingress: Annotated[str | None, typer.Option(help="Ingress site.")] = None,
    work_gflop: Annotated[float | None, typer.Option(min=0, help="Work, GFLOP.")] = None,
    cpu_cores: Annotated[float | None, typer.Option(min=0)] = None,
    mem_gib: Annotated[float | None, typer.Option(min=0)] = None,
    latency_budget_ms: Annotated[float | None, typer.Option(min=0)] = None,
    spec: Annotated[str | None, typer.Option(help="Whole spec as JSON (options override).")] = None,
    key: Annotated[str | None, typer.Option(help="Idempotency key: resubmits return it.")] = None,
    long_running: Annotated[
        bool,
        typer.Option(
            "--long-running", help="A service: moved make-before-break when its node drains."
        ),
    ] = False,
    artefact: Annotated[
        str | None, typer.Option(help="Digest of your code (`suanwang artefact push`).")
    ] = None,
    entry: Annotated[str | None, typer.Option(help="module:function in the artefact.")] = None,
    inputs: Annotated[
        list[str] | None, typer.Option("--input", help="Digest of an input object (repeat).")
    ] = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Submit a task; prints it as stored (state, node, reason). Exit 3 if it was rejected.

    With --artefact it runs your code with its --input objects staged: `task result` fetches
    what the code wrote, `task logs` what it printed.
    """
    from suanwang.cli.code import code_fields  # noqa: PLC0415 (code imports this module)

    try:
        body: dict[str, Any] = json.loads(spec) if spec else {}
    except json.JSONDecodeError as exc:
        raise fail(f"--spec is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise fail("--spec must be a JSON object")
    options = {
        "task_type": task_type,
        "ingress_site": ingress,
        "work_gflop": work_gflop,
        "cpu_cores": cpu_cores,
        "mem_gib": mem_gib,
        "latency_budget_ms": latency_budget_ms,
    }
    body.update({name: value for name, value in options.items() if value is not None})
    if long_running:
        body["long_running"] = True
    body.update(code_fields(artefact, entry, inputs or []))
    headers = {} if key is None else {"Idempotency-Key": key}
    response = request(url, token, "POST", "/v1/tasks", json=body, headers=headers, ca_file=ca_file)
    hint = ""
    if response.status_code == 422 and isinstance(body.get("task_type"), str):
        hint = did_you_mean(body["task_type"], _type_names(url, token, ca_file))
    task = answer(response, hint)
    emit(task, chosen(fmt, as_json), lambda t, wide: task_table([t], wide))
    if task["state"] == "rejected":
        reason = task["reason"]
        unknown = UNKNOWN_INGRESS.search(reason)
        if unknown is not None:
            sites = offset_pages(url, token, "/v1/sites", {}, ca_file=ca_file)
            reason += did_you_mean(unknown["name"], [site["id"] for site in sites])
        raise fail(f"rejected: {reason}", EXIT_REJECTED)


def _type_names(url: str, token: str, ca_file: str | None) -> list[str]:
    """The live scenario's catalogue task types (``/v1/catalogue/types``); none on a refusal."""
    catalogue = quiet_get(url, token, "/v1/catalogue/types", ca_file=ca_file)
    types = catalogue.get("types") if isinstance(catalogue, dict) else None
    return [str(t["name"]) for t in types or [] if isinstance(t, dict) and "name" in t]


@task_app.command("list")
def list_tasks(
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    state: Annotated[str | None, typer.Option(help="Only tasks in this state.")] = None,
    task_type: Annotated[str | None, typer.Option("--type", help="Only this type.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Tasks per page.")] = 100,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of a previous page.")] = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """List tasks (one page; the next cursor goes to stderr)."""
    params = {"state": state, "task_type": task_type, "limit": limit, "cursor": cursor}
    page = call(
        url,
        token,
        "GET",
        "/v1/tasks",
        params={k: v for k, v in params.items() if v is not None},
        ca_file=ca_file,
    )
    shown = chosen(fmt, as_json)
    emit(page, shown, lambda p, wide: task_table(p["items"], wide))
    if page["next_cursor"] and shown != "json":
        err_console.print(
            f"{len(page['items']):,} shown; more: --cursor {page['next_cursor']}", highlight=False
        )


TaskId = Annotated[str, typer.Argument(help="A task id, or a prefix that begins only it.")]


@task_app.command("get")
def get_task(
    task_id: TaskId,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """One task with its placement and history (times in ISO 8601, UTC)."""
    whole = resolve_task_id(url, token, task_id, ca_file=ca_file)
    task = call(url, token, "GET", f"/v1/tasks/{whole}", ca_file=ca_file)
    emit(task, chosen(fmt, as_json), history_table)


@task_app.command("cancel")
def cancel_task(
    task_id: TaskId,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Cancel a task that is not final yet."""
    whole = resolve_task_id(url, token, task_id, ca_file=ca_file)
    task = call(url, token, "POST", f"/v1/tasks/{whole}/cancel", ca_file=ca_file)
    emit(task, chosen(fmt, as_json), lambda t, wide: task_table([t], wide))


@task_app.command("explain")
def explain_task(
    task_id: TaskId,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    node: Annotated[str | None, typer.Option(help="Also say why not this node.")] = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Where the task would go now and why there, or why nowhere.

    Why here: the node's points per score plugin and the runners-up with their estimates. Why
    nowhere: rejections by plugin and shortfall, the closest nodes first. A placed task is
    explained as if placed anew: its own hold is left out.
    """
    from suanwang.cli.explain_tables import explanation_view  # noqa: PLC0415 (fast --help)

    whole = resolve_task_id(url, token, task_id, ca_file=ca_file)
    params = {} if node is None else {"node_id": node}
    found = call(url, token, "GET", f"/v1/tasks/{whole}/explain", params=params, ca_file=ca_file)
    emit(found, chosen(fmt, as_json), explanation_view)


@node_app.command("list")
def list_nodes(
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    site: Annotated[str | None, typer.Option(help="Only nodes of this site.")] = None,
    state: Annotated[str | None, typer.Option(help="up, draining or down.")] = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Every node of the live topology with its state (read page by page; the count on stderr)."""
    params = {k: v for k, v in {"site_id": site, "state": state}.items() if v is not None}
    nodes = offset_pages(url, token, "/v1/nodes", params, ca_file=ca_file)
    emit_list(nodes, chosen(fmt, as_json), node_table, "nodes")


Reason = Annotated[str, typer.Option(help="Why, for the audit log and the tasks' history.")]


def _change_node(
    url: str,
    token: str,
    path: str,
    body: dict[str, Any],
    fmt: Any,
    *,
    ca_file: str | None,
) -> None:
    change = call(url, token, "POST", path, json=body, ca_file=ca_file)
    emit(change, fmt, change_table)


@node_app.command("drain")
def drain_node(
    node_id: str,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    reason: Reason = "drained by an operator",
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Place nothing new on a node; move its long-running services off without a break."""
    path = f"/v1/nodes/{node_id}/drain"
    _change_node(url, token, path, {"reason": reason}, chosen(fmt, as_json), ca_file=ca_file)


@node_app.command("down")
def node_down(
    node_id: str,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    reason: Reason = "taken down by an operator",
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Take a node out of the pool; its tasks are placed again elsewhere."""
    path = f"/v1/nodes/{node_id}/down"
    _change_node(url, token, path, {"reason": reason}, chosen(fmt, as_json), ca_file=ca_file)


@node_app.command("up")
def node_up(
    node_id: str,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Return a node to the pool (this also ends a drain)."""
    path = f"/v1/nodes/{node_id}/up"
    _change_node(url, token, path, {}, chosen(fmt, as_json), ca_file=ca_file)
