"""The parts of a sandboxed run that touch the operating system: isolation, limits, logs.

Two ways of keeping one tenant's run out of another's files:

- ``bwrap`` (bubblewrap, Debian's ``bubblewrap``): the run sees only the system directories
  (read-only), the interpreter's prefixes (read-only), its artefact and inputs (read-only) and its
  own run directory (read-write), in fresh namespaces (no network, its own pid namespace, so that
  killing bubblewrap ends every process of the run);
- ``uid``: per-tenant directories of mode 0700 and, when the agent runs as root, the child runs
  as the tenant's own uid and gid (``tenant_uid``: ``UID_BASE`` plus a hash of the tenant, below
  ``UID_BASE + UID_SPAN``), so the kernel refuses it another tenant's directory.

Limits are rlimits set between fork and exec (``RLIMIT_AS`` for memory, ``RLIMIT_CPU`` for CPU
time); the wall-clock limit is the parent's timer.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

UID_BASE = 2_000_000
"""First uid (and gid) of the per-tenant range; ``UID_BASE + UID_SPAN - 1`` is the last."""
UID_SPAN = 1_000_000

EXIT_MEMORY = 120
"""Exit status the bootstrap uses when the run raised ``MemoryError`` (its address space limit)."""

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")

# The child's first code: the artefact (a wheel or zip with the package at its root) goes first
# on sys.path, then its installed requirements (any further arguments); the entry is called with
# the input and output directories; a MemoryError leaves with its own status so that the parent
# can tell a memory kill from an ordinary error.
BOOTSTRAP = f"""
import importlib, os, sys, traceback
from pathlib import Path
artefact, entry, inputs, outputs = sys.argv[1:5]
sys.path[0:0] = [artefact, *sys.argv[5:]]
try:
    module_name, _, function_name = entry.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    function(Path(inputs), Path(outputs))
except MemoryError:
    traceback.print_exc()
    sys.stderr.flush()
    os._exit({EXIT_MEMORY})
"""


def tenant_uid(tenant: str) -> int:
    """The uid (and gid) a tenant's runs get under ``uid`` isolation: stable across restarts."""
    digest = hashlib.sha256(tenant.encode()).digest()
    return UID_BASE + int.from_bytes(digest[:8], "big") % UID_SPAN


def closed_ancestor(path: Path) -> Path | None:
    """The first directory on the way to ``path`` that other uids may not pass, or None."""
    for directory in reversed(Path(os.path.realpath(path)).parents):
        if not os.stat(directory).st_mode & 0o001:
            return directory
    return None


def bwrap_path() -> str | None:
    """Bubblewrap's path when it is installed and can make its namespaces here, else None."""
    found = shutil.which("bwrap")
    if found is None:
        return None
    try:
        probe = subprocess.run(
            [found, "--ro-bind", "/", "/", "--unshare-all", "true"],
            capture_output=True,
            timeout=10.0,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found if probe.returncode == 0 else None


def interpreter_dirs(python: Path) -> list[Path]:
    """Directories the interpreter needs to start: its prefixes and where its binary lies."""
    dirs = {Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(python)).parent.parent}
    if python.parent.name == "bin":
        dirs.add(python.parent.parent)
    return sorted(dirs)


def bwrap_argv(
    bwrap: str,
    *,
    python: Path,
    readable: Sequence[Path],
    writable: Path,
    cwd: Path,
) -> list[str]:
    """Bubblewrap's command line that binds only the system, the interpreter and the run's dirs."""
    # /tmp first: a later bind under it (a root directory in /tmp) must land on the tmpfs
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--tmpfs", "/tmp"]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    for system in _SYSTEM_DIRS:
        argv += ["--ro-bind-try", system, system]
    for path in [*interpreter_dirs(python), *readable]:
        argv += ["--ro-bind", str(path), str(path)]
    argv += ["--bind", str(writable), str(writable)]
    argv += ["--chdir", str(cwd)]
    return argv


def limits_preexec(memory_mb: int, cpu_s: float, uid: int | None) -> Callable[[], None]:
    """What the child runs between fork and exec: its rlimits, then its tenant's uid if given."""
    memory_bytes = memory_mb * 1024 * 1024
    cpu_soft_s = max(1, int(-(-cpu_s // 1)))  # rlimits count whole seconds: round up

    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        # SIGXCPU at the soft limit (the outcome says cpu), SIGKILL a second later if ignored.
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_soft_s, cpu_soft_s + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)

    return preexec


class BoundedLog:
    """Reads one stream to its end on a thread, keeping its first and last parts.

    At most ``limit_bytes`` are kept: the first half and the last half of what came, with a line
    saying how many bytes between them were dropped.
    """

    def __init__(self, stream: IO[bytes], limit_bytes: int) -> None:
        self._stream = stream
        self._head_limit = limit_bytes // 2
        self._tail_limit = limit_bytes - self._head_limit
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_bytes = 0
        self.dropped_bytes = 0
        self._thread = threading.Thread(target=self._pump, name="sandbox-log", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while chunk := self._stream.read1(65536):  # type: ignore[attr-defined]
            room = self._head_limit - len(self._head)
            if room > 0:
                self._head += chunk[:room]
                chunk = chunk[room:]
            if not chunk:
                continue
            self._tail.append(chunk)
            self._tail_bytes += len(chunk)
            while self._tail_bytes - len(self._tail[0]) >= self._tail_limit:
                self._tail_bytes -= len(self._tail[0])
                self.dropped_bytes += len(self._tail.popleft())
        self._stream.close()

    def text(self, timeout_s: float) -> str:
        """What was kept, once the stream ended (or ``timeout_s`` passed), as text."""
        self._thread.join(timeout_s)
        tail = b"".join(self._tail)
        extra = len(tail) - self._tail_limit
        if extra > 0:
            tail = tail[extra:]
            self.dropped_bytes += extra
            self._tail = deque([tail])
            self._tail_bytes = len(tail)
        head = self._head.decode(errors="replace")
        if self.dropped_bytes == 0:
            return head + tail.decode(errors="replace")
        gap = f"\n[... {self.dropped_bytes} bytes dropped ...]\n"
        return head + gap + tail.decode(errors="replace")
