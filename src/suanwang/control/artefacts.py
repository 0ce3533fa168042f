"""Artefacts: a tenant's own code, a wheel or a zip with an entry point, kept as objects.

An artefact is two objects in the tenant's namespace of the object store: the archive, and a
small JSON manifest naming the archive's digest, its format and its entry point
(``module:function``, called as ``function(inputs: Path, outputs: Path) -> None``). The
manifest's digest is the artefact's digest, the one a task names: it fixes both the code and how
to call it. An archive is checked before it is registered: a zip (a wheel is one) whose members
stay inside it, not too large unpacked, holding the entry point's module.

An ``oci`` artefact is an image archive (a tar of ``podman save`` or ``docker save``, holding
``manifest.json``, or an OCI layout, holding ``index.json``); it has no entry point (its entry
is empty): the image's own command runs, with ``/inputs`` and ``/outputs`` mounted, on a node
with podman (``execution.oci``).
"""

from __future__ import annotations

import configparser
import io
import json
import re
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from suanwang.control.objects import ObjectStore, ObjectTooLargeError, check_digest

MANIFEST_KIND = "suanwang.artefact/v1"
"""The ``kind`` of an artefact manifest."""

MAX_MANIFEST_BYTES = 4096
"""Largest manifest read back; anything larger is not a manifest."""

MAX_MEMBERS = 10_000
"""Most files an archive may hold."""

ENTRY_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
"""An entry point: a dotted module path, a colon, a function name."""

WHEEL_ENTRY_GROUP = "suanwang"
"""The entry-point group (``entry_points.txt``) where a wheel may declare its ``main``."""

FORMATS = ("wheel", "zip", "oci")


class ArtefactError(ValueError):
    """An archive or manifest that cannot be an artefact; the message says what is wrong."""


def check_entry(entry: str) -> str:
    """``entry`` if it has the form ``module:function``.

    Raises:
        ArtefactError: it does not, naming the value.
    """
    if not isinstance(entry, str) or not ENTRY_RE.match(entry):
        raise ArtefactError(f"entry must be 'module:function' (dotted module), got {entry!r}")
    return entry


