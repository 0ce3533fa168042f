"""How the table commands print: ``-o table|wide|json|yaml`` and tables that never cut a value.

A table at 80 columns (the width of any pipe) used to end ids and numbers in an ellipsis. Here a
column is one of three kinds: an *id* or a *number* is kept whole (no wrap, at least as wide as
its widest cell), and *text* wraps and folds instead of being cut. A table whose whole columns
would not fit keeps its less important columns for ``-o wide``. A listing whose columns add up
(cores, memory, nodes) ends in a totals row, kept whole like the rows above it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.table import Table

from suanwang.cli.common import console, err_console

Kind = Literal["id", "number", "text"]
"""What a column holds: ids and numbers are never cut; text wraps."""


TEXT_MIN_CHARS = 16
"""Narrowest a text column gets: whole columns may widen the table, never squeeze it to 3."""


class OutputFormat(StrEnum):
    """Formats of ``-o``/``--format``."""

    TABLE = "table"
    WIDE = "wide"
    JSON = "json"
    YAML = "yaml"

    @property
    def is_data(self) -> bool:
        """JSON or YAML: the data itself for scripts, not a table for people."""
        return self in {OutputFormat.JSON, OutputFormat.YAML}


Output = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        "-o",
        help="table (fits 80 columns), wide (every column), json or yaml.",
        show_default=False,
        case_sensitive=False,
    ),
]
"""The ``-o``/``--format`` option of table commands."""

AsJson = Annotated[bool, typer.Option("--json", help="Same as -o json.")]
"""``--json``: kept as an alias of ``-o json`` for scripts written before ``-o``."""


def chosen(fmt: OutputFormat | None, as_json: bool) -> OutputFormat:
    """The format asked for: ``--json`` wins over the default, an explicit ``-o`` over both."""
    if fmt is not None:
        return fmt
    return OutputFormat.JSON if as_json else OutputFormat.TABLE


def print_data(data: Any, fmt: OutputFormat) -> None:
    """Print plain data (what ``json.dumps`` takes) as indented JSON, or as YAML for ``yaml``.

    YAML holds the same values as the JSON: the data goes through JSON first, so a string enum
    is its string and a tuple a list; text of several lines is a literal block.
    """
    if fmt is OutputFormat.YAML:
        import yaml  # noqa: PLC0415 (keeps `suanwang --help` fast)

        class Dumper(yaml.SafeDumper):
            def represent_str(self, text: str) -> yaml.ScalarNode:
                style = "|" if "\n" in text else None
                return self.represent_scalar("tag:yaml.org,2002:str", text, style=style)

        Dumper.add_representer(str, Dumper.represent_str)
        plain = json.loads(json.dumps(data))
        text = yaml.dump(plain, Dumper=Dumper, sort_keys=False, allow_unicode=True).rstrip("\n")
    else:
        text = json.dumps(data, indent=2, ensure_ascii=False)
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def emit(data: Any, fmt: OutputFormat, table: Callable[[Any, bool], RenderableType]) -> None:
    """Print ``data`` as JSON or YAML, or the renderable ``table(data, wide)`` makes of it."""
    if fmt.is_data:
        print_data(data, fmt)
    else:
        print_whole(table(data, fmt is OutputFormat.WIDE))


def emit_list(
    rows: list[Any], fmt: OutputFormat, table: Callable[[Any, bool], RenderableType], noun: str
) -> None:
    """``emit`` a whole listing; a table is followed by its count on stderr ("3,640 nodes")."""
    emit(rows, fmt, table)
    if not fmt.is_data:
        err_console.print(f"{len(rows):,} {noun}", highlight=False)


def print_whole(renderable: RenderableType) -> None:
    """Print at the console's width, or wider when the whole columns need it: never cropped.

    A wide table at 80 columns is printed at its own width (a terminal folds the long lines)
    instead of being cropped at the edge or having its columns squeezed.
    """
    needed = needed_chars(renderable)
    if needed <= console.width:
        console.print(renderable)
        return
    # rich caps a print's width at the console's: a console as wide as the table, same stream
    wider = Console(
        width=needed,
        file=console.file,
        force_terminal=console.is_terminal,
        color_system=console.color_system,  # type: ignore[arg-type]
        no_color=console.no_color,
    )
    wider.print(renderable, crop=False)


def needed_chars(renderable: RenderableType) -> int:
    """The fewest columns a table (or a group of them) takes with every min width honoured.

    Rich's own measurement is bounded by the width it is given, so it cannot say this.
    """
    if isinstance(renderable, Group):
        return max((needed_chars(part) for part in renderable.renderables), default=0)
    if not isinstance(renderable, Table):
        return 0
    _, right, _, left = renderable.padding
    columns = renderable.columns
    cells = sum((column.min_width or 1) + left + right for column in columns)
    edges = 2 if renderable.box is not None and renderable.show_edge else 0
    dividers = max(len(columns) - 1, 0) if renderable.box is not None else 0
    return cells + edges + dividers


def whole_table(
    columns: Sequence[tuple[str, Kind]],
    rows: Sequence[Sequence[str]],
    *,
    totals: Sequence[str] | None = None,
    **options: Any,
) -> Table:
    """A table whose id and number cells stay whole and whose text cells wrap.

    Args:
        columns: (header, kind) per column; numbers are right-aligned.
        rows: the cells, as text, one sequence per row.
        totals: a last row below a rule (``total`` and the sums), as whole as the rows; none
            for an empty table.
        options: passed to ``rich.table.Table`` (title, box; ``box.SIMPLE_HEAD`` by default).
    """
    options.setdefault("box", box.SIMPLE_HEAD)
    table = Table(**options)
    every = [*rows, *([totals] if totals is not None and rows else [])]
    for index, (header, kind) in enumerate(columns):
        if kind == "text":
            table.add_column(header, overflow="fold", min_width=TEXT_MIN_CHARS)
            continue
        widest = max([cell_len(header), *(cell_len(row[index]) for row in every)])
        table.add_column(
            header,
            justify="right" if kind == "number" else "left",
            no_wrap=True,
            min_width=widest,
        )
    for row in rows:
        table.add_row(*row)
    if totals is not None and rows:
        table.rows[-1].end_section = True
        table.add_row(*totals, style="bold")
    return table


def summed(values: Sequence[float], spec: str = ",") -> str:
    """The sum of a column's values, formatted as its cells are (``3,640``, ``1,024.5``)."""
    return format(sum(values), spec)


def keep_whole(table: Table, *, text: Sequence[str] = ()) -> Table:
    """Make every column of a built table whole (no wrap, as wide as its widest cell).

    For the tables built column by column elsewhere: each column's ``min_width`` is its widest
    cell; the columns named in ``text`` wrap and fold instead.
    """
    for column in table.columns:
        header = str(column.header)
        if header in text:
            column.no_wrap = False
            column.overflow = "fold"
            column.min_width = TEXT_MIN_CHARS
            continue
        widths = [cell_len(str(cell)) for cell in column.cells]
        column.no_wrap = True
        column.min_width = max([*(cell_len(line) for line in header.split("\n")), *widths])
    return table


def iso_time(at_s: float | None, *, milliseconds: bool = False) -> str:
    """A POSIX time as ISO 8601 UTC (``2026-11-21T10:22:48Z``); ``-`` for none."""
    if at_s is None:
        return "-"
    at = datetime.fromtimestamp(at_s, UTC)
    return at.isoformat(timespec="milliseconds" if milliseconds else "seconds").replace(
        "+00:00", "Z"
    )
