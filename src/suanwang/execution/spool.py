"""An agent's finished reports, kept on disk until the control plane has answered them.

A run's finished report is its usage: a report dropped while the control plane is away (a
restart, a network cut) would leave the run unbilled and the task to run again. So the agent
writes each finished report to its ``ReportSpool`` *before* it counts as reported: one JSON file
per report in the agent's spool folder, named by a sequence number, written to a temporary
file, fsync'd, renamed into place and the folder fsync'd, so a crash of the agent (or of the
machine) at any point leaves either no report or the whole report.

``Reports.deliver`` sends the spooled reports oldest first and deletes each only after the
control plane answered it: accepted, or refused as about a run it no longer holds on this node
(404 or 409; what a report already accepted before a lost answer gets, since the server's
handling is idempotent: a run is ended once). It stops at the first one that cannot be sent
(unreachable, a 5xx, an authentication or rate refusal), so the order is kept and the rest
waits for the next call, which the agent makes at every step of its loop (a report refused as
malformed, 400 or 422, would be refused again: it is dropped with an error log line); a
restarted agent finds its folder's reports and resends them. A report that was sent but
whose deletion a crash prevented is sent once more and refused as already known: it changes
nothing.

At most ``cap`` reports are kept. A report past the cap is not spooled: it is dropped with an
error log line naming the run (the control plane re-places a task whose run it never hears of).
Without a folder (an agent with no key file) the spool is kept in memory: it covers a server
restart, not a restart of the agent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger("suanwang.agent")

DEFAULT_SPOOL_CAP = 10_000
"""Most finished reports an agent keeps unsent (each a few hundred bytes on disk)."""

_REFUSED_FOR_GOOD = frozenset({400, 410, 413, 422})
"""Answers that say the report itself is wrong: sent again, it would be refused again."""

_SUFFIX = ".json"
_TMP_SUFFIX = ".tmp"


@dataclass(frozen=True, slots=True)
class Spooled:
    """One report waiting for the control plane's answer.

    Attributes:
        seq: Its place in the spool (sending order).
        run_id: The run it reports on (the task id, or a replacement run's id).
        body: The report as the API takes it.
    """

    seq: int
    run_id: str
    body: dict[str, Any]


class ReportSpool:
    """Reports kept durably in ``folder`` (or in memory when None), at most ``cap``.

    Used from the agent's main loop only (not thread-safe).

    Raises:
        ValueError: ``cap`` is not positive.
        OSError: ``folder`` cannot be made.
    """

    def __init__(self, folder: Path | None, cap: int = DEFAULT_SPOOL_CAP) -> None:
        if cap < 1:
            raise ValueError(f"spool cap: {cap!r} is not a positive number of reports")
        self.folder, self.cap = folder, cap
        self.dropped = 0
        self._entries: dict[int, Spooled] = {}
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._load(folder)
        self._next = max(self._entries, default=0) + 1

    def __len__(self) -> int:
        return len(self._entries)

    def pending(self) -> list[Spooled]:
        """The reports not yet answered, oldest first."""
        return [self._entries[seq] for seq in sorted(self._entries)]

    def add(self, run_id: str, body: dict[str, Any]) -> Spooled | None:
        """Keep a report durably; None (and an error log line) when the spool is full.

        Raises:
            OSError: the report cannot be written (nothing is kept).
        """
        if len(self._entries) >= self.cap:
            self.dropped += 1
            log.error(
                "report spool full (%d reports unsent): the report on run %s is dropped",
                len(self._entries),
                run_id,
            )
            return None
        entry = Spooled(self._next, run_id, dict(body))
        if self.folder is not None:
            self._write(self.folder, entry)
        self._next += 1
        self._entries[entry.seq] = entry
        return entry

    def ack(self, entry: Spooled) -> None:
        """The control plane answered ``entry``: forget it (its file is deleted).

        The deletion is not fsync'd: one a crash undoes only sends the report once more, and
        the control plane refuses it as already answered.
        """
        self._entries.pop(entry.seq, None)
        if self.folder is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.folder / _name(entry.seq)).unlink()

    def _write(self, folder: Path, entry: Spooled) -> None:
        data = json.dumps({"run_id": entry.run_id, "body": entry.body}).encode()
        final = folder / _name(entry.seq)
        tmp = final.with_suffix(_TMP_SUFFIX)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        _sync_folder(folder)  # the rename itself survives a crash

    def _load(self, folder: Path) -> None:
        for path in folder.iterdir():
            if path.suffix == _TMP_SUFFIX:  # a write a crash cut short: never counted as kept
                path.unlink(missing_ok=True)
                continue
            if path.suffix != _SUFFIX or not path.stem.isdigit():
                continue
            try:
                data = json.loads(path.read_bytes())
                entry = Spooled(int(path.stem), str(data["run_id"]), dict(data["body"]))
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.error("spooled report %s cannot be read and is dropped: %s", path, error)
                path.unlink(missing_ok=True)
                continue
            self._entries[entry.seq] = entry
        if self._entries:
            log.info("%d spooled reports from before a restart are sent again", len(self._entries))


def _name(seq: int) -> str:
    return f"{seq:012d}{_SUFFIX}"


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Reports:
    """An agent's reports on its runs: started ones sent at once, finished ones spooled first.

    Args:
        node_id: The agent's node (named in every report).
        spool: Where finished reports wait for the control plane's answer.

    Attributes:
        completed: Finished ok reports the control plane accepted.
        failed: Failed reports the control plane accepted.
    """

    def __init__(self, node_id: str, spool: ReportSpool) -> None:
        self.node_id, self.spool = node_id, spool
        self.completed = 0
        self.failed = 0

    def event(self, client: httpx.Client, run_id: str, body: dict[str, Any]) -> bool:
        """Post a report on ``run_id``; False if refused as about a run no longer held here.

        Raises:
            httpx.HTTPError: the control plane is unreachable or answered with another error.
        """
        body = {"node_id": self.node_id, **body}
        response = client.post(f"/v1/tasks/{run_id}/report", json=body)
        if response.status_code in (404, 409):
            # The task was re-placed or cancelled meanwhile: the control plane moved on.
            log.info("report on %s refused: %s", run_id, response.text)
            return False
        response.raise_for_status()
        return True

    def finished(
        self,
        client: httpx.Client,
        run_id: str,
        *,
        ok: bool,
        reason: str,
        measured_ms: float | None = None,
    ) -> None:
        """Spool the finished report of ``run_id``, then send what the spool holds."""
        body: dict[str, Any] = {"event": "finished", "ok": ok, "reason": reason}
        if measured_ms is not None:
            body["measured_compute_ms"] = measured_ms
        try:
            self.spool.add(run_id, body)
        except OSError as error:  # a full or broken disk: send it once, unspooled
            log.error("report on run %s cannot be spooled (%s): sent once, unkept", run_id, error)
            with contextlib.suppress(httpx.HTTPError):
                self._count(body, accepted=self.event(client, run_id, body))
        self.deliver(client)

    def deliver(self, client: httpx.Client) -> bool:
        """Send the spooled reports in order until one cannot be sent; True if any was answered."""
        answered = False
        for entry in self.spool.pending():
            try:
                accepted = self.event(client, entry.run_id, entry.body)
            except httpx.HTTPStatusError as error:
                if error.response.status_code not in _REFUSED_FOR_GOOD:
                    log.warning("%d finished reports kept for later: %s", len(self.spool), error)
                    return answered
                # Sending it again would be refused again: it must not hold up the others.
                log.error("report on run %s refused for good and dropped: %s", entry.run_id, error)
                accepted = False
            except httpx.HTTPError as error:
                log.warning("%d finished reports kept for later: %s", len(self.spool), error)
                return answered
            self.spool.ack(entry)
            answered = True
            self._count(entry.body, accepted=accepted)
        return answered

    def _count(self, body: dict[str, Any], *, accepted: bool) -> None:
        if accepted and body.get("ok"):
            self.completed += 1
        elif accepted:
            self.failed += 1
