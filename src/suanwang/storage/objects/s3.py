"""The S3-compatible object store (boto3): one key per object, ``<prefix><tenant>/<digest>``.

A put is spooled to a local temporary file while it is hashed and counted, then sent with one
PUT under its digest's key: S3 makes a PUT visible whole or not at all, so no half object is
ever listed. The stored time is kept in the object's metadata (``stored-s``) from the store's
clock, so ages do not depend on the server's clock.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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

STORED_META = "stored-s"
"""Object metadata key holding the stored time (seconds since the epoch)."""

_MISSING = {"404", "NoSuchKey", "NotFound"}


def _missing(error: Exception) -> bool:
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code) in _MISSING


class S3ObjectStore:
    """``ObjectStore`` on an S3-compatible bucket.

    Args:
        bucket: The bucket (created when missing and ``create_bucket``).
        endpoint_url: The service's URL (None: AWS's own endpoints).
        prefix: Key prefix of this store's objects, e.g. ``"suanwang/"``.
        limits: Size limit and retention.
        clock: Seconds since the epoch (stored times and ages).
        client: A boto3 S3 client to use instead of building one (credentials and region from
            the environment, as boto3 reads them).
        create_bucket: Create the bucket when it does not exist.
    """

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        *,
        prefix: str = "",
        limits: ObjectLimits | None = None,
        clock: Callable[[], float] = time.time,
        client: Any = None,
        create_bucket: bool = False,
    ) -> None:
        if not bucket:
            raise ValueError("bucket must be named")
        if client is None:
            import boto3  # noqa: PLC0415 - boto3 takes ~0.3 s to import; only S3 users pay it

            client = boto3.client("s3", endpoint_url=endpoint_url)
        self._s3: Any = client
        self.bucket, self.prefix = bucket, prefix
        self.limits = limits or ObjectLimits()
        self._clock = clock
        if create_bucket:
            try:
                self._s3.head_bucket(Bucket=bucket)
            except Exception as error:
                if not _missing(error):
                    raise
                self._s3.create_bucket(Bucket=bucket)

    def _key(self, tenant: str, digest: str) -> str:
        return f"{self.prefix}{check_tenant(tenant)}/{check_digest(digest)}"

    def _head(self, tenant: str, digest: str) -> ObjectInfo | None:
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=self._key(tenant, digest))
        except Exception as error:
            if _missing(error):
                return None
            raise
        stored_s = float(head.get("Metadata", {}).get(STORED_META, "0"))
        age_s = max(0.0, self._clock() - stored_s)
        if self.limits.retention_s is not None and age_s > self.limits.retention_s:
            return None
        return ObjectInfo(digest, int(head["ContentLength"]), stored_s, age_s)

    def put(self, tenant: str, source: Readable, expect: str | None = None) -> ObjectInfo:
        """Store ``source``'s bytes (see ``ObjectStore``)."""
        check_tenant(tenant)
        with tempfile.TemporaryDirectory(prefix="suanwang-s3-") as folder:
            spooled = spool(source, Path(folder), self.limits.max_object_bytes, expect)
            now_s = self._clock()
            with spooled.path.open("rb") as body:
                # Same bytes again are sent again: that renews the stored time in one PUT.
                self._s3.put_object(
                    Bucket=self.bucket,
                    Key=self._key(tenant, spooled.digest),
                    Body=body,
                    ContentLength=spooled.size_bytes,
                    Metadata={STORED_META: repr(now_s)},
                )
        return ObjectInfo(spooled.digest, spooled.size_bytes, now_s, 0.0)

    def get(self, tenant: str, digest: str) -> ObjectStream:
        """The object's bytes, verified as they are read."""
        if self._head(tenant, digest) is None:
            raise ObjectNotFoundError(tenant, digest)
        try:
            answer = self._s3.get_object(Bucket=self.bucket, Key=self._key(tenant, digest))
        except Exception as error:
            if _missing(error):
                raise ObjectNotFoundError(tenant, digest) from None
            raise
        return VerifyingReader(answer["Body"], digest)

    def exists(self, tenant: str, digest: str) -> bool:
        """True when the tenant holds the object."""
        return self._head(tenant, digest) is not None

    def info(self, tenant: str, digest: str) -> ObjectInfo:
        """The object's size and age."""
        found = self._head(tenant, digest)
        if found is None:
            raise ObjectNotFoundError(tenant, digest)
        return found

    def delete(self, tenant: str, digest: str) -> bool:
        """Remove the object."""
        visible = self._head(tenant, digest) is not None
        with contextlib.suppress(Exception):
            self._s3.delete_object(Bucket=self.bucket, Key=self._key(tenant, digest))
        return visible

    def put_ref(self, tenant: str, name: str, digest: str) -> None:
        """Point ``name`` at ``digest`` (a small key under ``.refs/<tenant>/``; one PUT).

        No tenant starts with '.', so reference keys never fall under a tenant's objects.
        """
        if not self.exists(tenant, digest):
            raise ObjectNotFoundError(tenant, digest)
        key = f"{self.prefix}.refs/{tenant}/{check_ref(name)}"
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=digest.encode("ascii"))

    def ref(self, tenant: str, name: str) -> str | None:
        """The digest ``name`` points at while its object lives."""
        key = f"{self.prefix}.refs/{check_tenant(tenant)}/{check_ref(name)}"
        try:
            answer = self._s3.get_object(Bucket=self.bucket, Key=key)
        except Exception as error:
            if _missing(error):
                return None
            raise
        digest = answer["Body"].read().decode("ascii")
        return digest if self.exists(tenant, digest) else None

    def _digests(self, prefix: str) -> list[tuple[str, str]]:
        """(tenant, digest) of every key under ``prefix``."""
        found: list[tuple[str, str]] = []
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            for entry in page.get("Contents", []):
                tenant, _, digest = entry["Key"][len(self.prefix) :].partition("/")
                found.append((tenant, digest))
        return found

    def list(self, tenant: str) -> list[ObjectInfo]:
        """The tenant's live objects, by digest."""
        prefix = f"{self.prefix}{check_tenant(tenant)}/"
        heads = (self._head(tenant, digest) for _, digest in self._digests(prefix))
        return sorted((info for info in heads if info is not None), key=lambda i: i.digest)

    def expire(self) -> int:
        """Delete every tenant's expired objects; returns how many."""
        if self.limits.retention_s is None:
            return 0
        deleted = 0
        for tenant, digest in self._digests(self.prefix):
            with contextlib.suppress(ValueError):
                if self._head(tenant, digest) is None:
                    self._s3.delete_object(Bucket=self.bucket, Key=self._key(tenant, digest))
                    deleted += 1
        return deleted
