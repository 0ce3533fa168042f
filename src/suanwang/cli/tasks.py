"""``suanwang task | node``: the control plane from the command line.

``task`` and ``node`` talk to a running server over HTTP (``--url``/``SUANWANG_URL``,
``--token``/``SUANWANG_TOKEN``); an ``https://`` server is verified against the system's
certificate authorities or ``--ca-file``/``SUANWANG_CA_FILE`` (a private CA or the server's
pinned certificate). ``token`` is in ``suanwang.cli.tokens``. Tables by default, ``--json`` for
scripts. Errors are one line: exit 2 for a refused request (4xx), 1 for a server or connection
error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import RenderableType
from rich.markup import escape
from rich.table import Table

from suanwang.cli.common import AsJson, console, err_console, fail

if TYPE_CHECKING:
    import httpx

task_app = typer.Typer(
    help="Submit, list, inspect, cancel and explain tasks.", no_args_is_help=True
)
node_app = typer.Typer(help="Nodes of the live topology.", no_args_is_help=True)

EXIT_SERVER = 1

Url = Annotated[str, typer.Option("--url", envvar="SUANWANG_URL", help="Server URL.")]
Token = Annotated[
    str, typer.Option("--token", envvar="SUANWANG_TOKEN", help="Bearer token.", show_default=False)
]
CaFile = Annotated[
    str | None,
    typer.Option(
        "--ca-file",
        envvar="SUANWANG_CA_FILE",
        help="PEM file to verify an https server with: its CA or its own certificate.",
    ),
]
DEFAULT_URL = "http://127.0.0.1:8080"


def _server_error(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_SERVER)


def _call(url: str, token: str, method: str, path: str, **kwargs: Any) -> Any:
    """One request; the decoded JSON answer, or one error line and an exit.

    ``ca_file`` (a keyword) names the PEM file an https server is verified with.
    """
    import httpx  # noqa: PLC0415 (keeps `suanwang --help` fast)

    from suanwang.security.tls import TrustError, client_context  # noqa: PLC0415

    if not token:
        raise fail("no token: pass --token or set SUANWANG_TOKEN (see `suanwang token create`)")
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    try:
        verify = client_context(kwargs.pop("ca_file", None))
    except TrustError as exc:
        raise fail(f"--ca-file: {exc}") from None
    try:
        with httpx.Client(base_url=url, timeout=30.0, verify=verify) as client:
            response = client.request(method, path, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        raise _server_error(f"cannot reach {url}: {exc}") from None
    if response.is_success:
        return response.json() if response.content else None
    raise _problem(response)


def _problem(response: httpx.Response) -> typer.Exit:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text.strip() or response.reason_phrase
    message = f"{response.status_code} {response.reason_phrase}: {detail}"
    return fail(message) if response.status_code < 500 else _server_error(message)


def _emit(data: Any, as_json: bool, table: Callable[[Any], RenderableType]) -> None:
    if as_json:
        console.print_json(json.dumps(data))
    else:
        console.print(table(data))


def _task_table(tasks: list[dict[str, Any]]) -> Table:
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("id", "tenant", "state", "type", "node", "reason"):
        table.add_column(column)
    for t in tasks:
        node = (t.get("placement") or {}).get("node_id", "")
        table.add_row(
            t["id"], t["tenant"], t["state"], t["spec"]["task_type"] or "", node, t["reason"]
        )
    return table


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
    as_json: AsJson = False,
) -> None:
    """Submit a task; prints it as stored (state, node, reason)."""
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
    headers = {} if key is None else {"Idempotency-Key": key}
    task = _call(url, token, "POST", "/v1/tasks", json=body, headers=headers, ca_file=ca_file)
    _emit(task, as_json, lambda t: _task_table([t]))


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
    as_json: AsJson = False,
) -> None:
    """List tasks, oldest first (one page; the next cursor goes to stderr)."""
    params = {"state": state, "task_type": task_type, "limit": limit, "cursor": cursor}
    page = _call(
        url, token, "GET", "/v1/tasks", params={k: v for k, v in params.items() if v is not None}
    )
    _emit(page, as_json, lambda p: _task_table(p["items"]))
    if page["next_cursor"] and not as_json:
        err_console.print(f"more: --cursor {page['next_cursor']}", highlight=False)


@task_app.command("get")
def get_task(
    task_id: str,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    as_json: AsJson = False,
) -> None:
    """One task with its placement and history."""
    task = _call(url, token, "GET", f"/v1/tasks/{task_id}", ca_file=ca_file)

    def table(t: dict[str, Any]) -> Table:
        out = Table("at_s", "from", "to", "reason", box=box.SIMPLE_HEAD, title=_task_line(t))
        for step in t["history"]:
            out.add_row(
                f"{step['at_s']:.3f}", step["from_state"] or "", step["to_state"], step["reason"]
            )
        return out

    _emit(task, as_json, table)


def _task_line(t: dict[str, Any]) -> str:
    node = (t.get("placement") or {}).get("node_id", "-")
    return f"{t['id']} [{t['tenant']}] {t['state']} on {node}"


@task_app.command("cancel")
def cancel_task(
    task_id: str,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    as_json: AsJson = False,
) -> None:
    """Cancel a task that is not final yet."""
    task = _call(url, token, "POST", f"/v1/tasks/{task_id}/cancel", ca_file=ca_file)
    _emit(task, as_json, lambda t: _task_table([t]))


@task_app.command("explain")
def explain_task(
    task_id: str,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    node: Annotated[str | None, typer.Option(help="Also say why not this node.")] = None,
    as_json: AsJson = False,
) -> None:
    """Where the task would go now and why there, or why nowhere.

    Why here: the node's points per score plugin and the runners-up with their estimates. Why
    nowhere: rejections by plugin and shortfall, the closest nodes first. A placed task is
    explained as if placed anew: its own hold is left out.
    """
    from suanwang.cli.explain_tables import explanation_view  # noqa: PLC0415 (fast --help)

    params = {} if node is None else {"node_id": node}
    found = _call(url, token, "GET", f"/v1/tasks/{task_id}/explain", params=params, ca_file=ca_file)
    _emit(found, as_json, explanation_view)


@node_app.command("list")
def list_nodes(
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    site: Annotated[str | None, typer.Option(help="Only nodes of this site.")] = None,
    state: Annotated[str | None, typer.Option(help="up, draining or down.")] = None,
    as_json: AsJson = False,
) -> None:
    """Nodes of the live topology with their state."""
    params = {k: v for k, v in {"site_id": site, "state": state}.items() if v is not None}
    nodes = _call(url, token, "GET", "/v1/nodes", params=params, ca_file=ca_file)

    def table(rows: list[dict[str, Any]]) -> Table:
        out = Table("id", "site", "state", "cores", "mem GiB", "accelerators", box=box.SIMPLE_HEAD)
        for n in rows:
            devices = ", ".join(f"{a['count']}x {a['model']}" for a in n["accelerators"])
            out.add_row(
                n["id"], n["site_id"], n["state"], str(n["cpu_cores"]), f"{n['mem_gib']:g}", devices
            )
        return out

    _emit(nodes, as_json, table)


Reason = Annotated[str, typer.Option(help="Why, for the audit log and the tasks' history.")]


def _change_node(
    url: str, token: str, path: str, body: dict[str, Any], as_json: bool, *, ca_file: str | None
) -> None:
    change = _call(url, token, "POST", path, json=body, ca_file=ca_file)

    def table(c: dict[str, Any]) -> Table:
        out = Table("node", "state", "tasks moved", box=box.SIMPLE_HEAD)
        out.add_row(c["id"], c["state"], str(c["replaced_tasks"]))
        return out

    _emit(change, as_json, table)


@node_app.command("drain")
def drain_node(
    node_id: str,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    reason: Reason = "drained by an operator",
    as_json: AsJson = False,
) -> None:
    """Place nothing new on a node; move its long-running services off without a break."""
    _change_node(
        url, token, f"/v1/nodes/{node_id}/drain", {"reason": reason}, as_json, ca_file=ca_file
    )


@node_app.command("down")
def node_down(
    node_id: str,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    reason: Reason = "taken down by an operator",
    as_json: AsJson = False,
) -> None:
    """Take a node out of the pool; its tasks are placed again elsewhere."""
    _change_node(
        url, token, f"/v1/nodes/{node_id}/down", {"reason": reason}, as_json, ca_file=ca_file
    )


@node_app.command("up")
def node_up(
    node_id: str,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    as_json: AsJson = False,
) -> None:
    """Return a node to the pool (this also ends a drain)."""
    _change_node(url, token, f"/v1/nodes/{node_id}/up", {}, as_json, ca_file=ca_file)
