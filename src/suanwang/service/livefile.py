"""The live scenario file: staged before a load commits, promoted after, recovered at start.

Loading a scenario through the API changes two things that must agree after any crash: the
database (the old topology's tasks cancelled, a ``scenario.load`` audit entry) and the file the
next start serves (``live-scenario.json``). The database transaction is the commit point:

1. ``stage``: the new scenario is written to ``live-scenario.json.<load id>.staged`` (temporary
   file, fsync, rename, fsync of the folder) before anything live changes;
2. the writer cancels the old tasks and records ``scenario.load`` with ``load <load id>`` in its
   detail; both go to the database in one group commit;
3. ``promote``: after that commit the staged file is renamed over ``live-scenario.json``.

A crash before 2 leaves a staged file no audit entry names: ``recover`` deletes it (the old
scenario and its tasks stand). A crash between 2 and 3 leaves a staged file the audit log names:
``recover`` finishes the rename (the new scenario, the old tasks cancelled). A live file that
cannot be read is moved aside and the configured scenario served instead, with a note that
the caller logs and audits, so that one bad file never stops every later start.

Runtime registrations do not rewrite this file: they are rows in the database
(``control.changes``, applied by ``service.registry`` on top of the scenario served here). The
file stays for what rows do not hold: a whole scenario loaded through the API (its sites,
energy profiles, workload and failures), which replaces the base the rows are applied to.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from suanwang.control.stores import AuditLog
from suanwang.model import Scenario
from suanwang.scenario import ScenarioError, loads_scenario
from suanwang.scenario.io import dumps_scenario

log = logging.getLogger(__name__)

LOAD_ACTION = "scenario.load"
"""Audit action of a committed scenario load."""
STAGED_SUFFIX = ".staged"
AUDIT_PAGE = 1000
"""Audit entries read per query while looking for a load id."""
MAX_AUDIT_PAGES = 1_000_000
"""Bound of that search (10^9 entries)."""
STAGED_SLACK_S = 3600.0
"""How much earlier than its staged file's mtime a load's audit entry is looked for (clocks)."""
_LOAD_ID = re.compile(r"\bload ([0-9a-f]{32})\b")


@dataclass(frozen=True, slots=True)
class Staged:
    """A scenario written next to the live file, waiting for its load to commit.

    Attributes:
        load_id: Names the load in the staged file's name and in its audit entry.
        path: The staged file.
        sha256: Digest of the staged bytes.
    """

    load_id: str
    path: Path
    sha256: str

    def audit_detail(self, cancelled: int) -> str:
        """The detail of the load's audit entry (``recover`` finds the load id in it)."""
        return f"load {self.load_id} sha256 {self.sha256[:16]} cancelled {cancelled}"


@dataclass(frozen=True, slots=True)
class Recovered:
    """The scenario a start serves and what recovery did to get it.

    Attributes:
        scenario: The scenario to make live.
        notes: One line per repair (a staged load finished or dropped, a bad file set aside);
            the caller logs and audits them.
    """

    scenario: Scenario
    notes: list[str] = field(default_factory=list)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (directories cannot be opened on every OS)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with partial.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