@dataclass(frozen=True, slots=True)
class Artefact:
    """A registered artefact.

    Attributes:
        archive: Digest of the archive object.
        entry: ``module:function`` to call.
        format: ``wheel`` or ``zip`` (the package at the zip's root).
        size_bytes: Size of the archive.
    """

    archive: str
    entry: str
    format: str
    size_bytes: int

    def __post_init__(self) -> None:
        check_digest(self.archive)
        if self.format not in FORMATS:
            raise ArtefactError(f"format must be one of {FORMATS}, got {self.format!r}")
        if self.format != "oci" or self.entry:
            check_entry(self.entry)
        if self.size_bytes < 0:
            raise ArtefactError(f"size_bytes must not be negative, got {self.size_bytes}")

    def manifest(self) -> bytes:
        """The manifest's bytes (canonical JSON, so one artefact has one digest)."""
        document = {
            "archive": self.archive,
            "entry": self.entry,
            "format": self.format,
            "kind": MANIFEST_KIND,
            "size_bytes": self.size_bytes,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_manifest(cls, data: bytes) -> Artefact:
        """The artefact a manifest describes.

        Raises:
            ArtefactError: ``data`` is not an artefact manifest.
        """
        try:
            document = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ArtefactError("the object is not an artefact manifest (not JSON)") from None
        if not isinstance(document, dict) or document.get("kind") != MANIFEST_KIND:
            raise ArtefactError(f"the object is not an artefact manifest (kind {MANIFEST_KIND})")
        try:
            return cls(
                str(document["archive"]),
                str(document["entry"]),
                str(document["format"]),
                int(document["size_bytes"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtefactError(f"the artefact manifest is malformed: {exc}") from None


def _wheel_entry(archive: zipfile.ZipFile, names: list[str]) -> str | None:
    """The wheel's ``[suanwang] main`` entry point, if it declares one."""
    points = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    if not points:
        return None
    parser = configparser.ConfigParser()
    parser.read_string(archive.read(points[0]).decode("utf-8", errors="replace"))
    if parser.has_option(WHEEL_ENTRY_GROUP, "main"):
        return parser.get(WHEEL_ENTRY_GROUP, "main").strip()
    return None


def inspect_archive(path: Path, entry: str | None, max_unpacked_bytes: int) -> tuple[str, str]:
    """The format of the archive at ``path`` and its entry point, checked.

    Args:
        path: The archive file.
        entry: The entry point; None takes a wheel's ``[suanwang] main`` entry point.
        max_unpacked_bytes: Most bytes its files may hold unpacked.

    Raises:
        ArtefactError: not a zip, a member outside it, too large or too many members, no
            entry point, or its module not in the archive.
    """
    if tarfile.is_tarfile(path) and not zipfile.is_zipfile(path):
        return "oci", _check_image(path, entry, max_unpacked_bytes)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise ArtefactError("the archive is not a zip file (a wheel or a zip)") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise ArtefactError(f"the archive holds {len(members)} files, over {MAX_MEMBERS}")
        unpacked = sum(m.file_size for m in members)
        if unpacked > max_unpacked_bytes:
            raise ArtefactError(
                f"the archive unpacks to {unpacked} bytes, over the limit of "
                f"{max_unpacked_bytes} bytes"
            )
        names = [m.filename for m in members]
        for name in names:
            pure = PurePosixPath(name)
            if pure.is_absolute() or ".." in pure.parts or "\\" in name:
                raise ArtefactError(f"the archive member {name!r} points outside the archive")
        wheel = any(n.endswith(".dist-info/WHEEL") and n.count("/") == 1 for n in names)
        if entry is None and wheel:
            entry = _wheel_entry(archive, names)
        if entry is None:
            raise ArtefactError(
                "entry: give the entry point as 'module:function' (a wheel may declare "
                f"it as 'main' in its [{WHEEL_ENTRY_GROUP}] entry points)"
            )
    check_entry(entry)
    module = entry.partition(":")[0].replace(".", "/")
    if not {f"{module}.py", f"{module}/__init__.py"} & set(names):
        raise ArtefactError(f"entry {entry!r}: the archive holds no {module}.py or package")
    return ("wheel" if wheel else "zip"), entry


def _check_image(path: Path, entry: str | None, max_unpacked_bytes: int) -> str:
    """The (empty) entry of the image archive at ``path``, checked (module docstring)."""
    if entry:
        raise ArtefactError(f"entry: an OCI image runs its own command; give none (got {entry!r})")
    with tarfile.open(path) as archive:
        members = archive.getmembers()
    if len(members) > MAX_MEMBERS:
        raise ArtefactError(f"the archive holds {len(members)} files, over {MAX_MEMBERS}")
    if sum(m.size for m in members) > max_unpacked_bytes:
        raise ArtefactError(f"the archive unpacks to over {max_unpacked_bytes} bytes")
    names = {PurePosixPath(m.name).as_posix() for m in members}
    if not names & {"manifest.json", "index.json"}:
        raise ArtefactError(
            "the tar is not an image archive (no manifest.json or index.json: podman save it)"
        )
    return ""


def register(
    store: ObjectStore, tenant: str, path: Path, entry: str | None
) -> tuple[str, Artefact]:
    """Check the archive at ``path`` and store it with its manifest.

    Returns:
        The artefact's digest (its manifest's) and the artefact.

    Raises:
        ArtefactError: the archive cannot be an artefact (``inspect_archive``).
        ObjectTooLargeError: the archive is over the store's size limit.
    """
    if path.stat().st_size > store.limits.max_object_bytes:
        raise ObjectTooLargeError(store.limits.max_object_bytes)
    kind, checked = inspect_archive(path, entry, 4 * store.limits.max_object_bytes)
    with path.open("rb") as source:
        stored = store.put(tenant, source)
    artefact = Artefact(stored.digest, checked, kind, stored.size_bytes)
    manifest = store.put(tenant, io.BytesIO(artefact.manifest()))
    return manifest.digest, artefact


def load_artefact(store: ObjectStore, tenant: str, digest: str) -> Artefact:
    """The artefact ``digest`` names in the tenant's namespace.

    Raises:
        ObjectNotFoundError: no such object.
        ArtefactError: the object is not an artefact manifest, or its archive is gone.
    """
    stream = store.get(tenant, digest)
    data = b""
    try:
        # Read to the end (where the stream verifies the digest), but no further than a
        # manifest can be.
        while len(data) <= MAX_MANIFEST_BYTES and (chunk := stream.read(MAX_MANIFEST_BYTES)):
            data += chunk
    finally:
        stream.close()
    if len(data) > MAX_MANIFEST_BYTES:
        raise ArtefactError(f"the object {digest} is not an artefact manifest (too large)")
    artefact = Artefact.from_manifest(data)
    if not store.exists(tenant, artefact.archive):
        raise ArtefactError(f"the archive {artefact.archive} of artefact {digest} is gone")
    return artefact
