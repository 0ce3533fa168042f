"""``suanwang node register | retire``, ``site register``, ``link register``: runtime registration.

Each ``register`` reads one record from a YAML or JSON file (``-f``, ``-`` for stdin) written
as in a scenario file (``suanwang scenario schema``) and posts it to the running server; a
record that does not fit the live topology is refused with the field and value named (exit 2).
``node register --enrol-ttl S`` also prints a one-time enrolment token for the node's agent.
``node retire`` drains the node (services move without a break), then it stays down.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from suanwang.cli.client import call
from suanwang.cli.common import fail
from suanwang.cli.output import AsJson, Kind, Output, chosen, emit, iso_time, whole_table
from suanwang.cli.resources import link_app, site_app
from suanwang.cli.tasks import DEFAULT_URL, CaFile, Token, Url, node_app

MAX_RECORD_BYTES = 1 << 20
"""Largest record file read (the server's default body limit)."""

RecordFile = Annotated[
    str, typer.Option("-f", "--file", help="YAML or JSON file with one record ('-': stdin).")
]


def read_record(source: str) -> dict[str, Any]:
    """The one record (a mapping) in a YAML or JSON file, or on stdin for ``-``.

    Raises:
        typer.Exit: the file cannot be read, is too large, or holds no single mapping.
    """
    try:
        if source == "-":
            text = sys.stdin.read(MAX_RECORD_BYTES + 1)
        else:
            with Path(source).open(encoding="utf-8") as file:
                text = file.read(MAX_RECORD_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{source}: {exc}") from None
    if len(text) > MAX_RECORD_BYTES:
        raise fail(f"{source}: larger than {MAX_RECORD_BYTES:,} bytes")
    import yaml  # noqa: PLC0415 (keeps `suanwang --help` fast)

    try:
        data = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as exc:
        raise fail(f"{source}: not YAML or JSON: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise fail(f"{source}: expected one record (a mapping of field names to values)")
    return data


def change_table(change: dict[str, Any], wide: bool = False) -> Table:
    """A stored topology change: version, kind, id, who and when (``wide``: the record too)."""
    columns: list[tuple[str, Kind]] = [("version", "number"), ("kind", "id"), ("id", "id")]
    columns += [("who", "id"), ("at", "number")]
    row = [
        str(change["version"]),
        change["kind"],
        change["id"],
        change["who"],
        iso_time(change["at_s"]),
    ]
    if wide:
        columns.append(("record", "text"))
        row.append(", ".join(f"{k}={v}" for k, v in change["body"].items() if k != "id"))
    if change.get("enrol_token"):
        columns += [("enrol token", "id"), ("token expires", "number")]
        row += [change["enrol_token"], iso_time(change.get("enrol_token_expires_at_s"))]
    return whole_table(columns, [row])


def retire_table(retired: dict[str, Any], wide: bool = False) -> Table:
    """A retirement: the node, its state and how many services began to move."""
    columns: list[tuple[str, Kind]] = [("id", "id"), ("state", "id"), ("moving", "number")]
    return whole_table(columns, [[retired["id"], retired["state"], str(retired["moving"])]])


def _register(
    path: str,
    source: str,
    *,
    url: str,
    token: str,
    ca_file: str | None,
    fmt: Any,
    params: dict[str, Any] | None = None,
) -> None:
    body = read_record(source)
    made = call(url, token, "POST", path, json=body, params=params, ca_file=ca_file)
    emit(made, fmt, change_table)


def register_node(
    *,
    file: RecordFile,
    enrol_ttl: Annotated[
        float | None,
        typer.Option("--enrol-ttl", help="Also issue a one-time enrolment token valid S seconds."),
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Add a node at a known site to the live topology (one record, as in a scenario file)."""
    params = None if enrol_ttl is None else {"enrol_ttl_s": enrol_ttl}
    fmt_ = chosen(fmt, as_json)
    _register("/v1/nodes", file, url=url, token=token, ca_file=ca_file, fmt=fmt_, params=params)


def retire_node(
    node_id: str,
    *,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "retired",
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Retire a node: it drains (services move without a break), then stays down for good."""
    path = f"/v1/nodes/{node_id}/retire"
    retired = call(url, token, "POST", path, json={"reason": reason}, ca_file=ca_file)
    emit(retired, chosen(fmt, as_json), retire_table)


def register_site(
    *,
    file: RecordFile,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Add a site to the live topology (one record, as in a scenario file)."""
    _register("/v1/sites", file, url=url, token=token, ca_file=ca_file, fmt=chosen(fmt, as_json))


def register_link(
    *,
    file: RecordFile,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Add a link between known sites or network elements (one record, as in a scenario file)."""
    _register("/v1/links", file, url=url, token=token, ca_file=ca_file, fmt=chosen(fmt, as_json))


def add_registration_commands() -> None:
    """Put ``register`` (and ``node retire``) on the ``node``, ``site`` and ``link`` commands."""
    node_app.command("register")(register_node)
    node_app.command("retire")(retire_node)
    site_app.command("register")(register_site)
    link_app.command("register")(register_link)
