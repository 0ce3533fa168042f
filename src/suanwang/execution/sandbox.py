"""One run of a tenant's own code in its own process, directory and limits.

``Sandbox.start`` starts a fresh interpreter (``python -I``, no interpreter shared between
runs or tenants) with the artefact first on its ``sys.path`` (then ``SandboxRun.paths``, its
installed requirements, read-only); it calls the entry
``function(inputs: Path, outputs: Path)``. The run gets ``root_dir/<tenant>/<run_id>/`` with
``work/`` (its current and temporary directory) and ``out/`` (its outputs); its stdout and
stderr are kept, bounded to ``log_bytes`` each (first and last parts), in ``stdout.log`` and
``stderr.log`` there. The run is its own process group and session, so ``cancel`` and the wall
clock's timer end the whole tree with one SIGKILL. Isolation between tenants is described in
``sandbox_jail``: bubblewrap where it works, else per-tenant 0700 directories and uids.

A run may also be served by a pre-started interpreter of ``execution.warm``, which builds its
handle here with the logs it already reads; ``SandboxResult.start`` says ``warm`` or ``cold``.

``SandboxResult.outcome`` is one of ``ok``, ``error`` (the entry raised or the process exited
non-zero), ``killed-memory``, ``killed-cpu``, ``killed-wall`` and ``cancelled``; ``reason``
says it in words (``killed: memory limit 512 MB exceeded``). The records are
``sandbox_records``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from suanwang.execution.sandbox_jail import (
    BOOTSTRAP,
    EXIT_MEMORY,
    BoundedLog,
    bwrap_argv,
    bwrap_path,
    closed_ancestor,
    limits_preexec,
    tenant_uid,
)
from suanwang.execution.sandbox_records import (
    SandboxError,
    SandboxLimits,
    SandboxResult,
    SandboxRun,
)

Isolation = Literal["auto", "bwrap", "uid"]
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_LOG_DRAIN_S = 2.0
"""Longest the log readers are waited for after the process ended (a leaked pipe holder)."""

__all__ = [  # the records (``sandbox_records``) are imported from here with the sandbox
    "Isolation",
    "Sandbox",
    "SandboxError",
    "SandboxHandle",
    "SandboxLimits",
    "SandboxResult",
    "SandboxRun",
    "run_env",
]


def _check(run: SandboxRun) -> None:
    for name in ("run_id", "tenant"):
        value = getattr(run, name)
        if not isinstance(value, str) or _NAME.fullmatch(value) is None:
            raise SandboxError(
                f"{name}: letters, digits, '.', '_' or '-', starting with a letter or digit,"
                f" at most 128 (got {value!r})"
            )
    module, _, function = run.entry.partition(":")
    if not module or not function or not all(p.isidentifier() for p in module.split(".")):
        raise SandboxError(f"entry: must be 'module:function' (got {run.entry!r})")
    if not function.isidentifier():
        raise SandboxError(f"entry: must be 'module:function' (got {run.entry!r})")
    if not run.artefact_path.is_file():
        raise SandboxError(f"artefact_path: no such file (got {str(run.artefact_path)!r})")
    if not run.input_dir.is_dir():
        raise SandboxError(f"input_dir: no such directory (got {str(run.input_dir)!r})")
    for path in run.paths:
        if not path.is_dir():
            raise SandboxError(f"paths: no such directory (got {str(path)!r})")


class SandboxHandle:
    """A started run: ``wait`` for its result, ``cancel`` it.

    A warm run (``execution.warm``) passes the ``logs`` already reading its process's output,
    and ``settle``, called once the process ended, which returns where its directory now is.
    A cold run passes ``started_s``, taken before its process was made: its wall time then
    counts what its CPU time counts, even when this thread ran late.
    """

    def __init__(
        self,
        run: SandboxRun,
        process: subprocess.Popen[bytes],
        run_dir: Path,
        bwrapped: bool,
        *,
        logs: tuple[BoundedLog, BoundedLog] | None = None,
        settle: Callable[[], Path] | None = None,
        start: str = "cold",
        started_s: float | None = None,
    ) -> None:
        self.run_id = run.run_id
        self.pid = process.pid
        self._run = run
        self._process = process
        self._run_dir = run_dir
        self._bwrapped = bwrapped
        # A cold run's wall time counts from before its process was made, as its CPU time does.
        self._started_s = time.monotonic() if started_s is None else started_s
        self._killed: str | None = None  # "cancelled" or "killed-wall", set before the kill
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._result: SandboxResult | None = None
        self._settle = settle
        self.start = start
        if logs is None:
            assert process.stdout is not None
            assert process.stderr is not None
            logs = (
                BoundedLog(process.stdout, run.limits.log_bytes),
                BoundedLog(process.stderr, run.limits.log_bytes),
            )
        self._stdout, self._stderr = logs
        self._watcher = threading.Thread(
            target=self._watch, name=f"sandbox-{run.run_id}", daemon=True
        )
        self._watcher.start()

    def wait(self, timeout_s: float) -> SandboxResult | None:
        """The result once the run ended; None if it is still running after ``timeout_s``."""
        self._done.wait(timeout_s)
        return self._result

    def cancel(self) -> None:
        """Ends the run's whole process tree now (SIGKILL to its group); its outcome: cancelled."""
        self._kill("cancelled")

    def _kill(self, why: str) -> None:
        with self._lock:
            if self._process.returncode is not None:
                return
            if self._killed is None:
                self._killed = why
            with contextlib.suppress(ProcessLookupError):  # gone: its exit is being reaped
                os.killpg(self._process.pid, signal.SIGKILL)

    def _watch(self) -> None:
        # A timer, not wait(timeout=): that one polls, at up to 50 ms, so a run's end would be
        # seen that late; a blocking wait sees it at once.
        timer = threading.Timer(self._run.limits.wall_s, self._kill, args=("killed-wall",))
        timer.daemon = True
        timer.start()
        self._process.wait()
        timer.cancel()
        with self._lock:  # no kill after this point may hit a reused process group id
            code = self._process.returncode
        wall_s = time.monotonic() - self._started_s
        stdout = self._stdout.text(_LOG_DRAIN_S)
        stderr = self._stderr.text(_LOG_DRAIN_S)
        if self._settle is not None:
            self._run_dir = self._settle()
        (self._run_dir / "stdout.log").write_text(stdout)
        (self._run_dir / "stderr.log").write_text(stderr)
        outcome, reason = self._verdict(code)
        self._result = SandboxResult(
            run_id=self.run_id,
            outcome=outcome,
            reason=reason,
            exit_code=code,
            output_dir=self._run_dir / "out",
            stdout=stdout,
            stderr=stderr,
            wall_s=wall_s,
            start=self.start,
        )
        self._done.set()

    def _verdict(self, code: int) -> tuple[str, str]:  # noqa: PLR0911 (one answer a cause)
        limits = self._run.limits
        if self._killed == "cancelled":
            return "cancelled", "cancelled: the run was stopped on request"
        if self._killed == "killed-wall":
            return "killed-wall", f"killed: wall time {limits.wall_s:g} s exceeded"
        # bubblewrap passes a signal's death on as 128 + the signal's number
        died_of = -code if code < 0 else code - 128 if self._bwrapped and code > 128 else None
        if code == EXIT_MEMORY:
            return "killed-memory", f"killed: memory limit {limits.memory_mb} MB exceeded"
        if died_of == signal.SIGXCPU:
            return "killed-cpu", f"killed: CPU time {limits.cpu_s:g} s exceeded"
        if code == 0:
            return "ok", "ok"
        if died_of is not None and died_of > 0:
            return "error", f"error: killed by signal {signal.Signals(died_of).name}"
        return "error", f"error: exit status {code}"


