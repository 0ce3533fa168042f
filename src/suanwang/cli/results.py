"""``suanwang task result | logs``: what a tenant's code wrote, and what it printed.

``task result ID -o OUT`` writes the task's result (a zip of the files its run wrote in its
``outputs`` folder) to ``OUT``; ``--extract DIR`` unpacks it into ``DIR`` instead. The download
streams to a temporary file beside the target, renamed into place once whole, so an interrupted
one leaves nothing half-written. ``task logs ID`` prints each ended run's stdout on stdout and
its stderr on stderr (a header per run on stderr), as the agent kept them (bounded: first and
last parts). Exit codes as for ``task``: 2 for a refusal (no such task, no result yet), 1 for a
server or connection error.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from suanwang.cli.client import answer, call, resolve_task_id, server_error
from suanwang.cli.common import console, err_console, fail
from suanwang.cli.output import AsJson, print_data
from suanwang.cli.output import OutputFormat as Fmt
from suanwang.cli.tasks import DEFAULT_URL, CaFile, TaskId, Token, Url

CHUNK_BYTES = 1 << 20
"""Bytes written per chunk of a download."""


def _download(url: str, token: str, path: str, target: Path, *, ca_file: str | None) -> int:
    """Stream ``GET path`` into ``target`` (atomically); its size in bytes."""
    import httpx  # noqa: PLC0415 (keeps `suanwang --help` fast)

    from suanwang.security.tls import TrustError, client_context  # noqa: PLC0415

    if not token:
        raise fail("no token: pass --token, set SUANWANG_TOKEN or give a context one")
    try:
        verify = client_context(ca_file)
    except TrustError as exc:
        raise fail(f"--ca-file: {exc}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, spool = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    size = 0
    try:
        with (
            os.fdopen(handle, "wb") as out,
            httpx.Client(base_url=url, timeout=30.0, verify=verify) as client,
            client.stream("GET", path, headers={"Authorization": f"Bearer {token}"}) as got,
        ):
            if not got.is_success:
                got.read()
                answer(got)
            for chunk in got.iter_bytes(CHUNK_BYTES):
                out.write(chunk)
                size += len(chunk)
        Path(spool).replace(target)
    except httpx.HTTPError as exc:
        raise server_error(f"cannot reach {url}: {exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(spool).unlink()
    return size


def _extract(archive_path: Path, folder: Path) -> list[str]:
    """Unpack the result into ``folder``; the member names (none may leave the folder)."""
    try:
        with zipfile.ZipFile(archive_path) as archive:
            names = archive.namelist()
            root = folder.resolve()
            for name in names:
                if not (root / name).resolve().is_relative_to(root):
                    raise fail(f"the result holds {name!r}, which would land outside {folder}")
            folder.mkdir(parents=True, exist_ok=True)
            archive.extractall(folder)
    except zipfile.BadZipFile as exc:
        raise fail(f"the result is not a zip: {exc}") from None
    return names


def _out(stream: Console, text: str) -> None:
    """``text`` as it is (no markup, wrap or highlighting), ending in one newline."""
    stream.out(text, end="" if text.endswith("\n") else "\n", highlight=False)


def task_result(
    task_id: TaskId,
    *,
    out: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the result (a zip) here.")
    ] = None,
    extract: Annotated[
        Path | None, typer.Option("--extract", help="Unpack the result into this folder.")
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    as_json: AsJson = False,
) -> None:
    """Fetch a finished task's result: the files its code wrote, as a zip or unpacked."""
    if (out is None) == (extract is None):
        raise fail("give one of -o/--output FILE (the zip) or --extract DIR")
    if out is not None and out.is_dir():
        raise fail(f"-o {str(out)!r} is a folder: name the zip file to write (or --extract)")
    whole = resolve_task_id(url, token, task_id, ca_file=ca_file)
    path = f"/v1/tasks/{whole}/result"
    document: dict[str, Any] = {"task_id": whole}
    if out is not None:
        size = _download(url, token, path, out, ca_file=ca_file)
        document |= {"path": str(out), "size_bytes": size}
        detail = f"wrote {out} ({size:,} B)"
    elif extract is not None:
        with tempfile.TemporaryDirectory(prefix="suanwang-result-") as spool:
            archive = Path(spool) / "result.zip"
            size = _download(url, token, path, archive, ca_file=ca_file)
            names = _extract(archive, extract)
        document |= {"path": str(extract), "size_bytes": size, "files": names}
        detail = f"extracted {len(names):,} file(s) into {extract}"
    if as_json:
        print_data(document, Fmt.JSON)
    else:
        err_console.print(detail, markup=False, highlight=False)
        for name in document.get("files", []):
            console.print(name, markup=False, highlight=False)


def task_logs(
    task_id: TaskId,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    as_json: AsJson = False,
) -> None:
    """Print the stdout (on stdout) and stderr (on stderr) of the task's ended runs."""
    whole = resolve_task_id(url, token, task_id, ca_file=ca_file)
    logs = call(url, token, "GET", f"/v1/tasks/{whole}/logs", ca_file=ca_file)
    if as_json:
        print_data(logs, Fmt.JSON)
        return
    if not logs["runs"]:
        err_console.print(f"task {whole} has no ended run yet: no logs", highlight=False)
        return
    for run in logs["runs"]:
        header = f"== run {run['run_id']} on {run['node_id']}: {run['outcome']} =="
        err_console.print(header, markup=False, highlight=False)
        if run["stdout"]:
            _out(console, run["stdout"])
        if run["stderr"]:
            _out(err_console, run["stderr"])
