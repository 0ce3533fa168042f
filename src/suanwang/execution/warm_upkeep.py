"""Upkeep of a warm pool: expiring idle processes and keys, starting the processes keys lack.

``WarmUpkeep`` is the part of ``WarmPool`` (``warm``) that its background thread (or a caller
of ``maintain``) runs: a process idle past ``ttl_s``, or of a key unused that long, is ended;
then one process at a time is started for a key short of ``per_key``, within
``max_processes`` and ``max_memory_mb``; a process whose import fails drops its key. State is
shared with the pool under its ``_changed`` condition; processes are started and ended
outside it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from suanwang.execution.sandbox import Sandbox
from suanwang.execution.warm_proc import WarmKey, WarmProcess, uid_of

log = logging.getLogger("suanwang.warm")  # the pool's one logger


@dataclass(slots=True)
class WantedKey:
    """A key the pool keeps processes of: where its artefact is, when it was last used."""

    artefact: Path
    last_used_s: float


class WarmUpkeep:
    """Expiry and refill of a ``WarmPool`` (see the module docstring)."""

    sandbox: Sandbox
    per_key: int
    max_processes: int
    max_memory_mb: int
    ttl_s: float
    expired: int
    _clock: Callable[[], float]
    _changed: threading.Condition
    _idle: dict[WarmKey, list[WarmProcess]]
    _starting: dict[WarmKey, int]
    _wanted: dict[WarmKey, WantedKey]
    _numbers: Iterator[int]
    _tag: str
    _closed: threading.Event
    _wake: threading.Event

    def maintain(self) -> None:
        """Expires what idled past ``ttl_s``, then starts processes where keys lack them."""
        self.expire()
        for _ in range(self.max_processes):  # one start per pass, within the bounds
            if not self._start_one():
                return

    def expire(self) -> int:
        """Ends the processes idle past ``ttl_s`` and drops the keys unused that long.

        Returns:
            How many processes it ended.
        """
        now_s = self._clock()
        with self._changed:
            for key, wanted in list(self._wanted.items()):
                if now_s - wanted.last_used_s > self.ttl_s:
                    del self._wanted[key]
            ended: list[WarmProcess] = []
            for key, processes in self._idle.items():
                stale = [
                    p
                    for p in processes
                    if key not in self._wanted or now_s - p.since_s > self.ttl_s
                ]
                ended += stale
                self._idle[key] = [p for p in processes if p not in stale]
        for process in ended:
            process.discard()
        with self._changed:
            self.expired += len(ended)
            self._changed.notify_all()
        return len(ended)

    def _start_one(self) -> bool:
        with self._changed:
            if self._closed.is_set():
                return False
            short = self._short()
            if not short:
                return False
            key, wanted = short[0]
            self._starting[key] = self._starting.get(key, 0) + 1
            number = next(self._numbers)
        tenant_dir = self.sandbox.root_dir / key.tenant
        started = None
        try:
            started = WarmProcess(
                self.sandbox,
                key,
                wanted.artefact,
                tenant_dir / f".w-{self._tag}-{number}",
                uid=uid_of(self.sandbox, key.tenant),
                now_s=self._clock(),
                on_ready=self._said_ready,
            )
        except OSError as error:
            log.warning("warm process of %s not started: %s", key.entry, error)
        with self._changed:
            self._starting[key] -= 1
            if started is not None:
                self._idle.setdefault(key, []).append(started)
            self._changed.notify_all()
        return started is not None

    def _held_keys(self) -> list[WarmKey]:
        """The key of each process held, ready or starting (the lock held)."""
        held = [p.key for ps in self._idle.values() for p in ps]
        return held + [k for k, n in self._starting.items() for _ in range(n)]

    def _short(self) -> list[tuple[WarmKey, WantedKey]]:
        """The keys lacking processes that the bounds let it start one of (the lock held)."""
        held = self._held_keys()
        memory_mb = sum(k.limits.memory_mb for k in held)
        return [
            (key, wanted)
            for key, wanted in self._wanted.items()
            if len(self._idle.get(key, [])) + self._starting.get(key, 0) < self.per_key
            and len(held) < self.max_processes
            and memory_mb + key.limits.memory_mb <= self.max_memory_mb
        ]

    def _said_ready(self, process: WarmProcess) -> None:
        doc = process.ready_doc
        if not process.discarded and (doc is None or doc.get("ready") is not True):
            error = (doc or {}).get("error", "it ended before it was ready")
            log.warning("warm process of %s failed to import: %s", process.key.entry, error)
            with self._changed:
                self._wanted.pop(process.key, None)
                idle = self._idle.get(process.key, [])
                if process in idle:
                    idle.remove(process)
            process.discard()
        with self._changed:
            self._changed.notify_all()

    def _maintain_loop(self, every_s: float) -> None:
        while not self._closed.is_set():
            try:
                self.maintain()
            except OSError as error:  # a full disk, a vanished root: try again later
                log.warning("warm pool upkeep failed: %s", error)
            self._wake.wait(every_s)
            self._wake.clear()
