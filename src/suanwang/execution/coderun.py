"""A tenant's own code on a node: stage its artefact and inputs, run it sandboxed, send back.

For a task that names an artefact, the agent (``execution.agent``) hands the run here:

1. staging: the artefact's manifest, its archive and each input are fetched from the control
   plane by digest (``GET /v1/agents/{node}/runs/{run}/objects/{digest}``: only what the run
   names is served) into the node's cache, ``cache/<tenant>/<digest>``, each verified against
   its digest before it is renamed into place; an object already cached is not fetched again.
   The inputs are linked into the run's input folder under their digests. The time it took is
   measured and said in the run's report.
2. the run: ``execution.sandbox`` (its own interpreter, directory and limits: memory from the
   task's ``mem_gib``, wall time from its maximum run time, CPU time the wall time times its
   cores), called as ``function(inputs, outputs)`` in a fresh interpreter, or in a pre-started
   one of the node's warm pool (``execution.warm``) when it has one ready (the report says
   ``warm`` or ``cold`` start); an artefact that declares requirements gets them installed
   from the node's wheelhouse (``execution.requirements``) and starts cold (an ``oci`` image
   runs its own command with podman instead, ``execution.oci``); its stdout and
   stderr (first and last parts) are sent as the run's logs
   (``PUT /v1/agents/{node}/runs/{run}/logs``) before the run is reported, whether it
   succeeded or failed;
3. the result: the run's output folder, zipped, is posted as the task's result
   (``POST /v1/agents/{node}/runs/{run}/result``), read by its owner at
   ``GET /v1/tasks/{id}/result``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from suanwang.control.artefacts import Artefact
from suanwang.control.objects import CHUNK_BYTES, check_digest, check_tenant
from suanwang.execution.agent_runs import cut
from suanwang.execution.kinds import WorkOutcome
from suanwang.execution.oci import OciRunner
from suanwang.execution.requirements import Wheelhouse, requirement_paths
from suanwang.execution.sandbox import Sandbox, SandboxHandle, SandboxLimits, SandboxRun
from suanwang.execution.warm import WarmPool
from suanwang.model import TaskSpec

SUFFIXES = {"wheel": ".whl", "zip": ".zip", "oci": ".tar"}
"""The staged archive's file suffix per artefact format."""

DEFAULT_WALL_S = 120.0
"""Wall-time limit of a run whose task and agent set no maximum run time."""

WAIT_SLICE_S = 0.25
"""How long one wait on the sandbox lasts before the cancel flag is looked at again."""


class CodeRunCancelledError(RuntimeError):
    """The run was cancelled (its process tree killed) before it ended."""


class StagingError(RuntimeError):
    """An object of the run could not be fetched or did not match its digest."""


@dataclass(frozen=True, slots=True)
class Staged:
    """What staging made ready: the archive to run, the input folder, the time it took."""

    artefact: Artefact
    archive: Path
    input_dir: Path
    staged_bytes: int
    fetched_bytes: int
    staging_s: float


