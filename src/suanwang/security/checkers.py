"""Where signature checks run: in this process, or spread over worker processes.

An Ed25519 check costs about 0.1 ms on a small VM core and holds the GIL, so threads do not help;
worker processes do. ``Verifier.iter_verify`` hands chunks to a checker and keeps preparing and
finishing other chunks in the calling process meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Protocol, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SignatureItem: TypeAlias = tuple[bytes, bytes, bytes]
"""(raw 32-byte public key, signed bytes, signature)."""

_worker_keys: dict[bytes, Ed25519PublicKey] = {}


def check_signatures(items: Sequence[SignatureItem]) -> list[bool]:
    """Check signatures here; ``result[i]`` is True when ``items[i]`` holds.

    Key objects are cached per process by raw bytes (a worker builds each key once).
    """
    results = []
    for raw, body, signature in items:
        key = _worker_keys.get(raw)
        if key is None:
            key = _worker_keys[raw] = Ed25519PublicKey.from_public_bytes(raw)
        try:
            key.verify(signature, body)
            results.append(True)
        except InvalidSignature:
            results.append(False)
    return results


class SignatureChecker(Protocol):
    """Checks chunks of signatures, possibly elsewhere.

    Contract:
        * ``submit(items)`` starts checking one chunk and returns a future whose result is one
          bool per item, in order: True when the signature holds over the bytes for that key.
        * It must give exactly the answers of ``check_signatures``; it keeps no state that
          affects answers (replay and binding checks stay with the verifier).
        * Several chunks may be in flight at once; ``concurrency`` says how many are useful.
    """

    @property
    def concurrency(self) -> int:
        """How many chunks are worth keeping in flight."""
        ...

    def submit(self, items: Sequence[SignatureItem]) -> Future[list[bool]]:
        """Start checking ``items``."""
        ...


class InlineChecker:
    """Checks each chunk at once, in the calling process."""

    concurrency = 1

    def submit(self, items: Sequence[SignatureItem]) -> Future[list[bool]]:
        """Check ``items`` now; the returned future is already done."""
        future: Future[list[bool]] = Future()
        future.set_result(check_signatures(items))
        return future


class ParallelChecker:
    """Chunks checked by worker processes (spawned, so safe with threads around).

    Use as a context manager, or call ``close``; workers start on first use. As with any
    spawned worker, a script that uses it must guard its entry point with
    ``if __name__ == "__main__":`` (workers re-import the main module).

    Args:
        workers: Worker processes.
    """

    def __init__(self, workers: int = 2) -> None:
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None

    @property
    def concurrency(self) -> int:
        """Two chunks per worker: one being checked, one queued."""
        return 2 * self._workers

    def submit(self, items: Sequence[SignatureItem]) -> Future[list[bool]]:
        """Queue ``items`` for a worker."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self._workers, mp_context=get_context("spawn"))
        return self._pool.submit(check_signatures, items)

    def warm_up(self) -> None:
        """Start every worker now rather than on the first chunk."""
        for future in [self.submit([]) for _ in range(self._workers)]:
            future.result()

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> ParallelChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
