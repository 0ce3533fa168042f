"""A tenant's OCI image run with podman, where the node has it (Debian's ``podman``).

An ``oci`` artefact is an image archive (``podman save`` or ``docker save``: a tar holding
``manifest.json``, or an OCI layout holding ``index.json``). The node loads it once per digest,
tagged ``localhost/suanwang/<digest>``, from the verified archive: nothing is pulled from a
registry. A run is ``podman run`` of the image's own command with no network, the run's inputs
mounted read-only at ``/inputs`` and its output folder at ``/outputs`` (zipped as its result,
as for any artefact), its memory limit (``--memory``) and its wall-time limit (a timer that
kills the container); stdout and stderr are kept bounded as a sandbox's are.

What this machine taught: podman's default runtime (crun) refuses a host whose cgroups are in
hybrid mode, and its default rlimits (1,048,576 open files and processes) cannot be set without
``CAP_SYS_RESOURCE``; so ``runc`` is used where it is installed, and the container gets the
rlimits ``NOFILE_LIMIT`` and ``NPROC_LIMIT``.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from pathlib import Path

from suanwang.execution.sandbox import SandboxError, SandboxHandle, SandboxRun
from suanwang.execution.sandbox_jail import BoundedLog

NOFILE_LIMIT = 1024
"""Open files a container may hold (lowering needs no privilege, raising does)."""
NPROC_LIMIT = 4096
"""Processes of the container's uid (root: shared with the node's root processes)."""
PODMAN_TIMEOUT_S = 120.0
"""Longest a podman command other than a run may take (loading an image, removing one)."""


def podman_path() -> str | None:
    """Podman's path when installed here, else None."""
    return shutil.which("podman")


class OciRunner:
    """Loads and runs OCI artefacts with podman (module docstring).

    Args:
        podman: Podman's path.
        runtime: The OCI runtime podman uses; None takes ``runc`` where installed, else
            podman's default.
    """

    def __init__(self, podman: str, runtime: str | None = None) -> None:
        self.podman = podman
        self.runtime = runtime or shutil.which("runc")
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _argv(self, *args: str) -> list[str]:
        head = [self.podman] + (["--runtime", self.runtime] if self.runtime else [])
        return [*head, *args]

    def _podman(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._argv(*args), check=False, capture_output=True, text=True,
            timeout=PODMAN_TIMEOUT_S,
        )  # fmt: skip

    def image(self, archive: Path, digest: str) -> str:
        """The image of the verified ``archive`` (object ``digest``), loaded the first time.

        Raises:
            RuntimeError: podman could not load it (its error).
        """
        tag = f"localhost/suanwang/{digest}:latest"
        with self._guard:
            lock = self._locks.setdefault(digest, threading.Lock())
        with lock:
            if self._podman("image", "exists", tag).returncode == 0:
                return tag
            loaded = self._podman("load", "--quiet", "--input", str(archive))
            if loaded.returncode != 0:
                raise RuntimeError(f"the image did not load: {loaded.stderr.strip()}")
            # "Loaded image: NAME" or "Loaded image(s): NAME, ..."; the first names it
            name = loaded.stdout.strip().splitlines()[-1].partition(":")[2].split(",")[0]
            tagged = self._podman("tag", name.strip(), tag)
            if tagged.returncode != 0:
                raise RuntimeError(f"the image did not load: {tagged.stderr.strip()}")
            if not name.strip().startswith("sha256:"):  # a tenant's name: another may reuse it
                self._podman("untag", tag, name.strip())
            return tag

    def start(self, run: SandboxRun, digest: str) -> SandboxHandle:
        """Start ``run`` (its ``artefact_path`` the image archive of object ``digest``).

        Raises:
            SandboxError: the run's directory exists already.
            RuntimeError: the image did not load.
        """
        image = self.image(run.artefact_path, digest)
        run_dir = run.root_dir / run.tenant / run.run_id
        if run_dir.exists():
            raise SandboxError(f"run_id: {run.run_id!r} already has a directory")
        (run_dir / "out").mkdir(parents=True, mode=0o700)
        name = f"suanwang-{run.tenant}-{run.run_id}"
        argv = self._argv(
            "run", "--name", name, "--network", "none", "--pull", "never",
            "--memory", f"{run.limits.memory_mb}m",
            "--ulimit", f"nofile={NOFILE_LIMIT}:{NOFILE_LIMIT}",
            "--ulimit", f"nproc={NPROC_LIMIT}:{NPROC_LIMIT}",
            "--volume", f"{run.input_dir.resolve()}:/inputs:ro",
            "--volume", f"{(run_dir / 'out').resolve()}:/outputs",
            image,
        )  # fmt: skip
        started_s = time.monotonic()
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
        assert process.stdout is not None
        assert process.stderr is not None
        logs = (
            BoundedLog(process.stdout, run.limits.log_bytes),
            BoundedLog(process.stderr, run.limits.log_bytes),
        )
        return OciHandle(
            self, name, run, process=process, run_dir=run_dir, logs=logs, started_s=started_s
        )

    def kill(self, name: str) -> None:
        """Kill container ``name`` at once (SIGKILL to its processes)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._podman("kill", "--signal", "KILL", name)

    def state(self, name: str, field: str) -> str:
        """A field of container ``name``'s state (``Pid``, ``OOMKilled``); empty if unknown."""
        answer = self._podman("inspect", "--format", f"{{{{.State.{field}}}}}", name)
        return answer.stdout.strip() if answer.returncode == 0 else ""

    def remove(self, name: str) -> None:
        """Remove container ``name`` (its run ended)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._podman("rm", "--force", name)


class OciHandle(SandboxHandle):
    """A started container: ``wait`` for its result, ``cancel`` it (kills the container)."""

    def __init__(
        self,
        runner: OciRunner,
        name: str,
        run: SandboxRun,
        *,
        process: subprocess.Popen[bytes],
        run_dir: Path,
        logs: tuple[BoundedLog, BoundedLog],
        started_s: float,
    ) -> None:
        self._runner, self._name = runner, name
        super().__init__(
            run, process, run_dir, False, logs=logs, started_s=started_s, start="container"
        )

    def _kill(self, why: str) -> None:
        with self._lock:
            if self._process.returncode is not None:
                return
            if self._killed is None:
                self._killed = why
        self._runner.kill(self._name)  # the container's processes are not podman's children

    def _verdict(self, code: int) -> tuple[str, str]:
        oom = self._killed is None and code != 0
        oom = oom and self._runner.state(self._name, "OOMKilled") == "true"
        self._runner.remove(self._name)
        if oom:
            return "killed-memory", f"killed: memory limit {self._run.limits.memory_mb} MB exceeded"
        if code == 0 or self._killed is not None:
            return super()._verdict(code)
        return "error", f"error: exit status {code}"

    def container_pid(self, timeout_s: float = 5.0) -> int | None:
        """The host pid of the container's first process, once it runs (bounded wait)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self._process.poll() is None:
            pid = self._runner.state(self._name, "Pid")
            if pid not in ("", "0"):
                return int(pid)
            time.sleep(0.05)
        return None
