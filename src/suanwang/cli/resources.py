"""``suanwang site | link | audit | principal`` and ``scenario load``: more of the live plane.

Like ``task`` and ``node`` these talk to a running server over HTTP (``--url``, ``--token``,
``--ca-file``), print tables that never cut an id or a number (``-o wide`` for every column,
``-o json`` or ``--json`` for scripts) and exit 2 on a refused request, 1 on a server error.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from suanwang.cli.client import call, offset_pages
from suanwang.cli.common import err_console, fail
from suanwang.cli.output import AsJson, Output, chosen, emit, emit_list
from suanwang.cli.resource_tables import (
    audit_table,
    link_table,
    load_table,
    principal_table,
    site_table,
)
from suanwang.cli.tasks import DEFAULT_URL, CaFile, Token, Url

site_app = typer.Typer(help="Sites of the live topology.", no_args_is_help=True)
link_app = typer.Typer(help="Links of the live topology.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log of changes (admin).", no_args_is_help=True)
principal_app = typer.Typer(
    help="Principals: the people and programs tokens belong to (admin).", no_args_is_help=True
)

AUDIT_PAGE = 1000
"""Audit entries asked for per call (the server's largest page)."""

MAX_AUDIT_PAGES = 1000
"""Most pages ``audit list`` reads before it stops with a warning."""

_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@site_app.command("list")
def list_sites(
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    tier: Annotated[str | None, typer.Option(help="Only sites of this tier.")] = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Every site with its tier, region and node count (read page by page)."""
    params = {} if tier is None else {"tier": tier}
    sites = offset_pages(url, token, "/v1/sites", params, ca_file=ca_file)
    emit_list(sites, chosen(fmt, as_json), site_table, "sites")


@link_app.command("list")
def list_links(
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    state: Annotated[str | None, typer.Option(help="up or down.")] = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Every link with its ends, state, bandwidth and latency (read page by page)."""
    params = {} if state is None else {"state": state}
    links = offset_pages(url, token, "/v1/links", params, ca_file=ca_file)
    emit_list(links, chosen(fmt, as_json), link_table, "links")


def since_seconds(text: str, now_s: float) -> float:
    """``--since``: a duration back from now (``90s``, ``15m``, ``2h``, ``7d``) or an ISO time."""
    text = text.strip()
    unit = _UNITS_S.get(text[-1:].lower())
    if unit is not None:
        try:
            return max(now_s - float(text[:-1]) * unit, 0.0)
        except ValueError:
            pass
    from datetime import UTC, datetime  # noqa: PLC0415

    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(
            f"--since: a duration such as 15m, 2h, 7d or an ISO time, got {text!r}"
        ) from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


@audit_app.command("list")
def list_audit(
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only entries since: a duration back (15m, 2h, 7d) or an ISO time."),
    ] = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Audit entries, oldest first (every page)."""
    params: dict[str, Any] = {"limit": AUDIT_PAGE}
    if since is not None:
        params["since_s"] = since_seconds(since, time.time())
    entries: list[dict[str, Any]] = []
    for _ in range(MAX_AUDIT_PAGES):
        page = call(url, token, "GET", "/v1/audit", params=params, ca_file=ca_file)
        entries.extend(page)
        if len(page) < AUDIT_PAGE:
            break
        params["after_seq"] = page[-1]["seq"]
    else:
        err_console.print(f"warning: stopped after {len(entries):,} entries", highlight=False)
    emit_list(entries, chosen(fmt, as_json), audit_table, "entries")


@principal_app.command("list")
def list_principals(
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    tenant: Annotated[str | None, typer.Option(help="Only principals of this tenant.")] = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Principals with their tenant and roles (``-o wide``: the nodes of agents too)."""
    params = {} if tenant is None else {"tenant": tenant}
    principals = call(url, token, "GET", "/v1/principals", params=params, ca_file=ca_file)
    emit(principals, chosen(fmt, as_json), principal_table)


@principal_app.command("create")
def create_principal(
    principal_id: Annotated[str, typer.Argument(help="The new principal's id.")],
    *,
    tenant: Annotated[str, typer.Option(help="Its tenant.")],
    role: Annotated[
        list[str], typer.Option("--role", help="A role (repeat for more): admin, operator, ...")
    ],
    node: Annotated[
        list[str] | None, typer.Option("--node", help="A node an agent principal may speak for.")
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Create a principal; make it a token with ``token create`` (on the server's database)."""
    body = {"id": principal_id, "tenant": tenant, "roles": role, "node_ids": node or []}
    made = call(url, token, "POST", "/v1/principals", json=body, ca_file=ca_file)
    emit([made], chosen(fmt, as_json), principal_table)


def load_scenario(
    scenario: Annotated[str, typer.Argument(help="A built-in name or a scenario file.")],
    *,
    cancel_active: Annotated[
        bool, typer.Option("--cancel-active", help="Cancel the tasks active on the old topology.")
    ] = False,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Make a scenario the live topology of a running server (a file is uploaded)."""
    path = Path(scenario)
    body: dict[str, Any] = {"cancel_active": cancel_active}
    if path.is_file():
        try:
            body["text"] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"{path}: {exc}") from None
        body["format"] = "json" if path.suffix.lower() == ".json" else "yaml"
    else:
        body["builtin"] = scenario
    loaded = call(url, token, "POST", "/v1/scenarios/live", json=body, ca_file=ca_file)
    emit(loaded, chosen(fmt, as_json), load_table)
