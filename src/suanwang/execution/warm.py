"""Warm pools: interpreters that already imported a tenant's function, one run each.

``WarmPool.start`` takes the place of ``Sandbox.start`` for a run whose artefact's digest is
known. Runs are grouped by ``WarmKey`` (tenant, artefact digest, entry and limits): the pool
keeps up to ``per_key`` pre-started processes of a key (``execution.warm_proc``), and a run of
that key is handed to one that is ready (its report says ``warm``), else it starts cold as
before (``cold``). A warm process serves one run and ends with it; once its result is made,
a background thread starts its replacement. So no state, file or memory passes from one run to
the next, and since the key holds the tenant, no process ever serves another tenant. Its
isolation is a cold run's: the same uid or bubblewrap jail, its own directory, rlimits, session
and process group, a wall timer from the request on, bounded logs, and cancel is one SIGKILL of
its group.

A key's first run (cold) is what makes the pool want processes of it. A key not used for
``ttl_s`` is dropped and its idle processes ended (scale to zero), as is any process idle that
long. The pool holds at most ``max_processes`` processes, and at most ``max_memory_mb`` of their
memory limits together (each is held to its limit by ``RLIMIT_AS``, so that is a bound on what
they can take); a full pool starts no more until some are used or expire. A key whose import
fails is dropped at once (its runs go on cold and report the error as a cold run does).

What differs from a cold run: the CPU time the import took counts against the run's CPU
limit (it is the same process), and under ``uid`` isolation a run shares its uid with its own
tenant's idle processes, as with its tenant's other runs under way (bubblewrap's jail shows a
run none of them); never with another tenant's.

Expiry and refill are ``warm_upkeep`` (``WarmUpkeep``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable

from suanwang.execution.sandbox import Sandbox, SandboxError, SandboxHandle, SandboxRun, _check
from suanwang.execution.warm_proc import WarmKey, WarmProcess, uid_of
from suanwang.execution.warm_upkeep import WantedKey, WarmUpkeep

__all__ = ["WarmKey", "WarmPool"]


_DIGEST = re.compile(r"[0-9a-f]{64}")


def _key_of(run: SandboxRun, digest: str) -> WarmKey:
    """``run``'s key, once the run and the digest are checked (``SandboxError`` names them)."""
    _check(run)
    if not isinstance(digest, str) or _DIGEST.fullmatch(digest) is None:
        raise SandboxError(f"digest: must be 64 lowercase hex digits, a sha256 (got {digest!r})")
    return WarmKey(run.tenant, digest, run.entry, run.limits)


