"""Object store adapters (``control.objects.ObjectStore``): a filesystem folder and S3."""

from suanwang.storage.objects.fs import FileObjectStore
from suanwang.storage.objects.s3 import S3ObjectStore

__all__ = ["FileObjectStore", "S3ObjectStore"]
