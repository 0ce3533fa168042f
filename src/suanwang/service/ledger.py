"""Keeps the audit ledger caught up with the audit log, off the hot path of the writer.

A daemon thread runs ``Ledger.sync`` every ``interval_s`` and once more at stop, so task
submission never waits on hashing or signing. A sync that fails (the database away, another
process syncing at the same moment) is logged and retried on the next turn: ``sync`` resumes
from what the store holds, so nothing is duplicated or skipped.
"""

from __future__ import annotations

import logging
import threading

from suanwang.control.stores import StoreError
from suanwang.ledger import Ledger, LedgerError

log = logging.getLogger(__name__)

DEFAULT_SYNC_S = 5.0
"""Default interval between ledger syncs."""


class LedgerSyncer:
    """Runs ``ledger.sync`` periodically on its own thread.

    Args:
        ledger: The ledger (with its signing key).
        interval_s: Seconds between syncs.
    """

    def __init__(self, ledger: Ledger, interval_s: float = DEFAULT_SYNC_S) -> None:
        self.ledger = ledger
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sync_now(self) -> bool:
        """One sync; False (logged) when it failed."""
        try:
            self.ledger.sync()
        except (StoreError, LedgerError) as exc:
            log.warning("ledger sync failed (retried next turn): %s", exc)
            return False
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sync_now()

    def start(self) -> None:
        """Start the thread (a no-op when running)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ledger-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and sync once more, so the last entries get a signed head."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self.sync_now()
