"""``suanwang twin fork``: what-ifs in a fork of the live plane (``POST /v1/twin/fork``).

Talks to a running server as ``suanwang task`` does (``--url``, ``--token``, ``--ca-file``).
Nothing is placed: the server copies its live state, runs it ahead in the twin and answers the
prediction, printed as a table (80 columns) or, with ``-o json|yaml``, as data.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType

from suanwang.cli.client import call
from suanwang.cli.common import fail
from suanwang.cli.output import AsJson, Output, chosen, emit, whole_table
from suanwang.cli.tasks import DEFAULT_URL, CaFile, Token, Url

AT = re.compile(r"^(?P<hour>\d{1,2}(?:\.\d+)?)h?$")
"""``--at``: an hour of the UTC day, ``20`` or ``20h`` (``20.5h``: 20:30)."""
TASK_ROWS = 20
"""Judged tasks a table lists (``-o wide``: all); the counts cover the rest."""


def _hour(at: str) -> float:
    match = AT.match(at.strip())
    hour = float(match["hour"]) if match else -1.0
    if not 0 <= hour < 24:
        raise fail(f"--at: want an hour of the UTC day such as 20h, got {at!r}")
    return hour


def _tasks(path: Path | None, count: int, spec: str | None) -> list[dict[str, Any]]:
    """The extra tasks: a JSON file of a list of specs, and/or ``count`` copies of ``spec``."""
    tasks: list[dict[str, Any]] = []
    if path is not None:
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise fail(f"--tasks {path}: {exc}") from None
        if not isinstance(loaded, list) or not all(isinstance(t, dict) for t in loaded):
            raise fail(f"--tasks {path}: want a JSON list of task specs")
        tasks.extend(loaded)
    if spec is not None:
        try:
            one = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise fail(f"--spec is not JSON: {exc}") from None
        if not isinstance(one, dict):
            raise fail("--spec must be a JSON object")
        tasks.extend(dict(one) for _ in range(count))
    return tasks


def prediction_table(prediction: dict[str, Any], wide: bool) -> RenderableType:
    """The prediction's figures, then the judged tasks and their nodes."""
    figures = whole_table(
        [("what-if", "text"), ("predicted", "number")],
        [
            ["SLA met", f"{prediction['sla_met_fraction']:.1%}"],
            ["placed", f"{prediction['placed']:,}"],
            ["not placed", f"{prediction['rejected']:,}"],
            ["cost", f"{prediction['cost']:,.4f}"],
            ["carbon, g", f"{prediction['carbon_g']:,.2f}"],
            ["background arrivals", f"{prediction['background']:,}"],
            ["displaced by failed sites", f"{prediction['displaced']:,}"],
            ["running at the fork", f"{prediction['residents']:,}"],
            ["horizon, s", f"{prediction['horizon_s']:,.0f}"],
        ],
    )
    per_task = sorted(prediction["per_task"].items())
    shown = per_task if wide else per_task[:TASK_ROWS]
    rows = [[task_id, node or "(not placed)"] for task_id, node in shown]
    tasks = whole_table([("task", "id"), ("node", "id")], rows)
    if len(shown) < len(per_task):
        tasks.caption = f"{len(per_task) - len(shown):,} more (-o wide lists them)"
    return Group(figures, tasks)


def fork(
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fail_site: Annotated[
        list[str] | None, typer.Option("--fail-site", help="A site that fails (repeatable).")
    ] = None,
    load_factor: Annotated[
        float, typer.Option(min=0, max=100, help="Multiply the forecast background load.")
    ] = 1.0,
    at: Annotated[
        str | None, typer.Option("--at", help="Start at the next such UTC hour (20h).")
    ] = None,
    horizon: Annotated[
        float, typer.Option("--horizon", min=1, max=604_800, help="Seconds run ahead.")
    ] = 3600.0,
    tasks_file: Annotated[
        Path | None, typer.Option("--tasks", help="JSON file: a list of extra task specs.")
    ] = None,
    spec: Annotated[
        str | None, typer.Option("--spec", help="One extra task spec as JSON (see --count).")
    ] = None,
    count: Annotated[int, typer.Option("--count", min=1, max=1000, help="Copies of --spec.")] = 1,
    no_background: Annotated[
        bool, typer.Option("--no-background", help="Leave out the forecast background load.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the background.")] = 0,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """What if: run a fork of the live plane ahead and print the predicted SLA, cost, carbon."""
    body: dict[str, Any] = {
        "tasks": _tasks(tasks_file, count, spec),
        "horizon_s": horizon,
        "load_factor": load_factor,
        "fail_sites": list(fail_site or ()),
        "background": not no_background,
        "seed": seed,
    }
    if at is not None:
        body["at_hour"] = _hour(at)
    prediction = call(url, token, "POST", "/v1/twin/fork", json=body, ca_file=ca_file)
    emit(prediction, chosen(fmt, as_json), prediction_table)
