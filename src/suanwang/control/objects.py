"""The object store port: content-addressed blobs (sha256) per tenant, with size limits and expiry.

Task inputs, task outputs and artefacts (users' packages) are objects: a blob named by the
SHA-256 of its bytes, kept in the namespace of the tenant that stored it. The adapters live in
``suanwang.storage.objects`` (a filesystem folder by default, an S3-compatible bucket); the
composition root picks one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
"""A digest as the store names objects: 64 lowercase hex digits of SHA-256."""

TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
"""A tenant name usable as a namespace (a folder or key prefix)."""

REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
"""A reference's name: letters, digits, '.', '_' and '-', 1-200 characters."""

CHUNK_BYTES = 1 << 20
"""Bytes read and written at a time while streaming an object."""


class Readable(Protocol):
    """What ``put`` reads from: a binary file, a socket's reader, ``io.BytesIO``."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; empty at the end."""
        ...


class ObjectStream(Protocol):
    """What ``get`` returns: a binary stream the caller closes."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (all that is left when negative); empty at the end."""
        ...

    def close(self) -> None:
        """Release the stream."""
        ...


class ObjectStoreError(Exception):
    """Base of the object store's errors."""


class ObjectNotFoundError(ObjectStoreError, KeyError):
    """No object of that digest in the tenant's namespace (or it has expired)."""

    def __init__(self, tenant: str, digest: str) -> None:
        super().__init__(f"no object {digest} for tenant {tenant!r}")
        self.tenant, self.digest = tenant, digest

    def __str__(self) -> str:
        return str(self.args[0])