class LiveScenarioFile:
    """The file holding the scenario last made live (see the module docstring).

    Args:
        path: ``live-scenario.json`` in the data folder.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def staged_files(self) -> list[Path]:
        """Staged files left next to the live file, oldest first."""
        if not self.path.parent.is_dir():
            return []
        found = self.path.parent.glob(f"{self.path.name}.*{STAGED_SUFFIX}")
        return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))

    def stage(self, scenario: Scenario) -> Staged:
        """Write ``scenario`` beside the live file, durably, under a new load id.

        Raises:
            ValueError: the scenario cannot be written losslessly (``dumps_scenario``).
            OSError: the file cannot be written.
        """
        data = dumps_scenario(scenario, "json").encode("utf-8")
        load_id = uuid.uuid4().hex
        path = self.path.with_name(f"{self.path.name}.{load_id}{STAGED_SUFFIX}")
        write_atomically(path, data)
        return Staged(load_id, path, hashlib.sha256(data).hexdigest())

    def promote(self, staged: Staged) -> None:
        """Make the staged scenario the live file (atomic rename, then fsync of the folder)."""
        staged.path.replace(self.path)
        _fsync_dir(self.path.parent)

    @staticmethod
    def discard(staged: Staged | Path) -> None:
        """Delete a staged file whose load did not commit."""
        path = staged.path if isinstance(staged, Staged) else staged
        path.unlink(missing_ok=True)

    def read(self) -> Scenario | None:
        """The scenario in the live file; None when there is none.

        Raises:
            ScenarioError: the file cannot be read or holds no valid scenario.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise ScenarioError(f"cannot read the file: {error}", source=str(self.path)) from None
        return _parse(text, str(self.path))

    def peek(self, fallback: Callable[[], Scenario]) -> Scenario:
        """The scenario a start would serve, without the database and changing nothing.

        Staged loads are not resolved here (that needs the audit log); a bad live file reads
        as ``fallback()``, as a start would serve it.
        """
        try:
            return self.read() or fallback()
        except ScenarioError:
            return fallback()

    def recover(
        self, audit: AuditLog, fallback: Callable[[], Scenario], *, wall_clock: bool = True
    ) -> Recovered:
        """Settle what a crash left, then read the scenario to serve.

        Args:
            audit: The database's audit log, which says which staged loads committed.
            fallback: The configured scenario, served when there is no readable live file.
            wall_clock: Whether audit times are wall-clock seconds (then only entries from
                about the staged files' mtimes on are searched); False searches them all.

        Raises:
            ScenarioError: ``fallback`` raised it.
            StoreUnavailableError: the audit log cannot be read.
        """
        notes: list[str] = []
        staged = self.staged_files()
        if staged:
            since_s = None
            if wall_clock:
                since_s = min(p.stat().st_mtime for p in staged) - STAGED_SLACK_S
            committed = committed_loads(audit, {_load_id_of(p) for p in staged}, since_s)
            # Loads commit one after another; should two have committed, the later one won.
            winner = max(committed, key=committed.__getitem__, default=None)
            for path in staged:
                load_id = _load_id_of(path)
                if load_id == winner:
                    path.replace(self.path)
                    _fsync_dir(self.path.parent)
                    notes.append(f"finished scenario load {load_id}: it had committed")
                else:
                    path.unlink(missing_ok=True)
                    why = "superseded" if load_id in committed else "it had not committed"
                    notes.append(f"dropped scenario load {load_id}: {why}")
        try:
            scenario = self.read()
        except ScenarioError as error:
            aside = self.path.with_name(f"{self.path.name}.bad-{int(time.time())}")
            self.path.replace(aside)
            notes.append(f"{_short(str(error))}; moved aside to {aside.name}, serving the default")
            scenario = None
        return Recovered(scenario or fallback(), notes)


def committed_loads(
    audit: AuditLog, load_ids: Iterable[str], since_s: float | None = None
) -> dict[str, int]:
    """The audit sequence number of each of ``load_ids`` whose load committed.

    Reads the audit log from ``since_s`` on (all of it when None), a page at a time.
    """
    wanted, found = set(load_ids), {}
    after_seq: int | None = None
    for _ in range(MAX_AUDIT_PAGES):
        page = audit.list(AUDIT_PAGE, since_s=since_s, after_seq=after_seq)
        for entry in page:
            if entry.action != LOAD_ACTION:
                continue
            match = _LOAD_ID.search(entry.detail)
            if match is not None and match.group(1) in wanted:
                found[match.group(1)] = entry.seq
        if len(page) < AUDIT_PAGE or len(found) == len(wanted):
            break
        after_seq = page[-1].seq
    return found


def _load_id_of(path: Path) -> str:
    """The load id in a staged file's name (``live-scenario.json.<id>.staged``)."""
    return path.name.removesuffix(STAGED_SUFFIX).rsplit(".", 1)[-1]


def _parse(text: str, source: str) -> Scenario:
    """A scenario from the live file's text; any failure to build it is a ``ScenarioError``."""
    try:
        return loads_scenario(text, "json", source=source)
    except ScenarioError:
        raise
    except (ValueError, ArithmeticError, RecursionError, TypeError, KeyError) as error:
        # The file was written by an older build or altered by hand: never a start-up crash.
        raise ScenarioError(
            f"cannot build the scenario: {_short(str(error))}", source=source
        ) from None


def _short(text: str, limit: int = 300) -> str:
    """One line of at most ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
