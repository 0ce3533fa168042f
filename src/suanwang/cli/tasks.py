"""``suanwang task | node | token``: the control plane from the command line.

``task`` and ``node`` talk to a running server over HTTP (``--url``/``SUANWANG_URL``,
``--token``/``SUANWANG_TOKEN``); ``token`` works on the database directly, so that the first
admin token can be made before any server runs. Tables by default, ``--json`` for scripts.
Errors are one line: exit 2 for a refused request (4xx), 1 for a server or connection error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import RenderableType
from rich.markup import escape
from rich.table import Table

from suanwang.cli.common import console, err_console, fail

if TYPE_CHECKING:
    import httpx

    from suanwang.storage import Stores

task_app = typer.Typer(
    help="Submit, list, inspect, cancel and explain tasks.", no_args_is_help=True
)
node_app = typer.Typer(help="Nodes of the live topology.", no_args_is_help=True)
token_app = typer.Typer(
    help="Bearer tokens (works on the database directly).", no_args_is_help=True
)

EXIT_SERVER = 1

Url = Annotated[str, typer.Option("--url", envvar="SUANWANG_URL", help="Server URL.")]
Token = Annotated[
    str, typer.Option("--token", envvar="SUANWANG_TOKEN", help="Bearer token.", show_default=False)
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DEFAULT_URL = "http://127.0.0.1:8080"


def _server_error(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_SERVER)


def _call(url: str, token: str, method: str, path: str, **kwargs: Any) -> Any:
    """One request; the decoded JSON answer, or one error line and an exit."""
    import httpx  # noqa: PLC0415 (keeps `suanwang --help` fast)

    if not token:
        raise fail("no token: pass --token or set SUANWANG_TOKEN (see `suanwang token create`)")
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    try:
        with httpx.Client(base_url=url, timeout=30.0) as client:
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
    task = _call(url, token, "POST", "/v1/tasks", json=body, headers=headers)
    _emit(task, as_json, lambda t: _task_table([t]))


@task_app.command("list")
def list_tasks(
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
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
    task_id: str, url: Url = DEFAULT_URL, token: Token = "", as_json: AsJson = False
) -> None:
    """One task with its placement and history."""
    task = _call(url, token, "GET", f"/v1/tasks/{task_id}")

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
    task_id: str, url: Url = DEFAULT_URL, token: Token = "", as_json: AsJson = False
) -> None:
    """Cancel a task that is not final yet."""
    task = _call(url, token, "POST", f"/v1/tasks/{task_id}/cancel")
    _emit(task, as_json, lambda t: _task_table([t]))


@task_app.command("explain")
def explain_task(
    task_id: str,
    url: Url = DEFAULT_URL,
    token: Token = "",
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
    found = _call(url, token, "GET", f"/v1/tasks/{task_id}/explain", params=params)
    _emit(found, as_json, explanation_view)


@node_app.command("list")
def list_nodes(
    url: Url = DEFAULT_URL,
    token: Token = "",
    site: Annotated[str | None, typer.Option(help="Only nodes of this site.")] = None,
    state: Annotated[str | None, typer.Option(help="up, draining or down.")] = None,
    as_json: AsJson = False,
) -> None:
    """Nodes of the live topology with their state."""
    params = {k: v for k, v in {"site_id": site, "state": state}.items() if v is not None}
    nodes = _call(url, token, "GET", "/v1/nodes", params=params)

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


def _change_node(url: str, token: str, path: str, body: dict[str, Any], as_json: bool) -> None:
    change = _call(url, token, "POST", path, json=body)

    def table(c: dict[str, Any]) -> Table:
        out = Table("node", "state", "tasks moved", box=box.SIMPLE_HEAD)
        out.add_row(c["id"], c["state"], str(c["replaced_tasks"]))
        return out

    _emit(change, as_json, table)


@node_app.command("drain")
def drain_node(
    node_id: str,
    url: Url = DEFAULT_URL,
    token: Token = "",
    reason: Reason = "drained by an operator",
    as_json: AsJson = False,
) -> None:
    """Place nothing new on a node; move its long-running services off without a break."""
    _change_node(url, token, f"/v1/nodes/{node_id}/drain", {"reason": reason}, as_json)


@node_app.command("down")
def node_down(
    node_id: str,
    url: Url = DEFAULT_URL,
    token: Token = "",
    reason: Reason = "taken down by an operator",
    as_json: AsJson = False,
) -> None:
    """Take a node out of the pool; its tasks are placed again elsewhere."""
    _change_node(url, token, f"/v1/nodes/{node_id}/down", {"reason": reason}, as_json)


@node_app.command("up")
def node_up(
    node_id: str, url: Url = DEFAULT_URL, token: Token = "", as_json: AsJson = False
) -> None:
    """Return a node to the pool (this also ends a drain)."""
    _change_node(url, token, f"/v1/nodes/{node_id}/up", {}, as_json)


Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        envvar="SUANWANG_DATABASE_URL",
        help="Database URL; default: the server's (SUANWANG_DATA_DIR/suanwang.db).",
    ),
]


@token_app.command("create")
def create_token(
    *,
    role: Annotated[
        list[str],
        typer.Option(help="Role (repeat for more): admin, operator, provider, consumer, agent."),
    ],
    principal: Annotated[str | None, typer.Option(help="Principal id (default: the role).")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant of a new principal.")] = "operator",
    node: Annotated[list[str] | None, typer.Option(help="Node it speaks for (repeat).")] = None,
    agent_key_id: Annotated[str | None, typer.Option(help="An agent's signing key id.")] = None,
    database: Database = None,
    as_json: AsJson = False,
) -> None:
    """Issue a token, creating the principal if it does not exist; the token is shown once."""
    issued = _issue(
        database,
        principal_id=principal,
        tenant=tenant,
        role_names=role,
        node_ids=node or [],
        agent_key_id=agent_key_id,
    )
    if as_json:
        console.print_json(json.dumps(issued))
    else:
        console.print(f"token id {issued['token_id']} for {issued['principal_id']}")
        console.print(issued["token"], highlight=False, soft_wrap=True)


@token_app.command("revoke")
def revoke_token(token_id: str, database: Database = None) -> None:
    """Revoke a token for good (a running server stops accepting it within seconds)."""
    with _stores(database) as stores:
        if not stores.principals.revoke(token_id):
            raise fail(f"token {token_id!r} is unknown or already revoked")
        stores.audit.append(_CLI_WHO, "token.revoke", f"token:{token_id}", "", time.time())
    console.print(f"revoked {token_id}")


_CLI_WHO = "cli"
"""Who the audit log names for changes made with the command line on the database."""


def _stores(database: str | None) -> Stores:
    from suanwang.bootstrap import Settings  # noqa: PLC0415 (database imports are slow)
    from suanwang.control.stores import StoreUnavailableError  # noqa: PLC0415
    from suanwang.storage import open_store  # noqa: PLC0415

    try:
        return open_store(database or Settings().resolved_database_url())
    except StoreUnavailableError as exc:
        raise _server_error(str(exc)) from None


def _issue(
    database: str | None,
    *,
    principal_id: str | None,
    tenant: str,
    role_names: list[str],
    node_ids: list[str],
    agent_key_id: str | None,
) -> dict[str, str]:
    from suanwang.control.stores import Principal, Role  # noqa: PLC0415

    try:
        roles = frozenset(Role(name) for name in role_names)
        wanted = Principal(
            principal_id or sorted(roles)[0].value,
            tenant,
            roles,
            frozenset(node_ids),
            agent_key_id,
        )
    except ValueError as exc:
        raise fail(f"{exc} (roles: {', '.join(Role)})") from None
    with _stores(database) as stores:
        existing = stores.principals.get_principal(wanted.id)
        if existing is None:
            stores.principals.add_principal(wanted)
            stores.audit.append(
                _CLI_WHO, "principal.create", f"principal:{wanted.id}", "", time.time()
            )
        elif (existing.tenant, existing.roles) != (wanted.tenant, wanted.roles):
            raise fail(
                f"principal {wanted.id} exists with tenant {existing.tenant} and roles "
                f"{', '.join(sorted(existing.roles))}; name another principal"
            )
        issued = stores.principals.create_token(wanted.id)
        stores.audit.append(
            _CLI_WHO, "token.create", f"token:{issued.token_id}", wanted.id, time.time()
        )
    return {"token_id": issued.token_id, "principal_id": wanted.id, "token": issued.plaintext}
