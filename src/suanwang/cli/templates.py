"""``suanwang template apply -f FILE [--dry-run] | list | show NAME | delete NAME``.

A template file composes components (a replica's task, a count or autoscale bounds, policies)
and the connections between them and to the users (``docs/examples/template-video.yaml``);
each component runs as a deployment named ``<template>/<component>``. ``apply`` checks the file
here first (one error line naming file, line, field and value; exit 2), then the server applies
exactly the difference from what runs now and answers it: components added, changed, removed
and unchanged (an unchanged template changes nothing); ``--dry-run`` only answers it.
``show`` prints each component's replicas ready (running) against desired, waiting and on
unhealthy nodes; ``delete`` removes every deployment of the template, cancelling its replicas.
Talks to a running server as ``suanwang task`` does; tables fit 80 columns, ``-o json|yaml``
(``--json``) prints the data.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from suanwang.cli.client import call
from suanwang.cli.common import fail
from suanwang.cli.crud import add_delete, add_list, add_show
from suanwang.cli.output import AsJson, Kind, Output, chosen, emit, whole_table
from suanwang.cli.tasks import DEFAULT_URL, CaFile, Token, Url

template_app = typer.Typer(
    help="Templates: services of several components opened, updated and deleted as one.",
    no_args_is_help=True,
)

TemplateFile = Annotated[
    str, typer.Option("-f", "--file", help="The template, YAML or JSON ('-': stdin).")
]
Name = Annotated[str, typer.Argument(help="The template's name.")]


def read_template_file(source: str) -> dict[str, Any]:
    """The template in ``source`` (a path, or ``-`` for stdin), checked, as the API takes it.

    Raises:
        typer.Exit: the file cannot be read or is not a valid template (exit 2, one line
            naming file, line, field and value).
    """
    from suanwang.scenario import ScenarioError  # noqa: PLC0415 (keeps `--help` fast)
    from suanwang.scenario.template import MAX_TEMPLATE_BYTES, read_template  # noqa: PLC0415

    try:
        if source == "-":
            text, name = sys.stdin.read(MAX_TEMPLATE_BYTES + 1), "<stdin>"
        else:
            with Path(source).open(encoding="utf-8") as file:
                text, name = file.read(MAX_TEMPLATE_BYTES + 1), source
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{source}: {exc}") from None
    if len(text) > MAX_TEMPLATE_BYTES:
        raise fail(f"{source}: larger than {MAX_TEMPLATE_BYTES:,} bytes")
    try:
        return read_template(text, name).data()
    except ScenarioError as exc:
        raise fail(str(exc)) from None


def templates_table(templates: list[dict[str, Any]], wide: bool = False) -> Table:
    """One row per template: name, revision, replicas ready and desired, unhealthy, components.

    ``wide`` adds the tenant.
    """
    columns: list[tuple[str, Kind]] = [("name", "id")]
    columns += [("tenant", "id")] if wide else []
    columns += [("revision", "number"), ("ready", "number"), ("desired", "number")]
    columns += [("unhealthy", "number"), ("components", "text")]
    rows = [
        [
            t["name"],
            *([t["tenant"]] if wide else []),
            str(t["revision"]),
            str(t["ready"]),
            str(t["desired"]),
            str(t["unhealthy"]),
            ", ".join(c["component"] for c in t["components"]),
        ]
        for t in templates
    ]
    return whole_table(columns, rows)


def template_view(template: dict[str, Any], wide: bool = False) -> Table:
    """One template: a row per component with its deployment's replicas."""
    columns: list[tuple[str, Kind]] = [("component", "id"), ("deployment", "id")]
    columns += [("ready", "number"), ("desired", "number"), ("waiting", "number")]
    columns += [("unhealthy", "number")]
    rows = [
        [
            c["component"],
            c["deployment"],
            *(str(c[key]) for key in ("ready", "desired", "waiting", "unhealthy")),
        ]
        for c in template["components"]
    ]
    title = (
        f"{template['name']} [{template['tenant']}] revision {template['revision']}: "
        f"{template['ready']} of {template['desired']} replica(s) ready, "
        f"{template['unhealthy']} unhealthy"
    )
    return whole_table(columns, rows, title=escape(title), title_justify="left")


def applied_view(applied: dict[str, Any], wide: bool = False) -> Group:
    """What ``apply`` did: the difference by component, then the instance (when there is one)."""
    diff = applied["diff"]
    columns: list[tuple[str, Kind]] = [("component", "id"), ("change", "id")]
    rows = [
        [name, change]
        for change in ("added", "changed", "removed", "unchanged")
        for name in diff[change]
    ]
    if applied["dry_run"]:
        verdict = "dry run: nothing applied"
    elif applied["applied"]:
        verdict = "applied"
    else:
        verdict = "unchanged: nothing applied"
    parts: list[Any] = [whole_table(columns, rows), Text(verdict)]
    if applied["template"] is not None:
        parts.append(template_view(applied["template"], wide))
    return Group(*parts)


@template_app.command("apply")
def apply_template(
    *,
    file: TemplateFile,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the difference; change nothing.")
    ] = False,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Apply a template: create, update or remove its components' deployments as it differs."""
    body = read_template_file(file)
    path = "/v1/templates?dry_run=true" if dry_run else "/v1/templates"
    done = call(url, token, "POST", path, json=body, ca_file=ca_file)
    emit(done, chosen(fmt, as_json), applied_view)


add_list(
    template_app,
    "/v1/templates",
    templates_table,
    "templates",
    "Your tenant's templates (every tenant's for an admin) with their replicas.",
)
add_show(
    template_app,
    "/v1/templates",
    Name,
    template_view,
    "One template: each component's replicas ready against desired, waiting, unhealthy.",
)
add_delete(
    template_app,
    "/v1/templates",
    Name,
    "Delete a template: every deployment of it, cancelling their replicas.",
)