class ObjectTooLargeError(ObjectStoreError, ValueError):
    """An object over the store's size limit; nothing of it was kept."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"the object is over the limit of {limit_bytes} bytes (max_object_bytes)")
        self.limit_bytes = limit_bytes


class DigestMismatchError(ObjectStoreError, ValueError):
    """The bytes read do not hash to the digest they were stored or asked under."""

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(f"digest mismatch: expected {expected}, got {got}")
        self.expected, self.got = expected, got


def check_digest(digest: str) -> str:
    """``digest`` if it is 64 lowercase hex digits.

    Raises:
        ValueError: it is not, naming the value.
    """
    if not isinstance(digest, str) or not DIGEST_RE.match(digest):
        raise ValueError(f"digest must be 64 lowercase hex digits of SHA-256, got {digest!r}")
    return digest


def check_tenant(tenant: str) -> str:
    """``tenant`` if it can name a namespace.

    Raises:
        ValueError: it cannot (empty, a path separator, too long...), naming the value.
    """
    if not isinstance(tenant, str) or not TENANT_RE.match(tenant):
        raise ValueError(
            f"tenant must be 1-128 letters, digits, '.', '_' or '-' (not first), got {tenant!r}"
        )
    return tenant


def check_ref(name: str) -> str:
    """``name`` if it can name a reference.

    Raises:
        ValueError: it cannot, naming the value.
    """
    if not isinstance(name, str) or not REF_RE.match(name) or ".." in name:
        raise ValueError(
            f"a reference name is 1-200 letters, digits, '.', '_' or '-', got {name!r}"
        )
    return name


def sha256_of(data: bytes) -> str:
    """The digest the store gives ``data``."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class ObjectLimits:
    """What an object store enforces.

    Attributes:
        max_object_bytes: Largest object accepted; a larger one is refused while it streams
            in (``ObjectTooLargeError``) and nothing of it is kept.
        retention_s: Age after which an object expires: ``get``/``exists``/``list`` no longer
            see it and ``expire`` deletes it. None keeps objects until deleted. Storing the
            same bytes again renews the object's age.
    """

    max_object_bytes: int = 256 << 20
    retention_s: float | None = 7 * 24 * 3600.0

    def __post_init__(self) -> None:
        if self.max_object_bytes < 1:
            raise ValueError(f"max_object_bytes must be at least 1, got {self.max_object_bytes}")
        if self.retention_s is not None and not self.retention_s > 0:
            raise ValueError(f"retention_s must be positive when given, got {self.retention_s}")


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One stored object.

    Attributes:
        digest: SHA-256 of its bytes (hex).
        size_bytes: Its length.
        stored_s: When it was (last) stored, in seconds since the epoch.
        age_s: Seconds since then, as of the call that returned it (never negative).
    """

    digest: str
    size_bytes: int
    stored_s: float
    age_s: float


@runtime_checkable
class ObjectStore(Protocol):
    """Content-addressed objects in per-tenant namespaces.

    Contract (``tests/storage/test_storage_objects_contract.py`` runs it on every adapter):
        * ``put`` streams ``source`` to its end, hashing as it goes, and returns the digest and
          size. An object is visible (``get``, ``exists``, ``list``) only once all its bytes are
          stored under their verified digest: a put that fails or is interrupted leaves nothing
          visible. Storing bytes already stored is cheap and keeps one copy.
        * ``put`` refuses a source over ``limits.max_object_bytes`` with
          ``ObjectTooLargeError`` (the limit named) once that many bytes have been read.
        * ``put`` with ``expect`` refuses bytes of another digest with ``DigestMismatchError``.
        * Namespaces are disjoint: no call for one tenant sees, returns or deletes another
          tenant's objects, even of the same digest.
        * Objects older than ``limits.retention_s`` are absent for every read; ``expire``
          deletes them and returns how many it deleted.
        * ``get`` returns a binary stream the caller closes; the bytes it yields hash to the
          digest (an adapter verifies what it serves, raising ``DigestMismatchError`` at the
          end of a corrupted stream rather than returning wrong bytes silently).
        * Bad digests and tenants raise ``ValueError`` naming the value; a missing object
          raises ``ObjectNotFoundError``; ``delete`` of a missing object returns False.
        * A reference is a tenant's name for one of its objects (``put_ref``; a task's result,
          say): ``ref`` returns the digest last set, or None when there is none or its object
          is gone (deleted or expired); setting it is atomic. Names are checked (``check_ref``).
        * Every method is safe to call from several threads at once.
    """

    limits: ObjectLimits

    def put(self, tenant: str, source: Readable, expect: str | None = None) -> ObjectInfo:
        """Store the bytes of ``source``; returns their digest and size."""
        ...

    def get(self, tenant: str, digest: str) -> ObjectStream:
        """A stream of the object's bytes."""
        ...

    def exists(self, tenant: str, digest: str) -> bool:
        """True when the tenant holds the object (not expired)."""
        ...

    def info(self, tenant: str, digest: str) -> ObjectInfo:
        """The object's size and age."""
        ...

    def delete(self, tenant: str, digest: str) -> bool:
        """Remove the object; False when there was none."""
        ...

    def list(self, tenant: str) -> list[ObjectInfo]:
        """The tenant's objects with their sizes and ages, by digest."""
        ...

    def expire(self) -> int:
        """Delete every tenant's expired objects; returns how many."""
        ...

    def put_ref(self, tenant: str, name: str, digest: str) -> None:
        """Point the tenant's reference ``name`` at the object ``digest`` (which it holds)."""
        ...

    def ref(self, tenant: str, name: str) -> str | None:
        """The digest ``name`` points at, or None (unset, or its object is gone)."""
        ...


class VerifyingReader:
    """A binary stream that hashes what it yields and checks the digest at its end.

    Adapters wrap what they serve in it, so a corrupted object fails loudly at EOF.
    """

    def __init__(self, raw: ObjectStream, digest: str) -> None:
        self._raw, self._digest = raw, digest
        self._hash = hashlib.sha256()
        self._done = False

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (all that is left when negative)."""
        data = self._raw.read(size)
        self._hash.update(data)
        if (not data or size < 0) and not self._done:
            self._done = True
            got = self._hash.hexdigest()
            if got != self._digest:
                raise DigestMismatchError(self._digest, got)
        return data

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK_BYTES):
            yield chunk

    def close(self) -> None:
        """Close the underlying stream."""
        self._raw.close()

    def __enter__(self) -> VerifyingReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def read_all(store: ObjectStore, tenant: str, digest: str) -> bytes:
    """The whole object, verified (for small objects: manifests, tests)."""
    stream = store.get(tenant, digest)
    try:
        return stream.read()
    finally:
        stream.close()
