"""What every command shares: the consoles and the one way bad input ends a command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console()
"""Standard output: tables, results."""

err_console = Console(stderr=True)
"""Standard error: progress and errors."""

EXIT_BAD_INPUT = 2
"""Exit code for bad input (a bad file, an unknown name, an invalid option value)."""

EXIT_UNAVAILABLE = 1
"""Exit code when what a command needs is not there or not reachable (a taken port, a server)."""


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print ``error: MESSAGE`` as one line on stderr; return the Exit to raise (code 2)."""
    err_console.print(
        f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True
    )
    return typer.Exit(code)


def unavailable(message: str) -> typer.Exit:
    """``fail`` with exit code 1: the input was fine, what it needs is not there."""
    return fail(message, EXIT_UNAVAILABLE)


@contextmanager
def bad_input_exits(*errors: type[Exception]) -> Iterator[None]:
    """Turn the given exception types into one error line and exit code 2 (never a traceback)."""
    try:
        yield
    except errors as error:
        raise fail(str(error)) from None


def progress_bar() -> Progress:
    """The progress bar of long commands: on stderr, so stdout stays clean for --json."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
