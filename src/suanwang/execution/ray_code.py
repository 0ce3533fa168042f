"""A tenant's artefact on the Ray engine, through Ray's runtime environments.

The driver (``RayEngine``) stages a run from the object store (``execution.storerun``): the
artefact's archive, verified against its digest, is repacked once in the driver's cache as a
zip with one top folder (``<digest>/...``, which Ray strips), and that zip's ``file://`` URI
becomes the Ray task's ``runtime_env`` ``working_dir``: the Ray node unpacks it from the local
file (no network, no package index; the cache must be a folder every Ray node sees — one
machine, or a shared file system) and starts the task in a worker of that environment, with
the unpacked folder as its current directory and first on ``sys.path``. (Ray takes a local
folder only at ``ray.init``, for a whole job; a per-task environment needs a URI.) The
artefact's requirements, installed from the wheelhouse (``execution.requirements``), are packed
into the same zip, beside its own files.

The inputs, read and verified from the store, travel as the task's arguments (Ray's object
store) and are written to an input folder on the Ray node; the entry is called as
``function(inputs, outputs)``; the output folder comes back zipped and the driver stores it as
the task's result. One artefact is one runtime environment: its workers are reused by its
later runs, never by another artefact's.

Cancelling an artefact's run kills its worker process (``ray.cancel(force=True)``): a tenant's
function need not look at an interrupt flag to be stopped.
"""

from __future__ import annotations

import importlib
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suanwang.execution.kinds import WorkOutcome
from suanwang.execution.requirements import Wheelhouse, requirement_paths
from suanwang.execution.storerun import StoreCache, stage_from_store, zipped_outputs
from suanwang.model import Task


@dataclass(frozen=True, slots=True)
class StagedCode:
    """A run staged on the driver: where its code is, what it calls, its inputs' bytes."""

    working_dir: str
    entry: str
    inputs: dict[str, bytes]
    staged_bytes: int
    staging_s: float


def stage_for_ray(cache: StoreCache, task: Task, wheelhouse: Wheelhouse | None) -> StagedCode:
    """Stage ``task``'s artefact and inputs from the store (see the module docstring).

    Raises:
        StagingError: an object is missing or corrupt, or the manifest is not one.
        RequirementsError: the artefact's requirements could not be installed (naming one).
    """
    spec = task.spec
    with tempfile.TemporaryDirectory(prefix="ray-stage-", dir=cache.root) as folder:
        staged = stage_from_store(cache, Path(folder), task.tenant, spec)
        archive_digest = staged.artefact.archive
        archive, _ = cache.fetch(task.tenant, archive_digest)
        paths = requirement_paths(archive, wheelhouse)
        package = ray_package(cache, task.tenant, archive_digest, archive, paths)
        working_dir = package.as_uri()
        inputs = {path.name: path.read_bytes() for path in sorted(staged.input_dir.iterdir())}
    return StagedCode(
        working_dir,
        spec.entry or staged.artefact.entry,
        inputs,
        staged.staged_bytes,
        staged.staging_s,
    )


def ray_package(
    cache: StoreCache, tenant: str, digest: str, archive: Path, paths: tuple[Path, ...] = ()
) -> Path:
    """The verified ``archive`` repacked under one top folder for Ray, made once.

    The installed requirements in ``paths`` are packed beside the artefact's own files (which
    come first where both hold a path), so the one ``working_dir`` holds all a run imports.
    """
    extra = "-".join(path.name for path in paths)
    name = f"{digest}-{extra}" if extra else digest
    target = cache.root / tenant / f"{name}.ray.zip"
    with cache.lock(f"{tenant}/{name}.ray"):
        if target.is_file():
            return target
        handle, scratch = tempfile.mkstemp(prefix="ray-", suffix=".zip", dir=target.parent)
        os.close(handle)
        try:
            with zipfile.ZipFile(archive) as source, zipfile.ZipFile(scratch, "w") as packed:
                members = {m.filename for m in source.infolist() if not m.is_dir()}
                for member in sorted(members):  # members stay inside: checked at push
                    packed.writestr(f"{digest}/{member}", source.read(member))
                for path in paths:
                    for file in sorted(p for p in path.rglob("*") if p.is_file()):
                        relative = file.relative_to(path).as_posix()
                        if relative not in members:
                            packed.write(file, f"{digest}/{relative}")
            os.replace(scratch, target)
        finally:
            if os.path.exists(scratch):
                os.unlink(scratch)
        return target


@dataclass(frozen=True, slots=True)
class CodeResult:
    """What an artefact's Ray task sends back: its outputs zipped, its time, its node."""

    zipped: bytes
    files: int
    wall_s: float
    started_at_s: float
    ray_node: str


def run_artefact(entry: str, inputs: dict[str, bytes]) -> CodeResult:
    """Body of an artefact's Ray task: call the entry from the runtime environment.

    Raises:
        Exception: whatever the tenant's function raised.
    """
    with tempfile.TemporaryDirectory(prefix="suanwang-run-") as folder:
        input_dir, output_dir = Path(folder, "inputs"), Path(folder, "outputs")
        input_dir.mkdir()
        output_dir.mkdir()
        for name, data in inputs.items():
            (input_dir / name).write_bytes(data)
        module_name, _, function_name = entry.partition(":")
        started_at_s, started = time.time(), time.perf_counter()
        function = getattr(importlib.import_module(module_name), function_name)
        function(input_dir, output_dir)
        wall_s = time.perf_counter() - started
        zipped, files = zipped_outputs(output_dir)
    ray: Any = importlib.import_module("ray")
    node = str(ray.get_runtime_context().get_node_id())
    return CodeResult(zipped, files, wall_s, started_at_s, node)


def outcome_of(result: CodeResult, digest: str, staged: StagedCode) -> WorkOutcome:
    """The run's outcome as the engine reports it, naming the stored result."""
    summary = {
        "result": digest,
        "files": result.files,
        "staged_bytes": staged.staged_bytes,
        "staging_ms": round(staged.staging_s * 1000, 1),
    }
    return WorkOutcome(summary, result.wall_s, result.started_at_s, result.ray_node)