class WarmPool(WarmUpkeep):
    """Pre-started interpreters per ``WarmKey`` over one ``Sandbox`` (see the module docstring).

    Args:
        sandbox: The sandbox whose root, interpreter and isolation every process uses.
        per_key: Ready processes kept per key.
        max_processes: Processes the pool holds at most (ready or starting).
        max_memory_mb: Sum of their memory limits at most.
        ttl_s: Idle time after which a process, or a key's want, expires.
        clock: Seconds, for idle times (``time.monotonic``; tests inject their own).
        maintain_every_s: Pause of the background thread that expires and refills between
            wake-ups; None runs no thread (the caller calls ``maintain``).
    """

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        per_key: int = 2,
        max_processes: int = 16,
        max_memory_mb: int = 8192,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        maintain_every_s: float | None = 0.5,
    ) -> None:
        for name, value in (
            ("per_key", per_key),
            ("max_processes", max_processes),
            ("max_memory_mb", max_memory_mb),
            ("ttl_s", ttl_s),
        ):
            if not value > 0 or value == float("inf"):
                raise SandboxError(f"{name}: must be a positive finite number (got {value!r})")
        self.sandbox = sandbox
        self.per_key = per_key
        self.max_processes = max_processes
        self.max_memory_mb = max_memory_mb
        self.ttl_s = ttl_s
        self._clock = clock
        self._changed = threading.Condition()
        self._idle: dict[WarmKey, list[WarmProcess]] = {}
        self._starting: dict[WarmKey, int] = {}
        self._wanted: dict[WarmKey, WantedKey] = {}
        self._numbers = itertools.count(1)
        self._tag = secrets.token_hex(4)  # slot names of this pool only
        self.warm_starts = 0
        self.cold_starts = 0
        self.expired = 0
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        if maintain_every_s is not None:
            self._thread = threading.Thread(
                target=self._maintain_loop, args=(maintain_every_s,), name="warm-pool", daemon=True
            )
            self._thread.start()

    # -- runs -----------------------------------------------------------------------------

    def start(self, run: SandboxRun, *, digest: str) -> SandboxHandle:
        """Starts ``run`` on a ready process of its key, else cold; returns at once.

        Args:
            run: The run (its ``root_dir`` must be the sandbox's).
            digest: The sha256 of ``run.artefact_path``, as the caller verified it.

        Raises:
            SandboxError: a bad run, or one whose run id already has a directory.
        """
        key = _key_of(run, digest)
        if (self.sandbox.root_dir / run.tenant / run.run_id).exists():
            raise SandboxError(f"run_id: {run.run_id!r} already has a directory")
        ended: list[WarmProcess] = []
        with self._changed:
            wanted = self._wanted.get(key)
            taken = self._take(key, ended) if wanted is not None else None
            if wanted is not None:
                wanted.last_used_s = self._clock()
        for process in ended:
            process.discard()
        if taken is not None:
            # Its replacement starts once the run's result is made: an interpreter's start
            # would take CPU from the run and delay its result.
            try:
                handle: SandboxHandle = taken.serve(run, self.sandbox.root_dir, self._wake.set)
            except BaseException:
                taken.discard()  # never half-served: it ends, and a replacement comes
                self._wake.set()
                raise
            with self._changed:
                self.warm_starts += 1
            return handle
        handle = self.sandbox.start(run)
        with self._changed:
            self.cold_starts += 1
        if wanted is None:
            self._want(key, run)
        return handle

    def prewarm(self, run: SandboxRun, *, digest: str) -> WarmKey:
        """Keeps processes of ``run``'s key from now on, as its first run would; returns the key.

        ``run`` names the tenant, artefact, entry and limits; nothing of it is started here.

        Raises:
            SandboxError: a bad run.
        """
        key = _key_of(run, digest)
        with self._changed:
            wanted = self._wanted.get(key)
            if wanted is not None:
                wanted.last_used_s = self._clock()
        if wanted is None:
            self._want(key, run)
        return key

    def _take(self, key: WarmKey, ended: list[WarmProcess]) -> WarmProcess | None:
        """A ready process of ``key`` out of the pool (lock held); ended ones go to ``ended``."""
        kept: list[WarmProcess] = []
        taken = None
        for process in self._idle.get(key, []):
            if taken is None and process.usable:
                taken = process
            elif process.process.poll() is None:
                kept.append(process)  # still importing, or ready for the next run
            else:
                ended.append(process)
        self._idle[key] = kept
        return taken

    def _want(self, key: WarmKey, run: SandboxRun) -> None:
        """Keep processes of ``key`` from now on, with their own copy of the artefact.

        The copy is the pool's, not the tenant's: under tenant uids it is root's, readable
        (0644) in a folder of root's (0711), so that no run can change what later runs import.
        """
        tenant_dir = self.sandbox.root_dir / run.tenant
        folder = tenant_dir / ".warm"
        uid = uid_of(self.sandbox, run.tenant)
        tenant_dir.mkdir(mode=0o700, exist_ok=True)  # as a cold run makes it
        if uid is not None:
            os.chown(tenant_dir, uid, uid)
        folder.mkdir(mode=0o711 if uid is not None else 0o700, exist_ok=True)
        artefact = folder / f"{key.digest}{run.artefact_path.suffix}"
        if not artefact.exists():
            staging = folder / f".{key.digest}.{os.getpid()}.{threading.get_ident()}"
            if uid is None:  # bubblewrap binds it read-only (else runs are the agent's uid)
                try:
                    os.link(run.artefact_path, staging)
                except OSError:  # another file system
                    shutil.copy2(run.artefact_path, staging)
            else:
                shutil.copy2(run.artefact_path, staging)
                os.chmod(staging, 0o644)
            os.replace(staging, artefact)
        with self._changed:
            self._wanted.setdefault(key, WantedKey(artefact, self._clock()))
        self._wake.set()

    # -- upkeep ---------------------------------------------------------------------------
    # -- looking in -----------------------------------------------------------------------

    def ready(self, key: WarmKey) -> int:
        """How many processes of ``key`` are ready for a run now."""
        with self._changed:
            return sum(p.usable for p in self._idle.get(key, []))

    def held(self) -> tuple[int, int]:
        """The processes the pool holds (ready or starting) and the sum of their memory limits."""
        with self._changed:
            held = self._held_keys()
            return len(held), sum(k.limits.memory_mb for k in held)

    def pids(self, key: WarmKey) -> list[int]:
        """The process ids of ``key``'s processes held now."""
        with self._changed:
            return [p.pid for p in self._idle.get(key, [])]

    def wait_ready(self, key: WarmKey, count: int, timeout_s: float) -> bool:
        """Waits until ``count`` processes of ``key`` are ready; False if not in ``timeout_s``."""
        deadline_s = time.monotonic() + timeout_s
        with self._changed:
            while sum(p.usable for p in self._idle.get(key, [])) < count:
                left_s = deadline_s - time.monotonic()
                if left_s <= 0:
                    return False
                self._wake.set()
                self._changed.wait(min(left_s, 0.1))  # also sees a process that ended
            return True

    def wait_settled(self, timeout_s: float) -> bool:
        """Waits until every process held said if it is ready, and no key lacks one it may have.

        Returns:
            False if that was not so within ``timeout_s``.
        """
        deadline_s = time.monotonic() + timeout_s
        with self._changed:
            while (
                self._short()
                or any(self._starting.values())
                or not all(p.ready.is_set() for ps in self._idle.values() for p in ps)
            ):
                left_s = deadline_s - time.monotonic()
                if left_s <= 0:
                    return False
                self._wake.set()
                self._changed.wait(min(left_s, 0.1))  # also sees a process that ended
            return True

    def close(self) -> None:
        """Stops the upkeep and ends every process held; runs under way go on to their end."""
        self._closed.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10.0)
        with self._changed:
            held = [p for ps in self._idle.values() for p in ps]
            self._idle.clear()
            self._wanted.clear()
        for process in held:
            with contextlib.suppress(OSError):
                process.discard()

    def __enter__(self) -> WarmPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
