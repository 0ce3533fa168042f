"""A tenant's code run by an engine that reaches the object store itself: local and Ray.

The node agents stage over HTTP (``execution.coderun``). The local engine runs inside the
control plane's process, and the Ray engine's driver does, so both read the store directly:

1. staging: the artefact's manifest and archive, and each input, are read from the tenant's
   namespace of the store, hashed while they are copied into the node's cache
   (``cache/<tenant>/<digest>``, the layout of ``coderun.ObjectCache``) and kept only when the
   bytes hash to their digest; an object already cached is not read again;
2. the result: the run's output folder, zipped, is stored as an object of the tenant and named
   the task's result (the reference ``result-<task id>``, what ``GET /v1/tasks/{id}/result``
   reads), as an agent's posted result is.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import threading
from pathlib import Path

from suanwang.control.objects import (
    CHUNK_BYTES,
    ObjectStore,
    ObjectStoreError,
    check_digest,
    check_tenant,
)
from suanwang.execution.coderun import Staged, StagingError, stage_with, zip_outputs
from suanwang.model import TaskSpec

ARTEFACT_KIND = "artefact"
"""The kind a run of a tenant's artefact is recorded under."""

RESULT_REF = "result-{task_id}"
"""The reference a task's result is kept under (the API's ``objects.RESULT_REF``)."""


class StoreCache:
    """The node's copies of a store's objects by tenant and digest, verified before kept.

    Args:
        store: Where the objects are.
        root: The cache folder (made 0700).
    """

    def __init__(self, store: ObjectStore, root: Path) -> None:
        self.store = store
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, key: str) -> threading.Lock:
        """The lock of one cached thing (an object, an unpacked archive)."""
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def fetch(self, tenant: str, digest: str) -> tuple[Path, int]:
        """The cached file of the tenant's object ``digest``, copied from the store when missing.

        Returns:
            The path and the bytes copied now (0 for a cache hit).

        Raises:
            StagingError: the store has no such object, or its bytes hash to another digest.
        """
        folder = self.root / check_tenant(tenant)
        path = folder / check_digest(digest)
        with self.lock(f"{tenant}/{digest}"):
            if path.is_file():
                return path, 0
            folder.mkdir(exist_ok=True)
            handle, name = tempfile.mkstemp(prefix="fetch-", dir=folder)
            try:
                hasher, size = hashlib.sha256(), 0
                with os.fdopen(handle, "wb") as out:
                    stream = self.store.get(tenant, digest)
                    try:
                        while chunk := stream.read(CHUNK_BYTES):
                            hasher.update(chunk)
                            size += len(chunk)
                            out.write(chunk)
                    finally:
                        stream.close()
                if hasher.hexdigest() != digest:
                    raise StagingError(f"object {digest}: the bytes read hash to another digest")
                os.replace(name, path)
            except ObjectStoreError as error:
                raise StagingError(f"object {digest}: {error}") from None
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name)
            return path, size


def stage_from_store(cache: StoreCache, run_dir: Path, tenant: str, spec: TaskSpec) -> Staged:
    """The run's artefact (``run_dir/artefact.whl|zip``) and inputs (``run_dir/inputs``).

    Raises:
        StagingError: an object is missing or corrupt, or the manifest is not one.
    """
    return stage_with(
        lambda digest: cache.fetch(tenant, digest),
        run_dir,
        spec,
        refuse_oci="an OCI image runs on a node agent with podman only",
    )


def keep_result(store: ObjectStore, tenant: str, task_id: str, zipped: bytes) -> str:
    """Store ``zipped`` (a run's outputs) as the tenant's object and the task's result.

    Returns:
        The result's digest.
    """
    info = store.put(tenant, io.BytesIO(zipped))
    store.put_ref(tenant, RESULT_REF.format(task_id=task_id), info.digest)
    return info.digest


def zipped_outputs(folder: Path) -> tuple[bytes, int]:
    """The files under ``folder`` as a zip's bytes, and how many there are."""
    with tempfile.TemporaryDirectory(prefix="result-") as scratch:
        target = Path(scratch) / "result.zip"
        files = zip_outputs(folder, target)
        return target.read_bytes(), files
