"""A tenant's own package, built inside the tests: a zip with the package at its root."""

from __future__ import annotations

import zipfile
from pathlib import Path

SOURCE = """
import os
import time
from pathlib import Path

IMPORTED_AT_S = time.monotonic()


def upper(inputs: Path, outputs: Path) -> None:
    print("pid", os.getpid())
    (outputs / "result.txt").write_text((inputs / "input.txt").read_text().upper())


def fail(inputs: Path, outputs: Path) -> None:
    raise RuntimeError("the tenant's code failed on purpose")


def hog_memory(inputs: Path, outputs: Path) -> None:
    kept = bytearray(2_000_000_000)
    print(len(kept))


def spin(inputs: Path, outputs: Path) -> None:
    while True:
        pass


def sleep(inputs: Path, outputs: Path) -> None:
    print("started", flush=True)
    time.sleep(60)


def sleep_with_child(inputs: Path, outputs: Path) -> None:
    import subprocess
    import sys

    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print("started", flush=True)
    time.sleep(60)


def chatty(inputs: Path, outputs: Path) -> None:
    for line in range(20_000):
        print("line", line)


def peek(inputs: Path, outputs: Path) -> None:
    target = inputs / (inputs / "target.txt").read_text()  # an absolute path stays itself
    print(target.read_text())


def echo(payload):
    return {"got": payload, "imported_at_s": IMPORTED_AT_S}
"""


def build_package(directory: Path, name: str = "tenantpkg") -> Path:
    """Writes ``name.zip`` holding the package ``name`` (``SOURCE`` as its ``__init__``)."""
    path = directory / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}/__init__.py", SOURCE)
    return path
