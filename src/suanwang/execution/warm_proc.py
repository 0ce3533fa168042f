"""One pre-started interpreter of a tenant's function, waiting on a pipe for its one run.

A warm process is started the way ``Sandbox.start`` starts a cold run (same interpreter and
``-I``, same bubblewrap command line or tenant uid, rlimits, environment, its own session and
process group, stdout and stderr read into ``BoundedLog``s), under a slot directory of its
tenant, ``root_dir/<tenant>/.w-<pool>-<n>/`` (``work/``, ``out/``; a leading dot, which no run
id may have; ``<pool>`` is random, so that a restarted agent's pool never meets its
predecessor's slots). It imports the entry, says ``{"ready": true}`` on its answer pipe and
blocks reading one request line on its stdin: ``{"inputs": PATH, "outputs": PATH}``. It then
closes its stdin, calls the entry, answers ``{"ok": true, "called_ns": N}`` or ``{"ok": false,
"error": TRACEBACK, "called_ns": N}`` (``called_ns``: ``time.perf_counter_ns`` just before the
call) and ends as a cold run ends (the same exit statuses, so the same verdicts). An import that
fails answers ``{"ready": false, "error": TRACEBACK}`` and exits.

``WarmProcess.serve`` hands the process its run: the run's id is reserved at once as a link
``root_dir/<tenant>/<run_id>`` to the slot, the inputs are made visible (bubblewrap: hard links,
or copies across file systems, in a sibling folder ``<slot>-in`` bound read-only; tenant uids:
copies owned by the tenant, as a cold run's; otherwise the staged folder itself), and the
returned ``WarmHandle`` is a ``SandboxHandle`` whose wall timer starts with the request. Once
the process ended the slot becomes ``root_dir/<tenant>/<run_id>/``, like a cold run's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suanwang.execution.sandbox import (
    Sandbox,
    SandboxError,
    SandboxHandle,
    SandboxLimits,
    SandboxRun,
    _check,
    run_env,
)
from suanwang.execution.sandbox_jail import (
    EXIT_MEMORY,
    BoundedLog,
    bwrap_argv,
    limits_preexec,
    tenant_uid,
)

_ANSWER_DRAIN_S = 2.0
"""Longest the answer reader is waited for after the process ended (a leaked pipe holder)."""

# Started as `python -I -c WARM_BOOTSTRAP artefact entry answer_fd`. The answer pipe is not
# inherited by what the entry starts; a failed call re-raises, so the interpreter prints the
# traceback and exits 1 as a cold run does.
WARM_BOOTSTRAP = f"""
import importlib, json, os, sys, time, traceback
from pathlib import Path
artefact, entry, channel = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.set_inheritable(channel, False)
answer = os.fdopen(channel, "w", buffering=1)
sys.path.insert(0, artefact)
try:
    module_name, _, function_name = entry.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
except BaseException:
    answer.write(json.dumps({{"ready": False, "error": traceback.format_exc()}}) + "\\n")
    raise
answer.write('{{"ready": true}}\\n')
line = sys.stdin.readline()
if not line:
    sys.exit(0)
request = json.loads(line)
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.close(null)
called_ns = time.perf_counter_ns()
try:
    function(Path(request["inputs"]), Path(request["outputs"]))
except MemoryError:
    traceback.print_exc()
    sys.stderr.flush()
    answer.write(json.dumps({{"ok": False, "error": "MemoryError", "called_ns": called_ns}}))
    os._exit({EXIT_MEMORY})
except BaseException:
    error = traceback.format_exc()
    answer.write(json.dumps({{"ok": False, "error": error, "called_ns": called_ns}}) + "\\n")
    raise
answer.write(json.dumps({{"ok": True, "called_ns": called_ns}}) + "\\n")
"""


@dataclass(frozen=True, slots=True)
class WarmKey:
    """What a warm process may serve: one tenant's entry of one artefact, within its limits."""

    tenant: str
    digest: str  # the artefact archive's sha256, as its caller verified it
    entry: str
    limits: SandboxLimits


class WarmHandle(SandboxHandle):
    """A warm run: a ``SandboxHandle`` (``start == "warm"``) that also holds the answer."""

    def __init__(
        self,
        warm: WarmProcess,
        run: SandboxRun,
        settle: Callable[[], Path],
        ended: Callable[[], None],
    ) -> None:
        self._warm = warm
        self._ended = ended  # set first: the watcher thread starts in the base's __init__
        super().__init__(
            run, warm.process, warm.slot, warm.bwrapped, logs=warm.logs, settle=settle, start="warm"
        )

    def _watch(self) -> None:
        try:
            super()._watch()
        finally:
            self._ended()

    def answer(self, timeout_s: float) -> dict[str, Any] | None:
        """The run's answer (``ok``, ``error``, ``called_ns``); None if none came in time."""
        self._warm.answered.wait(timeout_s)
        return self._warm.answer_doc


