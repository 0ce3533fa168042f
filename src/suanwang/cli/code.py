"""``suanwang artefact push | object put``: a tenant's own code and data, uploaded by digest.

``artefact push DIR_OR_ZIP --entry pkg:fn`` registers a wheel, a zip with the package at its
root, or a folder (zipped here: a folder holding ``__init__.py`` is the package itself, any other
folder holds the packages at its root). The folder's zip is deterministic (sorted members, fixed
times, no ``__pycache__``), so pushing the same code twice names the same artefact.
``object put FILE`` stores a file as an object (a task's input). Both print the digest alone on
stdout (``--json``: the whole answer) so that a script can pass it on; what was stored goes to
stderr. Bad input (a missing file, a file that is no zip, a malformed entry or digest) is one
error line naming the value and exit 2; a refusal by the server is exit 2 too, a server or
connection error exit 1 (as for ``task``).
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer

from suanwang.cli.client import call
from suanwang.cli.common import console, err_console, fail
from suanwang.cli.output import AsJson, print_data
from suanwang.cli.output import OutputFormat as Fmt
from suanwang.cli.tasks import DEFAULT_URL, CaFile, Token, Url
from suanwang.control.artefacts import ArtefactError, check_entry
from suanwang.control.objects import check_digest

artefact_app = typer.Typer(help="Tenants' own code: wheels and zips with an entry point.")
object_app = typer.Typer(help="Tenants' data: files stored by digest (tasks' inputs).")

SKIPPED_PARTS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache"})
"""Folders left out of a zipped folder: caches and version control, never code to run."""

SKIPPED_SUFFIXES = (".pyc", ".pyo")
"""Files left out of a zipped folder (compiled bytecode: the node compiles its own)."""

ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""Every member's time in a zipped folder: the same code gives the same bytes and digest."""

MAX_FOLDER_FILES = 10_000
"""Most files a pushed folder may hold (the server's own limit on an archive's members)."""


def checked_entry(entry: str | None) -> str | None:
    """``entry`` if it is ``module:function`` (or None); else exit 2 naming it."""
    if entry is None:
        return None
    try:
        return check_entry(entry)
    except ArtefactError as exc:
        raise fail(f"--entry: {exc}") from None


def checked_digest(option: str, digest: str) -> str:
    """``digest`` if it is a SHA-256 digest (64 lowercase hex); else exit 2 naming ``option``."""
    try:
        return check_digest(digest)
    except ValueError as exc:
        raise fail(f"{option}: {exc}") from None


def code_fields(artefact: str | None, entry: str | None, inputs: list[str]) -> dict[str, Any]:
    """The ``artefact``, ``entry`` and ``inputs`` fields of a task spec, checked (exit 2)."""
    if artefact is None:
        if entry is not None:
            raise fail(f"--entry {entry!r} needs --artefact: the entry is called in an artefact")
        if inputs:
            raise fail("--input needs --artefact: inputs are staged for a tenant's code")
        return {}
    fields: dict[str, Any] = {"artefact": checked_digest("--artefact", artefact)}
    if entry is not None:
        fields["entry"] = checked_entry(entry)
    if inputs:
        fields["inputs"] = [checked_digest("--input", digest) for digest in inputs]
    return fields


def _folder_files(folder: Path) -> list[Path]:
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if SKIPPED_PARTS.intersection(relative.parts) or path.suffix in SKIPPED_SUFFIXES:
            continue
        if path.is_file():
            files.append(path)
            if len(files) > MAX_FOLDER_FILES:
                raise fail(f"folder {str(folder)!r} holds over {MAX_FOLDER_FILES:,} files")
    return files


def zip_folder(folder: Path) -> bytes:
    """The deterministic zip of ``folder`` (module docstring): the package at the zip's root.

    A folder with ``__init__.py`` is zipped under its own name; any other folder's contents
    are zipped as they are (its packages and modules at the root).
    """
    base = folder.parent if (folder / "__init__.py").is_file() else folder
    files = _folder_files(folder)
    if not files:
        raise fail(f"folder {str(folder)!r} holds no files to push")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            member = zipfile.ZipInfo(path.relative_to(base).as_posix(), date_time=ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            archive.writestr(member, path.read_bytes())
    return buffer.getvalue()


def _artefact_body(path: Path) -> bytes | BinaryIO:
    """What to upload for ``path``: a folder zipped here, or a zip (a wheel is one) as it is."""
    if path.is_dir():
        return zip_folder(path)
    if not path.is_file():
        raise fail(f"artefact {str(path)!r}: no such file or folder")
    if not (zipfile.is_zipfile(path) or tarfile.is_tarfile(path)):  # a tar: an OCI image
        raise fail(f"artefact {str(path)!r} is not a zip file (nor a wheel, nor a folder)")
    return path.open("rb")


def _upload(url: str, token: str, path: str, body: Any, params: dict[str, Any], **kw: Any) -> Any:
    try:
        return call(url, token, "POST", path, content=body, params=params, **kw)
    finally:
        if hasattr(body, "close"):
            body.close()


def _said(document: dict[str, Any], as_json: bool, detail: str) -> None:
    if as_json:
        print_data(document, Fmt.JSON)
        return
    console.print(document["digest"], markup=False, highlight=False)
    err_console.print(detail, markup=False, highlight=False)


@artefact_app.command("push")
def push_artefact(
    path: Annotated[Path, typer.Argument(help="A wheel, a zip, or a folder to zip.")],
    *,
    entry: Annotated[
        str | None,
        typer.Option(help="module:function to call (a wheel may declare its own)."),
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    as_json: AsJson = False,
) -> None:
    """Register code as an artefact of your tenant; prints its digest (name it in --artefact).

    The function is called as ``function(inputs, outputs)``: two folders, the staged inputs
    and the folder whose files become the task's result.
    """
    params = {} if entry is None else {"entry": checked_entry(entry)}
    body = _artefact_body(path)
    pushed = _upload(url, token, "/v1/artefacts", body, params, ca_file=ca_file)
    detail = (
        f"artefact {pushed['entry'] or 'image'} ({pushed['format']}, {pushed['size_bytes']:,} B) "
        f"pushed from {path}"
    )
    _said(pushed, as_json, detail)


@object_app.command("put")
def put_object(
    path: Annotated[Path, typer.Argument(help="The file to store.")],
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    as_json: AsJson = False,
) -> None:
    """Store a file as an object of your tenant; prints its digest (name it in --input)."""
    if path.is_dir():
        raise fail(f"object {str(path)!r} is a folder, not a file")
    if not path.is_file():
        raise fail(f"object {str(path)!r}: no such file")
    stored = _upload(url, token, "/v1/objects", path.open("rb"), {}, ca_file=ca_file)
    _said(stored, as_json, f"object of {stored['size_bytes']:,} B stored from {path}")
