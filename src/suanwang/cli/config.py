"""``suanwang config``: the contexts of the config file (see ``suanwang.cli.contexts``).

``get-contexts`` lists them (never a token itself), ``current-context`` names the one in use,
``use-context NAME`` switches, ``set-context NAME`` creates or changes one field by field.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from suanwang.cli.common import bad_input_exits, console, fail
from suanwang.cli.contexts import (
    CliConfig,
    ConfigError,
    Context,
    config_path,
    load_config,
    save_config,
    updated,
)
from suanwang.cli.output import AsJson, Kind, Output, chosen, emit, whole_table

config_app = typer.Typer(
    help="Contexts of the config file: which server, token and CA a command uses.",
    no_args_is_help=True,
)

ContextName = Annotated[str, typer.Argument(help="The context's name.")]


def _load() -> CliConfig:
    with bad_input_exits(ConfigError):
        return load_config(config_path())


def _rows(config: CliConfig) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "current": name == config.current_context,
            "server": context.server,
            "token": "file" if context.token_file else "inline" if context.token else None,
            "token_file": context.token_file,
            "ca_file": context.ca_file,
        }
        for name, context in config.contexts.items()
    ]


def _table(rows: list[dict[str, Any]], wide: bool = False) -> Any:
    columns: list[tuple[str, Kind]] = [("", "id"), ("name", "id"), ("server", "id")]
    columns += [("token", "id"), ("ca file", "text")]
    cells = [
        [
            "*" if row["current"] else "",
            row["name"],
            row["server"] or "-",
            row["token_file"] or row["token"] or "-",
            row["ca_file"] or "-",
        ]
        for row in rows
    ]
    return whole_table(columns, cells)


@config_app.command("get-contexts")
def get_contexts(fmt: Output = None, as_json: AsJson = False) -> None:
    """The contexts, the current one starred; a token shows as its file or ``inline``."""
    config = _load()
    emit(_rows(config), chosen(fmt, as_json), _table)


@config_app.command("current-context")
def current_context() -> None:
    """The name of the context in use (exit 2 when none is set)."""
    config = _load()
    if config.current_context is None:
        raise fail(f"config {config_path()}: no current-context (see `suanwang config --help`)")
    console.print(config.current_context, highlight=False, markup=False)


@config_app.command("use-context")
def use_context(name: ContextName) -> None:
    """Make ``NAME`` the context commands use."""
    path = config_path()
    config = _load()
    if name not in config.contexts:
        known = ", ".join(sorted(config.contexts)) or "none"
        raise fail(f"config {path}: no context named {name!r} (contexts: {known})")
    with bad_input_exits(OSError):
        save_config(CliConfig(config.contexts, name), path)
    console.print(f"switched to context {name!r}", highlight=False, markup=False)


@config_app.command("set-context")
def set_context(
    name: ContextName,
    *,
    server: Annotated[str | None, typer.Option(help="The server's URL.")] = None,
    token_file: Annotated[
        str | None, typer.Option(help="A file holding the bearer token (read at each call).")
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="The bearer token itself (stored in the file, 0600).")
    ] = None,
    ca_file: Annotated[
        str | None, typer.Option(help="PEM file to verify an https server with.")
    ] = None,
) -> None:
    """Create context ``NAME`` or change the fields given; the first one made becomes current."""
    if token is not None and token_file is not None:
        raise fail("give --token or --token-file, not both")
    if server is not None and not server.startswith(("http://", "https://")):
        raise fail(f"--server: an http:// or https:// URL, got {server!r}")
    path = config_path()
    config = _load()
    before = config.contexts.get(name, Context())
    after = updated(before, server=server, token=token, token_file=token_file, ca_file=ca_file)
    contexts = {**config.contexts, name: after}
    current = config.current_context or name
    with bad_input_exits(OSError):
        save_config(CliConfig(contexts, current), path)
    verb = "changed" if name in config.contexts else "created"
    note = " (current)" if current == name else ""
    console.print(f"context {name!r} {verb} in {path}{note}", highlight=False, markup=False)