class WarmProcess:
    """One pre-started interpreter of ``key`` in the slot ``slot`` (see the module docstring).

    Args:
        sandbox: Whose interpreter, isolation and root it uses.
        key: What it serves.
        artefact: The artefact's archive, where the process may read it.
        slot: Its slot directory (made here).
        uid: The tenant's uid under ``uid`` isolation as root, else None.
        now_s: When it starts, on the pool's clock (its idle time counts from here).
        on_ready: Called (on a thread of its own) once it said whether it imported its entry.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        key: WarmKey,
        artefact: Path,
        slot: Path,
        *,
        uid: int | None,
        now_s: float,
        on_ready: Callable[[WarmProcess], None] = lambda _: None,
    ) -> None:
        self.key = key
        self._on_ready = on_ready
        self.slot = slot
        self.in_dir = slot.with_name(slot.name + "-in")
        self.since_s = now_s
        self.bwrapped = sandbox._bwrap is not None
        self._uid = uid
        self.ready = threading.Event()
        self.answered = threading.Event()
        self.discarded = False  # ended by its pool, not by a failure of its own
        self.ready_doc: dict[str, Any] | None = None
        self.answer_doc: dict[str, Any] | None = None
        work = slot / "work"
        for path in (slot, work, slot / "out"):
            path.mkdir(mode=0o700)
        if uid is not None:
            for path in (slot, work, slot / "out"):
                os.chown(path, uid, uid)
        readable = [artefact]
        if self.bwrapped:
            self.in_dir.mkdir(mode=0o700)
            readable.append(self.in_dir)
        read_end, write_end = os.pipe()
        argv = [str(sandbox.python), "-I", "-c", WARM_BOOTSTRAP, str(artefact), key.entry]
        argv.append(str(write_end))
        if sandbox._bwrap is not None:
            jail = bwrap_argv(
                sandbox._bwrap, python=sandbox.python, readable=readable, writable=slot, cwd=work
            )
            argv = [*jail, *argv]
        try:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=work,
                env=run_env(work),
                start_new_session=True,
                preexec_fn=limits_preexec(key.limits.memory_mb, key.limits.cpu_s, uid),  # noqa: PLW1509
                close_fds=True,
                pass_fds=(write_end,),
            )
        finally:
            os.close(write_end)
        self.pid = self.process.pid
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        log_bytes = key.limits.log_bytes
        self.logs = (
            BoundedLog(self.process.stdout, log_bytes),
            BoundedLog(self.process.stderr, log_bytes),
        )
        self._reader = threading.Thread(
            target=self._read_answers, args=(read_end,), name=f"warm-{self.pid}", daemon=True
        )
        self._reader.start()

    def _read_answers(self, read_end: int) -> None:
        with os.fdopen(read_end, "rb") as answers:
            # two lines at most: the ready line, then the run's answer
            for number, line in zip(range(2), answers, strict=False):
                doc = _parsed(line)
                if number == 0:
                    self.ready_doc = doc
                    self.ready.set()
                    self._on_ready(self)
                else:
                    self.answer_doc = doc
        if not self.ready.is_set():  # it ended before it said: never usable
            self.ready.set()
            self._on_ready(self)
        self.answered.set()

    @property
    def usable(self) -> bool:
        """Whether it imported its entry and still waits for a run."""
        doc = self.ready_doc
        return doc is not None and doc.get("ready") is True and self.process.poll() is None

    def serve(
        self, run: SandboxRun, root_dir: Path, ended: Callable[[], None] = lambda: None
    ) -> WarmHandle:
        """Hands it ``run`` (of its key) and returns the run's handle at once.

        ``ended`` is called once the run's result is made (its process ended).

        Raises:
            SandboxError: a bad run, or its run id already has a directory.
        """
        _check(run)
        run_dir = root_dir / run.tenant / run.run_id
        try:
            os.symlink(self.slot, run_dir)  # reserves the run id while the slot holds the run
        except FileExistsError:
            raise SandboxError(
                f"run_id: {run.run_id!r} already has a directory under {run_dir.parent}"
            ) from None
        try:
            inputs = self._stage_inputs(run.input_dir.resolve())
        except BaseException:
            os.unlink(run_dir)  # the run id is free again; the caller discards this process
            raise

        def settle() -> Path:
            os.unlink(run_dir)
            os.rename(self.slot, run_dir)
            shutil.rmtree(self.in_dir, ignore_errors=True)
            self.answered.wait(_ANSWER_DRAIN_S)
            return run_dir

        handle = WarmHandle(self, run, settle, ended)
        request = {"inputs": str(inputs), "outputs": str(self.slot / "out")}
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # it died: the handle reports how
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.close()
        return handle

    def _stage_inputs(self, inputs: Path) -> Path:
        """Where the process sees the run's inputs (see the module docstring)."""
        if self.bwrapped:
            # links stay links, as a cold run sees them through its read-only bind
            shutil.copytree(
                inputs, self.in_dir, symlinks=True, copy_function=_link_or_copy, dirs_exist_ok=True
            )
            return self.in_dir
        if self._uid is not None:  # the tenant's uid cannot read the agent's caches
            copied = Path(shutil.copytree(inputs, self.slot / "in"))
            for path in (*copied.rglob("*"), copied):
                os.chown(path, self._uid, self._uid, follow_symlinks=False)
            return copied
        return inputs

    def discard(self) -> None:
        """Ends it unused (expired, evicted or the pool closed) and removes its slot."""
        self.discarded = True
        # Only this pool reaps an unused process, so its group id is still its own here.
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        shutil.rmtree(self.slot, ignore_errors=True)
        shutil.rmtree(self.in_dir, ignore_errors=True)


def _parsed(line: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or a file the agent may not link
        shutil.copy2(source, target)


def uid_of(sandbox: Sandbox, tenant: str) -> int | None:
    """The uid a tenant's processes get in ``sandbox``: its own as root without bubblewrap."""
    if sandbox._bwrap is None and os.geteuid() == 0:
        return tenant_uid(tenant)
    return None
