"""Reading a put's source to a temporary file while hashing it, under the size limit."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from suanwang.control.objects import (
    CHUNK_BYTES,
    DigestMismatchError,
    ObjectTooLargeError,
    Readable,
    check_digest,
)


@dataclass(frozen=True, slots=True)
class Spooled:
    """A source read to its end: the file holding its bytes (fsynced), digest and size."""

    path: Path
    digest: str
    size_bytes: int


def spool(source: Readable, folder: Path, max_bytes: int, expect: str | None) -> Spooled:
    """Copy ``source`` into a new file in ``folder``, hashing it and counting its bytes.

    The file is removed again on any failure, so the caller owns it only on success.

    Raises:
        ObjectTooLargeError: more than ``max_bytes`` bytes (reading stops there).
        DigestMismatchError: ``expect`` given and the bytes hash to another digest.
        ValueError: ``expect`` is not a digest.
    """
    if expect is not None:
        check_digest(expect)
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="put-", suffix=".part", dir=folder)
    path = Path(name)
    try:
        hasher, size = hashlib.sha256(), 0
        with os.fdopen(handle, "wb") as out:
            while chunk := source.read(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise ObjectTooLargeError(max_bytes)
                hasher.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        digest = hasher.hexdigest()
        if expect is not None and digest != expect:
            raise DigestMismatchError(expect, digest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise
    return Spooled(path, digest, size)
