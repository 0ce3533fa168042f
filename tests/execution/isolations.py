"""The sandbox isolations this machine offers: pytest parameters and a sandbox of each."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from suanwang.execution.sandbox import Sandbox
from suanwang.execution.sandbox_jail import bwrap_path

SYSTEM_PYTHON = Path("/usr/bin/python3")
"""An interpreter every uid can run (a pyenv one under /root is not)."""


def isolation_modes() -> list[object]:
    """``bwrap`` and ``uid`` as parameters, each skipped where this machine cannot offer it."""
    bwrap = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed")
    uid = pytest.mark.skipif(
        os.geteuid() != 0 or not SYSTEM_PYTHON.exists(),
        reason="per-tenant uids need root and an interpreter every uid can run",
    )
    return [pytest.param("bwrap", marks=bwrap), pytest.param("uid", marks=uid)]


@contextmanager
def sandbox_of(mode: str, tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox of isolation ``mode`` under ``tmp_path`` (``uid``: under a folder of its own)."""
    python, root = None, tmp_path / "root"
    if mode == "uid":
        # Tenants' uids must pass every directory to their own: pytest's are 0700, and so is
        # /root, where a pyenv interpreter lives.
        python, root = SYSTEM_PYTHON, Path(tempfile.mkdtemp(prefix="sandbox-"))
        root.chmod(0o711)
    made = Sandbox(root, isolation="uid" if mode == "uid" else "bwrap", python=python)
    try:
        yield made
    finally:
        if mode == "uid":
            shutil.rmtree(root)
