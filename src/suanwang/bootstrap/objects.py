"""The object store the settings name (the composition root picks the adapter)."""

from __future__ import annotations

from urllib.parse import urlsplit

from suanwang.bootstrap.settings import Settings
from suanwang.control.objects import ObjectLimits, ObjectStore
from suanwang.storage.objects import FileObjectStore, S3ObjectStore

OBJECTS_DIR = "objects"
"""Folder of the default object store in the data folder."""


def object_limits(settings: Settings) -> ObjectLimits:
    """The size limit and retention of ``settings``."""
    retention_s = settings.object_retention_s or None
    return ObjectLimits(max_object_bytes=settings.max_object_bytes, retention_s=retention_s)


def open_objects(settings: Settings) -> ObjectStore:
    """The object store of ``settings.object_store``.

    Raises:
        ValueError: an ``s3://`` location without a bucket.
    """
    location, limits = settings.object_store, object_limits(settings)
    if location.startswith("s3://"):
        parts = urlsplit(location)
        if not parts.netloc:
            raise ValueError(f"object_store: an s3:// location names a bucket, got {location!r}")
        prefix = parts.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        endpoint = settings.object_store_endpoint or None
        return S3ObjectStore(parts.netloc, endpoint, prefix=prefix, limits=limits)
    root = settings.data_dir / OBJECTS_DIR if not location else settings.data_dir / location
    return FileObjectStore(root, limits)
