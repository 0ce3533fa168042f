"""``suanwang token create | list | revoke``: bearer tokens, on the database directly.

These commands work without a server, so that the first admin token can be made before any
server runs. They open the database the server uses: ``--database`` or
``SUANWANG_DATABASE_URL``, else ``suanwang.db`` in ``SUANWANG_DATA_DIR`` (default
``.suanwang``). A SQLite file that does not exist is never created silently (a token in a new,
empty database is one the running server has never heard of): ``create`` refuses unless
``--create-database`` asks for a new one, ``list`` and ``revoke`` always refuse.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from suanwang.cli.common import console, fail, unavailable
from suanwang.cli.output import (
    AsJson,
    Kind,
    Output,
    chosen,
    iso_time,
    print_data,
    print_whole,
    whole_table,
)

if TYPE_CHECKING:
    from suanwang.control.stores import Stores, TokenInfo

token_app = typer.Typer(
    help="Bearer tokens (works on the database directly).", no_args_is_help=True
)

Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        envvar="SUANWANG_DATABASE_URL",
        help="Database URL; default: the server's (SUANWANG_DATA_DIR/suanwang.db).",
    ),
]

_CLI_WHO = "cli"
"""Who the audit log names for changes made with the command line on the database."""


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
    ttl_s: Annotated[
        float | None,
        typer.Option("--ttl", min=1.0, help="Seconds the token is valid (default: until revoked)."),
    ] = None,
    database: Database = None,
    create_database: Annotated[
        bool, typer.Option(help="Create the database when none exists at the resolved location.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Issue a token, creating the principal if it does not exist; the token is shown once."""
    from suanwang.control.stores import Principal, Role  # noqa: PLC0415 (fast --help)

    try:
        roles = frozenset(Role(name) for name in role)
        wanted = Principal(
            principal or sorted(roles)[0].value,
            tenant,
            roles,
            frozenset(node or []),
            agent_key_id,
        )
    except ValueError as exc:
        raise fail(f"{exc} (roles: {', '.join(Role)})") from None
    expires_at_s = None if ttl_s is None else time.time() + ttl_s
    with _stores(database, create=create_database) as stores:
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
        issued = stores.principals.create_token(wanted.id, expires_at_s)
        detail = wanted.id if expires_at_s is None else f"{wanted.id} until {_when(expires_at_s)}"
        stores.audit.append(
            _CLI_WHO, "token.create", f"token:{issued.token_id}", detail, time.time()
        )
    out = {
        "token_id": issued.token_id,
        "principal_id": wanted.id,
        "token": issued.plaintext,
        "expires_at_s": expires_at_s,
    }
    if as_json:
        console.print_json(json.dumps(out))
        return
    until = "" if expires_at_s is None else f", valid until {_when(expires_at_s)}"
    console.print(f"token id {issued.token_id} for {wanted.id}{until}", highlight=False)
    console.print(issued.plaintext, highlight=False, soft_wrap=True)


@token_app.command("list")
def list_tokens(
    principal: Annotated[str | None, typer.Option(help="Only this principal's tokens.")] = None,
    database: Database = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Tokens with their principal, issue and expiry times and state (never the secret)."""
    shown = chosen(fmt, as_json)
    with _stores(database, create=False) as stores:
        found = stores.principals.tokens(principal)
    now_s = time.time()
    if shown.is_data:
        rows = [
            {
                "token_id": t.token_id,
                "principal_id": t.principal_id,
                "created_at_s": t.created_at_s,
                "expires_at_s": t.expires_at_s,
                "revoked": t.revoked,
                "state": _state(t, now_s),
            }
            for t in found
        ]
        print_data(rows, shown)
        return
    columns: list[tuple[str, Kind]] = [("id", "id"), ("principal", "id")]
    columns += [("created", "number"), ("expires", "number"), ("state", "id")]
    cells = [
        [
            t.token_id,
            t.principal_id,
            _when(t.created_at_s),
            _when(t.expires_at_s) if t.expires_at_s is not None else "never",
            _state(t, now_s),
        ]
        for t in found
    ]
    print_whole(whole_table(columns, cells))


@token_app.command("revoke")
def revoke_token(token_id: str, database: Database = None) -> None:
    """Revoke a token for good (a running server stops accepting it within seconds)."""
    with _stores(database, create=False) as stores:
        if not stores.principals.revoke(token_id):
            raise fail(f"token {token_id!r} is unknown or already revoked")
        stores.audit.append(_CLI_WHO, "token.revoke", f"token:{token_id}", "", time.time())
    console.print(f"revoked {token_id}")


def _state(token: TokenInfo, now_s: float) -> str:
    if token.revoked:
        return "revoked"
    return "expired" if token.expired(now_s) else "live"


def _when(at_s: float | None) -> str:
    return iso_time(at_s)


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:`` URL; None for other databases and in-memory SQLite."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415 (database imports are slow)

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _stores(database: str | None, *, create: bool) -> Stores:
    """The stores at the resolved URL; one line and exit 1 when there is no database there."""
    from sqlalchemy.exc import ArgumentError  # noqa: PLC0415 (database imports are slow)

    from suanwang.bootstrap import Settings, open_stores  # noqa: PLC0415
    from suanwang.control.stores import StoreUnavailableError  # noqa: PLC0415

    url = database or Settings().resolved_database_url()
    try:
        path = sqlite_file(url)
    except ArgumentError as exc:
        raise fail(f"--database: {exc}") from None
    if path is not None and not path.exists() and not create:
        raise unavailable(
            f"no database at {path}: point SUANWANG_DATA_DIR (or --database) at the server's, "
            "or pass --create-database to start a new one"
        )
    try:
        return open_stores(url)
    except StoreUnavailableError as exc:
        raise unavailable(str(exc)) from None