def run_env(work: Path) -> dict[str, str]:
    """The environment a run's interpreter gets (nothing of the agent's own)."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(work),
        "TMPDIR": str(work),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        # one thread per numeric library: the run's CPU limit is its own, not a thread pool's
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


class Sandbox:
    """Starts sandboxed runs under one per-node root directory.

    Args:
        root_dir: where runs get their directories (``root_dir/<tenant>/<run_id>/``).
        isolation: ``bwrap`` (bubblewrap required), ``uid`` (directory modes and per-tenant
            uids when root), or ``auto``: bubblewrap when it works here, else ``uid``.
        python: the interpreter runs start (default: this one).
    """

    def __init__(
        self, root_dir: Path, *, isolation: Isolation = "auto", python: Path | None = None
    ) -> None:
        import sys  # noqa: PLC0415 (only for the default interpreter)

        self.root_dir = Path(root_dir)
        self.root_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root_dir, 0o711)  # tenants may pass through, not list
        self.python = Path(python) if python is not None else Path(sys.executable)
        self._bwrap = bwrap_path() if isolation in ("auto", "bwrap") else None
        if isolation == "bwrap" and self._bwrap is None:
            raise SandboxError(
                "isolation: 'bwrap' asked but bubblewrap is missing or cannot run here"
            )
        self.isolation: str = "bwrap" if self._bwrap is not None else "uid"
        if self._bwrap is None and os.geteuid() == 0:
            # tenants' uids must reach their directories and the interpreter
            for what, path in (("root_dir", self.root_dir), ("python", self.python)):
                closed = closed_ancestor(path)
                if closed is not None:
                    raise SandboxError(
                        f"{what}: {str(path)!r} lies under {str(closed)!r}, which other uids"
                        " may not enter; per-tenant uids could not reach it"
                    )

    def start(self, run: SandboxRun) -> SandboxHandle:
        """Starts ``run`` and returns at once; raises ``SandboxError`` for a bad run."""
        _check(run)
        tenant_dir = self.root_dir / run.tenant
        run_dir = tenant_dir / run.run_id
        if run_dir.exists():
            raise SandboxError(f"run_id: {run.run_id!r} already has a directory under {tenant_dir}")
        work, out = run_dir / "work", run_dir / "out"
        tenant_dir.mkdir(mode=0o700, exist_ok=True)
        for path in (run_dir, work, out):
            path.mkdir(mode=0o700)
        uid = None
        inputs = run.input_dir.resolve()
        artefact = run.artefact_path.resolve()
        paths = [path.resolve() for path in run.paths]
        if self._bwrap is None and os.geteuid() == 0:
            uid = tenant_uid(run.tenant)
            # The tenant's uid cannot read the agent's caches: the run gets its own copies.
            inputs = Path(shutil.copytree(inputs, run_dir / "in"))
            artefact = Path(shutil.copy2(artefact, run_dir / artefact.name))
            paths = [Path(shutil.copytree(p, run_dir / f"lib{i}")) for i, p in enumerate(paths)]
            for path in (tenant_dir, *run_dir.rglob("*"), run_dir):
                os.chown(path, uid, uid, follow_symlinks=False)
        os.chmod(tenant_dir, 0o700)
        argv = [
            str(self.python),
            "-I",
            "-c",
            BOOTSTRAP,
            str(artefact),
            run.entry,
            str(inputs),
            str(out),
            *map(str, paths),
        ]
        if self._bwrap is not None:
            argv = [
                *bwrap_argv(
                    self._bwrap,
                    python=self.python,
                    readable=[artefact, inputs, *paths],
                    writable=run_dir,
                    cwd=work,
                ),
                *argv,
            ]
        started_s = time.monotonic()
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=work,
            env=run_env(work),
            start_new_session=True,
            preexec_fn=limits_preexec(run.limits.memory_mb, run.limits.cpu_s, uid),  # noqa: PLW1509
            close_fds=True,
        )
        return SandboxHandle(run, process, run_dir, self._bwrap is not None, started_s=started_s)
