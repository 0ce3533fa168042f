"""An artefact's requirements, installed only from the wheelhouse the operator configures.

An artefact may declare what it needs besides itself: a wheel in its ``METADATA``
(``Requires-Dist``; requirements of an optional extra are left out), a zip in a
``requirements.txt`` at its root (one requirement a line, ``#`` comments; options such as
``-r`` or ``--index-url``, editable installs and direct URLs are refused: where packages come
from is the operator's choice, never the artefact's).

``Wheelhouse.resolve`` installs a requirement set with pip from the operator's source only —
a folder of wheels (``pip install --no-index --find-links DIR``) or one package index
(``--index-url URL``) — into ``cache/<digest of the set>`` (``--target``), once per set: runs
of any artefact with the same requirements share the folder, which the sandbox puts on the
run's ``sys.path`` after the artefact. A requirement the source lacks fails the run with a
reason that names it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

INSTALL_TIMEOUT_S = 300.0
"""Longest one pip install may take."""

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[A-Za-z0-9._,\s-]*\])?")
_MISSING = re.compile(r"No matching distribution found for (\S+)")
_EXTRA = re.compile(r"\bextra\s*==")


class RequirementsError(RuntimeError):
    """Requirements that cannot be read or resolved; the message names the requirement."""


def _check(requirement: str, where: str) -> str:
    text = requirement.strip()
    if text.startswith("-"):
        raise RequirementsError(f"{where}: options are not allowed (got {text!r})")
    head = text.split(";", 1)[0]
    if "@" in head or "://" in head or _NAME.match(head) is None:
        raise RequirementsError(
            f"{where}: a requirement is a package name with an optional version (got {text!r})"
        )
    return text


def requirements_of(archive: Path) -> tuple[str, ...]:
    """The requirements the artefact ``archive`` declares (module docstring), in order.

    Raises:
        RequirementsError: a declared line is not a plain requirement (naming it).
    """
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        metadata = [n for n in names if n.endswith(".dist-info/METADATA") and n.count("/") == 1]
        found: list[str] = []
        if metadata:
            text = opened.read(metadata[0]).decode("utf-8", errors="replace")
            header = text.split("\n\n", 1)[0]  # the body (a description) may say anything
            for line in header.splitlines():
                key, _, value = line.partition(":")
                if key.strip().lower() == "requires-dist" and not _EXTRA.search(value):
                    found.append(_check(value, f"{metadata[0]}: Requires-Dist"))
        elif "requirements.txt" in names:
            text = opened.read("requirements.txt").decode("utf-8", errors="replace")
            for number, line in enumerate(text.splitlines(), start=1):
                bare = line.split(" #", 1)[0].strip()
                if bare and not bare.startswith("#"):
                    found.append(_check(bare, f"requirements.txt line {number}"))
    return tuple(dict.fromkeys(found))


def requirements_digest(requirements: tuple[str, ...]) -> str:
    """The digest of a requirement set (order and spacing do not matter)."""
    canonical = sorted({" ".join(r.split()) for r in requirements})
    return hashlib.sha256("\n".join(canonical).encode()).hexdigest()


class Wheelhouse:
    """Installs requirement sets from one operator-given source into a cache (module docstring).

    Args:
        source: A folder of wheels, or a package index's URL (``http://`` or ``https://``).
        cache_dir: Where the installed sets are kept (``cache_dir/<digest>``).
        python: The interpreter whose pip installs (the runs' interpreter: default this one).

    Raises:
        RequirementsError: ``source`` is neither an existing folder nor an index URL.
    """

    def __init__(self, source: str, cache_dir: Path, python: Path | None = None) -> None:
        self.is_index = source.startswith(("http://", "https://"))
        if not self.is_index and not Path(source).is_dir():
            raise RequirementsError(
                f"wheelhouse: a folder of wheels or an index URL, got {source!r}"
            )
        self.source = source if self.is_index else str(Path(source).resolve())
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.python = python or Path(sys.executable)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def resolve(self, requirements: tuple[str, ...]) -> Path:
        """The folder where ``requirements`` are installed, installing them the first time.

        Raises:
            RequirementsError: pip could not install them; names the missing requirement.
        """
        digest = requirements_digest(requirements)
        target = self.cache_dir / digest
        with self._guard:
            lock = self._locks.setdefault(digest, threading.Lock())
        with lock:
            if target.is_dir():
                return target
            scratch = Path(tempfile.mkdtemp(prefix="install-", dir=self.cache_dir))
            try:
                self._install(requirements, scratch)
                os.chmod(scratch, 0o755)  # the runs' uids read it
                os.replace(scratch, target)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            return target

    def _install(self, requirements: tuple[str, ...], target: Path) -> None:
        where = ["--index-url", self.source] if self.is_index else ["--no-index"]
        if not self.is_index:
            where += ["--find-links", self.source]
        argv = [str(self.python), "-m", "pip", "install", "--quiet", "--no-input"]
        argv += ["--disable-pip-version-check", "--no-warn-script-location", *where]
        argv += ["--target", str(target), "--", *requirements]
        # no user or site pip configuration: the operator's source is the only one
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PIP_CONFIG_FILE": os.devnull}
        env["PIP_NO_CACHE_DIR"] = "1"
        try:
            with tempfile.TemporaryDirectory(prefix="pip-home-") as home:
                done = subprocess.run(
                    argv, check=False, capture_output=True, text=True, env=env | {"HOME": home},
                    timeout=INSTALL_TIMEOUT_S,
                )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise RequirementsError(
                f"requirements {', '.join(requirements)}: not installed within "
                f"{INSTALL_TIMEOUT_S:g} s from {self.source}"
            ) from None
        if done.returncode == 0:
            return
        missing = _MISSING.search(done.stderr)
        if missing is not None:
            raise RequirementsError(
                f"requirement {missing.group(1)!r} is not available from the wheelhouse "
                f"{self.source}"
            )
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise RequirementsError(f"requirements {', '.join(requirements)} not installed: {tail}")


def requirement_paths(archive: Path, wheelhouse: Wheelhouse | None) -> tuple[Path, ...]:
    """The folders a run of ``archive`` needs on its ``sys.path``: its requirements, installed.

    Raises:
        RequirementsError: it declares requirements and there is no wheelhouse, or they
            cannot be installed from it.
    """
    requirements = requirements_of(archive)
    if not requirements:
        return ()
    if wheelhouse is None:
        raise RequirementsError(
            f"the artefact requires {', '.join(requirements)}, and no wheelhouse is configured"
            " on this node"
        )
    return (wheelhouse.resolve(requirements),)
