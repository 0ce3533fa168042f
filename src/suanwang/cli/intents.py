"""``suanwang intent apply -f FILE [--dry-run] | list | show ID | withdraw ID``: intents.

An intent file states a business need from the catalogue, where it is served, how well and for
how much (``docs/examples/intent-futian-vr.yaml``). ``apply`` checks the file here first (one
error line naming file, line, field and value; exit 2), then the server translates it, looks
for conflicts between its constraints on the live state, predicts it in a fork of the live plane
and, unless ``--dry-run``, places its tasks live. A refused intent prints its conflicts and
exits 3 (nothing placed), as ``task submit`` does for a rejected task. ``show`` prints an
intent's status, its translation, the SLA share measured over the window against the fork's
prediction stored at apply time (with its cost, carbon and each replica's predicted site), its
tasks now and its status history (each assessment that changed the status, with its reason).
Talks to a running server as ``suanwang task`` does (``--url``, ``--token``, ``--ca-file``);
tables fit 80 columns, ``-o json|yaml`` (``--json``) prints the data.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from suanwang.cli.client import SHOWN_MATCHES, TASK_ID_CHARS, answer, call, request
from suanwang.cli.common import console, fail
from suanwang.cli.intent_tables import intent_table, intents_table, plan_table
from suanwang.cli.output import (
    AsJson,
    Output,
    OutputFormat,
    chosen,
    emit,
    emit_list,
    print_data,
    print_whole,
)
from suanwang.cli.tasks import DEFAULT_URL, EXIT_REJECTED, CaFile, Token, Url

intent_app = typer.Typer(
    help="Intents: state a need, its coverage and quality; the network plans and keeps it.",
    no_args_is_help=True,
)

EXIT_REFUSED = EXIT_REJECTED
"""Exit code of ``intent apply`` when the intent is refused (its conflicts printed)."""

IntentFile = Annotated[
    str, typer.Option("-f", "--file", help="The intent, YAML or JSON ('-': stdin).")
]
IntentId = Annotated[str, typer.Argument(help="The intent's id, or a prefix that begins only it.")]


def read_intent_file(source: str) -> dict[str, Any]:
    """The intent in ``source`` (a path, or ``-`` for stdin), checked, as the API takes it.

    Raises:
        typer.Exit: the file cannot be read or is not a valid intent (exit 2, one line naming
            file, line, field and value).
    """
    from suanwang.scenario import ScenarioError  # noqa: PLC0415 (keeps `--help` fast)
    from suanwang.scenario.intent import read_intent  # noqa: PLC0415
    from suanwang.scenario.intent.schema import MAX_INTENT_BYTES  # noqa: PLC0415

    try:
        if source == "-":
            text, name = sys.stdin.read(MAX_INTENT_BYTES + 1), "<stdin>"
        else:
            with Path(source).open(encoding="utf-8") as file:
                text, name = file.read(MAX_INTENT_BYTES + 1), source
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{source}: {exc}") from None
    if len(text) > MAX_INTENT_BYTES:
        raise fail(f"{source}: larger than {MAX_INTENT_BYTES:,} bytes")
    try:
        doc = read_intent(text, name)
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    body: dict[str, Any] = doc.model_dump(mode="json", exclude_none=True)
    return body


def resolve_intent_id(url: str, token: str, given: str, *, ca_file: str | None) -> str:
    """The whole intent id ``given`` names (as ``task`` ids: a prefix that begins only one)."""
    if len(given) >= TASK_ID_CHARS:
        return given
    intents = call(url, token, "GET", "/v1/intents", ca_file=ca_file)
    matches = [i["id"] for i in intents if i["id"].startswith(given)]
    if len(matches) <= 1:
        return matches[0] if matches else given  # none: the server's 404 names it
    shown = ", ".join(matches[:SHOWN_MATCHES])
    raise fail(f"intent id prefix {given!r} is ambiguous: {len(matches):,} intents ({shown})")


@intent_app.command("apply")
def apply_intent(
    *,
    file: IntentFile,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the translation and prediction; place nothing.")
    ] = False,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Translate, check and predict an intent, then place it (exit 3 if it is refused)."""
    body = read_intent_file(file)
    path = "/v1/intents?dry_run=true" if dry_run else "/v1/intents"
    response = request(url, token, "POST", path, json=body, ca_file=ca_file)
    output = chosen(fmt, as_json)
    if response.status_code == 422 and "conflicts" in (problem := response.json()):
        emit(problem["plan"], output, plan_table)
        raise fail(problem["detail"], EXIT_REFUSED)
    emit(answer(response), output, plan_table)


@intent_app.command("list")
def list_intents(
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Your tenant's intents (every tenant's for admins) with their status, oldest first."""
    intents = call(url, token, "GET", "/v1/intents", ca_file=ca_file)
    emit_list(intents, chosen(fmt, as_json), intents_table, "intents")


@intent_app.command("show")
def show_intent(
    intent_id: IntentId,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """One intent: status, translation, measured against predicted SLA, tasks, history."""
    whole = resolve_intent_id(url, token, intent_id, ca_file=ca_file)
    intent = call(url, token, "GET", f"/v1/intents/{whole}", ca_file=ca_file)
    emit(intent, chosen(fmt, as_json), intent_table)


@intent_app.command("withdraw")
def withdraw_intent(
    intent_id: IntentId,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Withdraw an intent: its live tasks are cancelled and assurance stops."""
    whole = resolve_intent_id(url, token, intent_id, ca_file=ca_file)
    intent = call(url, token, "DELETE", f"/v1/intents/{whole}", ca_file=ca_file)
    output = chosen(fmt, as_json)
    if output.is_data:
        print_data(intent, output)
        return
    print_whole(intents_table([intent], output is OutputFormat.WIDE))
    console.print(intent["history"][-1]["reason"], markup=False, highlight=False)
