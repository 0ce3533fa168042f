"""The HTTP side of ``task`` and ``node``: one request, all pages, id prefixes, close names.

Errors are one line: exit 2 for a refused request (4xx), 1 for a server or connection error.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from suanwang.cli.common import EXIT_UNAVAILABLE, err_console, fail

if TYPE_CHECKING:
    import httpx

TASK_ID_CHARS = 32
"""Length of a whole task id (hex); a shorter one is taken as a prefix."""

PAGE_ITEMS = 1000
"""Items per page when a command reads a whole listing (the API's largest page)."""

MAX_PAGES = 1000
"""Upper bound on pages one command reads (a million items): a listing that never ends stops."""

SHOWN_MATCHES = 5
"""Ambiguous prefixes: how many of the matching ids the error names."""


def server_error(message: str) -> typer.Exit:
    """One error line on stderr; the Exit (code 1) for a server or connection failure."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_UNAVAILABLE)


def call(url: str, token: str, method: str, path: str, **kwargs: Any) -> Any:
    """One request; the decoded JSON answer, or one error line and an exit.

    ``ca_file`` (a keyword) names the PEM file an https server is verified with.
    """
    return answer(request(url, token, method, path, **kwargs))


def request(url: str, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request and its response, whatever its status; one error line and exit 1 if none."""
    import httpx  # noqa: PLC0415 (keeps `suanwang --help` fast)

    from suanwang.security.tls import TrustError, client_context  # noqa: PLC0415

    if not token:
        raise fail(
            "no token: pass --token, set SUANWANG_TOKEN or give a context one "
            "(`suanwang config set-context`; tokens: `suanwang token create`)"
        )
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    try:
        verify = client_context(kwargs.pop("ca_file", None))
    except TrustError as exc:
        raise fail(f"--ca-file: {exc}") from None
    try:
        with httpx.Client(base_url=url, timeout=30.0, verify=verify) as client:
            return client.request(method, path, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        raise server_error(f"cannot reach {url}: {exc}") from None


def answer(response: httpx.Response, hint: str = "") -> Any:
    """The decoded JSON of a success; else one error line (``hint`` appended) and an exit."""
    if response.is_success:
        return response.json() if response.content else None
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text.strip() or response.reason_phrase
    message = f"{response.status_code} {response.reason_phrase}: {detail}{hint}"
    raise fail(message) if response.status_code < 500 else server_error(message)


def quiet_get(url: str, token: str, path: str, *, ca_file: str | None) -> Any:
    """A GET's decoded answer, or None on any refusal: for hints, which must not fail a command."""
    response = request(url, token, "GET", path, ca_file=ca_file)
    return response.json() if response.is_success and response.content else None


def offset_pages(
    url: str, token: str, path: str, params: dict[str, Any], *, ca_file: str | None
) -> list[dict[str, Any]]:
    """Every item of an offset-paged listing (``/v1/nodes``, ``/v1/sites``), page by page.

    The server answers at most ``limit`` items a call (1,000 by default), so one call used to
    show the first 1,000 of 3,640 nodes and stop without a word.
    """
    items: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        page = call(
            url,
            token,
            "GET",
            path,
            params={**params, "limit": PAGE_ITEMS, "offset": len(items)},
            ca_file=ca_file,
        )
        items.extend(page)
        if len(page) < PAGE_ITEMS:
            return items
    err_console.print(f"warning: stopped after {len(items):,} items", highlight=False)
    return items


def task_ids(url: str, token: str, *, ca_file: str | None) -> list[str]:
    """The ids of every task the token may see, through the cursor-paged list API."""
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"limit": PAGE_ITEMS}
        if cursor is not None:
            params["cursor"] = cursor
        page = call(url, token, "GET", "/v1/tasks", params=params, ca_file=ca_file)
        ids.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    return ids


def resolve_task_id(url: str, token: str, given: str, *, ca_file: str | None) -> str:
    """The whole task id ``given`` names: itself when whole, else the one id it begins.

    A prefix that begins no id is passed on as it is (the server answers 404 for it); one that
    begins several ends the command with exit 2, naming them.
    """
    if len(given) >= TASK_ID_CHARS:
        return given
    matches = [
        task_id for task_id in task_ids(url, token, ca_file=ca_file) if task_id.startswith(given)
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        return given
    shown = ", ".join(matches[:SHOWN_MATCHES])
    more = "" if len(matches) <= SHOWN_MATCHES else f" and {len(matches) - SHOWN_MATCHES:,} more"
    raise fail(f"task id prefix {given!r} is ambiguous: {len(matches):,} tasks ({shown}{more})")


def did_you_mean(word: str, names: list[str]) -> str:
    """`` (did you mean 'a' or 'b'?)`` for the names closest to ``word``; empty when none is."""
    close = difflib.get_close_matches(word, names, n=3, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(name) for name in close)}?)"