class ObjectCache:
    """The node's objects by tenant and digest, fetched once, verified before they are kept.

    Args:
        root: The cache folder.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def fetch(self, client: httpx.Client, url: str, tenant: str, digest: str) -> tuple[Path, int]:
        """The cached file of ``digest``, fetched from ``url`` when missing.

        Returns:
            The path and the bytes fetched now (0 for a cache hit).

        Raises:
            StagingError: the control plane refused it, or the bytes hash to another digest.
        """
        folder = self.root / check_tenant(tenant)
        path = folder / check_digest(digest)
        with self._lock(f"{tenant}/{digest}"):
            if path.is_file():
                return path, 0
            folder.mkdir(exist_ok=True)
            handle, name = tempfile.mkstemp(prefix="fetch-", dir=folder)
            try:
                hasher, size = hashlib.sha256(), 0
                # identity: the server would gzip the bytes, at a few tens of MB/s, for nothing
                plain = {"Accept-Encoding": "identity"}
                with (
                    os.fdopen(handle, "wb") as out,
                    client.stream("GET", url, headers=plain) as answer,
                ):
                    if answer.status_code != 200:
                        answer.read()
                        raise StagingError(f"object {digest}: {answer.status_code} {answer.text}")
                    for chunk in answer.iter_bytes(CHUNK_BYTES):
                        hasher.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                if hasher.hexdigest() != digest:
                    raise StagingError(f"object {digest}: the bytes fetched hash to another digest")
                os.replace(name, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name)
                raise
            return path, size


def stage(
    client: httpx.Client,
    cache: ObjectCache,
    base_url: str,
    run_dir: Path,
    *,
    tenant: str,
    spec: TaskSpec,
) -> Staged:
    """Fetch the run's artefact and inputs (see the module docstring) into ``run_dir``.

    Raises:
        StagingError: an object is unavailable or corrupt, or the manifest is not one.
    """
    return stage_with(
        lambda digest: cache.fetch(client, f"{base_url}/objects/{digest}", tenant, digest),
        run_dir,
        spec,
    )


def stage_with(
    fetch: Callable[[str], tuple[Path, int]],
    run_dir: Path,
    spec: TaskSpec,
    *,
    refuse_oci: str | None = None,
) -> Staged:
    """The run's artefact (``run_dir/artefact.whl|zip|tar``) and inputs (``run_dir/inputs``).

    ``fetch`` gives the cached, verified file of a digest and the bytes it copied now (0 for a
    cache hit): over HTTP for the agents, from the store for the local and Ray engines. Files
    are hard-linked from the cache, never copied. ``refuse_oci``: the reason an image artefact
    cannot run here (None: it can).

    Raises:
        StagingError: an object is unavailable or corrupt, the manifest is not one, or the
            artefact is an image and ``refuse_oci`` says why it cannot run.
    """
    assert spec.artefact is not None
    started = time.perf_counter()
    fetched = 0

    def get(digest: str) -> Path:
        nonlocal fetched
        path, size = fetch(digest)
        fetched += size
        return path

    try:
        artefact = Artefact.from_manifest(get(spec.artefact).read_bytes())
    except ValueError as exc:
        raise StagingError(f"artefact {spec.artefact}: {exc}") from None
    if artefact.format == "oci" and refuse_oci is not None:
        raise StagingError(f"artefact {spec.artefact}: {refuse_oci}")
    archive = run_dir / f"artefact{SUFFIXES[artefact.format]}"
    os.link(get(artefact.archive), archive)
    input_dir = run_dir / "inputs"
    input_dir.mkdir()
    staged = 0
    for digest in spec.inputs:
        target = input_dir / digest
        if not target.exists():
            os.link(get(digest), target)
            staged += target.stat().st_size
    return Staged(artefact, archive, input_dir, staged, fetched, time.perf_counter() - started)


def zip_outputs(folder: Path, target: Path) -> int:
    """Zip the files under ``folder`` into ``target`` (paths relative); returns the count."""
    count = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.write(path, path.relative_to(folder).as_posix())
                count += 1
    return count


def limits_for(spec: TaskSpec, max_run_s: float | None) -> SandboxLimits:
    """The sandbox limits of a run of ``spec``: its memory, its run time, its cores' CPU time."""
    wall_s = max_run_s if max_run_s else DEFAULT_WALL_S
    memory_mb = max(64, round(spec.mem_gib * 1024))
    return SandboxLimits(
        memory_mb=memory_mb, cpu_s=wall_s * max(1.0, spec.cpu_cores), wall_s=wall_s
    )


@dataclass(frozen=True, slots=True)
class CodeRun:
    """One run of a tenant's code: whose, what, where it reports."""

    run_id: str
    tenant: str
    spec: TaskSpec
    node_id: str
    max_run_s: float | None


