"""The read and delete commands every named API resource has: ``list``, ``show NAME``, ``delete``.

Deployments, templates and services are each a collection under ``/v1/<resource>`` whose items
are read by name; their commands differ only in the path, the tables and the help text, so they
are made here once. A resource's own commands (apply, create, register) stay in its module.

This module does not use postponed annotations: typer reads the parameters' annotations at
registration, and the argument type is a value passed in, not a name it could look up.
"""

from collections.abc import Callable
from typing import Any

import typer
from rich.console import RenderableType

from suanwang.cli.client import call
from suanwang.cli.output import AsJson, Kind, Output, chosen, emit, emit_list, whole_table
from suanwang.cli.tasks import DEFAULT_URL, CaFile, Token, Url

View = Callable[[Any, bool], RenderableType]


def add_list(app: typer.Typer, path: str, table: View, key: str, help_text: str) -> None:
    """``list``: GET ``path`` (a page under ``key``) printed with ``table`` or as data."""

    def list_items(
        *,
        url: Url = DEFAULT_URL,
        token: Token = "",
        ca_file: CaFile = None,
        fmt: Output = None,
        as_json: AsJson = False,
    ) -> None:
        found = call(url, token, "GET", path, ca_file=ca_file)
        emit_list(found, chosen(fmt, as_json), table, key)

    app.command("list", help=help_text)(list_items)


def add_show(app: typer.Typer, path: str, name_type: Any, view: View, help_text: str) -> None:
    """``show NAME``: GET ``path/NAME`` printed with ``view``.

    ``name_type`` is the argument's ``Annotated[str, typer.Argument(...)]``, with its help.
    """

    def show_item(
        name: name_type,
        *,
        url: Url = DEFAULT_URL,
        token: Token = "",
        ca_file: CaFile = None,
        fmt: Output = None,
        as_json: AsJson = False,
    ) -> None:
        found = call(url, token, "GET", f"{path}/{name}", ca_file=ca_file)
        emit(found, chosen(fmt, as_json), view)

    app.command("show", help=help_text)(show_item)


def add_delete(app: typer.Typer, path: str, name_type: Any, help_text: str) -> None:
    """``delete NAME``: DELETE ``path/NAME``, whose answer counts the replicas it cancelled."""
    columns: list[tuple[str, Kind]] = [("deleted", "id"), ("replicas cancelled", "number")]

    def delete_item(
        name: name_type,
        *,
        url: Url = DEFAULT_URL,
        token: Token = "",
        ca_file: CaFile = None,
        fmt: Output = None,
        as_json: AsJson = False,
    ) -> None:
        gone = call(url, token, "DELETE", f"{path}/{name}", ca_file=ca_file)
        emit(
            {"name": name, **gone},
            chosen(fmt, as_json),
            lambda doc, _: whole_table(columns, [[doc["name"], str(doc["cancelled"])]]),
        )

    app.command("delete", help=help_text)(delete_item)
