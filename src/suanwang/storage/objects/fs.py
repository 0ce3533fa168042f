"""The filesystem object store: one file per object under ``root/<tenant>/<aa>/<digest>``.

A put streams into a temporary file in ``root/.tmp`` (same filesystem), fsyncs it, and renames
it to its digest's name: the rename is atomic, so a crash leaves at most a stray temporary file
(removed by the next ``expire``), never a half object under a digest. The file's modification
time is the object's stored time, set from the store's clock.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from suanwang.control.objects import (
    ObjectInfo,
    ObjectLimits,
    ObjectNotFoundError,
    ObjectStream,
    Readable,
    VerifyingReader,
    check_digest,
    check_ref,
    check_tenant,
)
from suanwang.storage.objects.spool import spool

REFS_DIR = "refs"
"""A tenant's folder of references (object folders are two hex digits, so no clash)."""

TMP_DIR = ".tmp"
"""Folder of puts in progress; a name no tenant can have (tenants start with a letter or digit)."""

STALE_TMP_S = 3600.0
"""Age after which ``expire`` takes a temporary file for a crashed put's leftover."""


class FileObjectStore:
    """``ObjectStore`` on a local folder.

    Args:
        root: The folder (created when missing).
        limits: Size limit and retention.
        clock: Seconds since the epoch (stored times and ages); the wall clock by default.
    """

    def __init__(
        self,
        root: Path,
        limits: ObjectLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        self.limits = limits or ObjectLimits()
        self._clock = clock
        self._lock = threading.Lock()
        (self.root / TMP_DIR).mkdir(parents=True, exist_ok=True)

    def _path(self, tenant: str, digest: str) -> Path:
        check_tenant(tenant)
        check_digest(digest)
        return self.root / tenant / digest[:2] / digest

    def _info(self, path: Path) -> ObjectInfo | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        age_s = max(0.0, self._clock() - stat.st_mtime)
        if self.limits.retention_s is not None and age_s > self.limits.retention_s:
            return None
        return ObjectInfo(path.name, stat.st_size, stat.st_mtime, age_s)

    def put(self, tenant: str, source: Readable, expect: str | None = None) -> ObjectInfo:
        """Store ``source``'s bytes (see ``ObjectStore``)."""
        check_tenant(tenant)
        spooled = spool(source, self.root / TMP_DIR, self.limits.max_object_bytes, expect)
        target = self._path(tenant, spooled.digest)
        now_s = self._clock()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(spooled.path, 0o444)
            os.utime(spooled.path, (now_s, now_s))
            # Atomic: readers see no object or the whole of it. Same bytes again replace a
            # file of the same content, which renews its age.
            os.replace(spooled.path, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                spooled.path.unlink()
            raise
        return ObjectInfo(spooled.digest, spooled.size_bytes, now_s, 0.0)

    def get(self, tenant: str, digest: str) -> ObjectStream:
        """The object's bytes, verified as they are read."""
        path = self._path(tenant, digest)
        if self._info(path) is None:
            raise ObjectNotFoundError(tenant, digest)
        try:
            raw = path.open("rb")
        except FileNotFoundError:
            raise ObjectNotFoundError(tenant, digest) from None
        return VerifyingReader(raw, digest)

    def exists(self, tenant: str, digest: str) -> bool:
        """True when the tenant holds the object."""
        return self._info(self._path(tenant, digest)) is not None

    def info(self, tenant: str, digest: str) -> ObjectInfo:
        """The object's size and age."""
        found = self._info(self._path(tenant, digest))
        if found is None:
            raise ObjectNotFoundError(tenant, digest)
        return found

    def delete(self, tenant: str, digest: str) -> bool:
        """Remove the object."""
        path = self._path(tenant, digest)
        visible = self._info(path) is not None
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return visible

    def list(self, tenant: str) -> list[ObjectInfo]:
        """The tenant's live objects, by digest."""
        folder = self.root / check_tenant(tenant)
        if not folder.is_dir():
            return []
        found = (self._info(path) for path in folder.glob("??/*"))
        return sorted((info for info in found if info is not None), key=lambda i: i.digest)

    def expire(self) -> int:
        """Delete expired objects and stale temporary files; returns the objects deleted."""
        deleted = 0
        now_s = self._clock()
        with self._lock:
            for tmp in (self.root / TMP_DIR).glob("*.part"):
                with contextlib.suppress(FileNotFoundError):
                    if now_s - tmp.stat().st_mtime > STALE_TMP_S:
                        tmp.unlink()
            if self.limits.retention_s is None:
                return 0
            for tenant_dir in self.root.iterdir():
                if tenant_dir.name == TMP_DIR or not tenant_dir.is_dir():
                    continue
                for path in tenant_dir.glob("??/*"):
                    with contextlib.suppress(FileNotFoundError):
                        if now_s - path.stat().st_mtime > self.limits.retention_s:
                            path.unlink()
                            deleted += 1
        return deleted

    def put_ref(self, tenant: str, name: str, digest: str) -> None:
        """Point ``name`` at ``digest`` (a file holding the digest, renamed into place)."""
        if not self.exists(tenant, digest):
            raise ObjectNotFoundError(tenant, digest)
        folder = self.root / tenant / REFS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        tmp = self.root / TMP_DIR / f"ref-{threading.get_ident()}-{check_ref(name)}.part"
        tmp.write_text(digest, encoding="ascii")
        os.replace(tmp, folder / name)

    def ref(self, tenant: str, name: str) -> str | None:
        """The digest ``name`` points at while its object lives."""
        path = self.root / check_tenant(tenant) / REFS_DIR / check_ref(name)
        try:
            digest = path.read_text(encoding="ascii")
        except FileNotFoundError:
            return None
        return digest if self.exists(tenant, digest) else None