def run_code(
    client: httpx.Client,
    cache: ObjectCache,
    sandbox: Sandbox,
    run: CodeRun,
    *,
    cancelled: threading.Event,
    started: Callable[[SandboxHandle], None] = lambda _: None,
    warm: WarmPool | None = None,
    wheelhouse: Wheelhouse | None = None,
    oci: OciRunner | None = None,
) -> WorkOutcome:
    """Stage, run and send back ``run`` (see the module docstring).

    Args:
        client: The agent's client of the control plane.
        cache: The node's object cache.
        sandbox: Where the run runs.
        run: The run.
        cancelled: Set to stop the run (its process tree is killed).
        started: Told the sandbox handle once the run's process is up.
        warm: The node's warm pool over ``sandbox``; None starts every run cold.
        wheelhouse: Where the artefacts' requirements come from; None fails an artefact that
            declares any.
        oci: Runs ``oci`` artefacts (images) with podman; None fails them.

    Returns:
        The outcome: the sandbox's wall time as compute time, the result's digest.

    Raises:
        CodeRunCancelledError: ``cancelled`` was set, or the sandbox says the run was cancelled.
        StagingError: staging failed.
        RequirementsError: the artefact's requirements could not be installed (naming one).
        RuntimeError: the run failed or was killed; the message says why, with its stderr.
    """
    base_url = f"/v1/agents/{run.node_id}/runs/{run.run_id}"
    sandbox_id = run.run_id.replace("~", "-r")
    with tempfile.TemporaryDirectory(prefix="stage-", dir=cache.root) as folder:
        staged = stage(client, cache, base_url, Path(folder), tenant=run.tenant, spec=run.spec)
        image = staged.artefact.format == "oci"
        paths = () if image else requirement_paths(staged.archive, wheelhouse)
        sandbox_run = SandboxRun(
            run_id=sandbox_id,
            tenant=run.tenant,
            artefact_path=staged.archive,
            entry=run.spec.entry or staged.artefact.entry,
            input_dir=staged.input_dir,
            root_dir=sandbox.root_dir,
            limits=limits_for(run.spec, run.max_run_s),
            paths=paths,
        )
        if image:
            if oci is None:
                raise RuntimeError("the artefact is an OCI image, and this node has no podman")
            handle = oci.start(sandbox_run, staged.artefact.archive)
        elif warm is None or paths:  # a warm interpreter has only the artefact on its path
            handle = sandbox.start(sandbox_run)
        else:
            handle = warm.start(sandbox_run, digest=staged.artefact.archive)
        started(handle)
        started_at_s = time.time()
        result = None
        while result is None:
            if cancelled.is_set():
                handle.cancel()
                raise CodeRunCancelledError(run.run_id)
            result = handle.wait(WAIT_SLICE_S)
        if result.outcome == "cancelled":
            raise CodeRunCancelledError(run.run_id)
        # Sent before the finished report, so the logs are there once the task is final; a
        # refusal costs the logs only, never the run.
        logs = {"outcome": result.outcome, "stdout": cut(result.stdout)}
        logs["stderr"] = cut(result.stderr)
        client.put(f"{base_url}/logs", json=logs)
        if result.outcome != "ok":
            tail = result.stderr.strip().splitlines()[-3:]
            raise RuntimeError(f"{result.reason}" + (f": {' | '.join(tail)}" if tail else ""))
        zipped = Path(folder) / "result.zip"
        files = zip_outputs(result.output_dir, zipped)
        with zipped.open("rb") as body:
            answer = client.post(f"{base_url}/result", content=body)
        if answer.status_code != 201:
            raise RuntimeError(f"result not stored: {answer.status_code} {answer.text}")
    digest = answer.json()["digest"]
    summary = {
        "result": digest,
        "files": files,
        "staged_bytes": staged.staged_bytes,
        "fetched_bytes": staged.fetched_bytes,
        "staging_ms": round(staged.staging_s * 1000, 1),
        "start": result.start,
    }
    where = (
        f"sandbox {sandbox.isolation}, {result.start} start; staged {staged.staged_bytes} B of"
        f" input in {summary['staging_ms']} ms; result {digest[:12]}, {files} files"
    )
    return WorkOutcome(summary, result.wall_s, started_at_s, where)
