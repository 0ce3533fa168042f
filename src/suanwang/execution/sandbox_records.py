"""The records of a sandboxed run: what it may use, what it is, how it ended, and its error.

``SandboxLimits``, ``SandboxRun`` and ``SandboxResult`` are frozen, so a run's request and its
outcome can be passed between threads as they are; ``SandboxError`` names the field and value
of a run that cannot be started as asked. ``sandbox`` re-exports them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class SandboxError(ValueError):
    """A run that cannot be started as asked: the message names the field and value."""


@dataclass(frozen=True)
class SandboxLimits:
    """What one run may use; the first limit it passes ends it."""

    memory_mb: int = 512
    cpu_s: float = 60.0
    wall_s: float = 120.0
    log_bytes: int = 1_048_576

    def __post_init__(self) -> None:
        for name in ("memory_mb", "cpu_s", "wall_s", "log_bytes"):
            value = getattr(self, name)
            if not value > 0 or value == float("inf"):
                raise SandboxError(
                    f"limits.{name}: must be a positive finite number (got {value!r})"
                )


@dataclass(frozen=True)
class SandboxRun:
    """One run: whose, which code, which inputs, where, within what."""

    run_id: str
    tenant: str
    artefact_path: Path  # a wheel (.whl) or a zip with the package at its root
    entry: str  # "module:function"; called as function(inputs: Path, outputs: Path) -> None
    input_dir: Path  # staged inputs (read-only by convention)
    root_dir: Path  # per-node sandbox root; the run gets root_dir/<tenant>/<run_id>/
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    paths: tuple[Path, ...] = ()  # read-only folders after the artefact on sys.path (requirements)


@dataclass(frozen=True)
class SandboxResult:
    """How a run ended, with its (bounded) logs and where its outputs are."""

    run_id: str
    outcome: str  # "ok" | "error" | "killed-memory" | "killed-cpu" | "killed-wall" | "cancelled"
    reason: str
    exit_code: int | None
    output_dir: Path
    stdout: str
    stderr: str
    wall_s: float
    start: str = "cold"  # "warm": a pre-started interpreter of execution.warm served it
