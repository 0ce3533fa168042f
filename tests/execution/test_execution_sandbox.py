"""The sandbox: a tenant's run in its own process, directory and limits, killed on request."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from isolations import SYSTEM_PYTHON, isolation_modes, sandbox_of
from user_package import build_package

from suanwang.execution.sandbox import (
    Sandbox,
    SandboxError,
    SandboxHandle,
    SandboxLimits,
    SandboxRun,
)
from suanwang.execution.sandbox_jail import UID_BASE, UID_SPAN, tenant_uid


@pytest.fixture(params=isolation_modes())
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox of each isolation this machine offers."""
    with sandbox_of(request.param, tmp_path) as made:
        assert made.isolation == request.param
        yield made


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """The tenant's package, built here."""
    return build_package(tmp_path)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """Staged inputs: one text file."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "input.txt").write_text("hello sandbox")
    return folder


def _run(
    sandbox: Sandbox,
    package: Path,
    inputs: Path,
    entry: str,
    *,
    run_id: str = "r1",
    tenant: str = "acme",
    limits: SandboxLimits | None = None,
) -> SandboxRun:
    return SandboxRun(
        run_id=run_id,
        tenant=tenant,
        artefact_path=package,
        entry=f"tenantpkg:{entry}",
        input_dir=inputs,
        root_dir=sandbox.root_dir,
        limits=limits or SandboxLimits(),
    )


def _finish(handle: SandboxHandle, timeout_s: float = 20.0):
    result = handle.wait(timeout_s)
    assert result is not None, "the run did not end in time"
    return result


def test_run_reads_its_inputs_writes_outputs_and_keeps_its_logs(
    sandbox: Sandbox, package: Path, inputs: Path
) -> None:
    result = _finish(sandbox.start(_run(sandbox, package, inputs, "upper")))
    assert (result.outcome, result.reason, result.exit_code) == ("ok", "ok", 0)
    assert (result.output_dir / "result.txt").read_text() == "HELLO SANDBOX"
    assert result.output_dir == sandbox.root_dir / "acme" / "r1" / "out"
    assert result.stdout.startswith("pid ")
    assert (sandbox.root_dir / "acme" / "r1" / "stdout.log").read_text() == result.stdout
    assert oct(os.stat(sandbox.root_dir / "acme").st_mode & 0o777) == "0o700"


def test_each_run_is_a_fresh_process(sandbox: Sandbox, package: Path, inputs: Path) -> None:
    first = _finish(sandbox.start(_run(sandbox, package, inputs, "upper", run_id="a")))
    second = _finish(sandbox.start(_run(sandbox, package, inputs, "upper", run_id="b")))
    if sandbox.isolation == "uid":  # in a pid namespace every run is pid 2 or so
        assert first.stdout != second.stdout
    assert os.getpid() not in {int(r.stdout.split()[1]) for r in (first, second)}


def test_an_error_is_reported_with_its_traceback(
    sandbox: Sandbox, package: Path, inputs: Path
) -> None:
    result = _finish(sandbox.start(_run(sandbox, package, inputs, "fail")))
    assert (result.outcome, result.exit_code) == ("error", 1)
    assert result.reason == "error: exit status 1"
    assert "RuntimeError: the tenant's code failed on purpose" in result.stderr


def test_memory_over_the_limit_is_killed_with_the_reason(
    sandbox: Sandbox, package: Path, inputs: Path
) -> None:
    limits = SandboxLimits(memory_mb=256)
    result = _finish(sandbox.start(_run(sandbox, package, inputs, "hog_memory", limits=limits)))
    assert result.outcome == "killed-memory"
    assert result.reason == "killed: memory limit 256 MB exceeded"
    assert "MemoryError" in result.stderr


def test_cpu_time_over_the_limit_is_killed_with_the_reason(
    sandbox: Sandbox, package: Path, inputs: Path
) -> None:
    limits = SandboxLimits(cpu_s=1.0, wall_s=20.0)
    result = _finish(sandbox.start(_run(sandbox, package, inputs, "spin", limits=limits)))
    assert (result.outcome, result.reason) == ("killed-cpu", "killed: CPU time 1 s exceeded")
    assert result.wall_s >= 1.0


def test_wall_time_over_the_limit_is_killed_with_the_reason(
    sandbox: Sandbox, package: Path, inputs: Path
) -> None:
    limits = SandboxLimits(wall_s=0.5)
    result = _finish(sandbox.start(_run(sandbox, package, inputs, "sleep", limits=limits)))
    assert (result.outcome, result.reason) == ("killed-wall", "killed: wall time 0.5 s exceeded")
    assert 0.5 <= result.wall_s < 3.0
    assert result.stdout == "started\n"


def _tree_when_started(handle: SandboxHandle, pythons: int) -> list[psutil.Process]:
    """The run's processes, once ``pythons`` interpreters run among them (or after 10 s)."""
    deadline_s = time.monotonic() + 10.0
    tree: list[psutil.Process] = []
    for _ in range(1000):
        top = psutil.Process(handle.pid)
        tree = [top, *top.children(recursive=True)]
        if sum("python" in p.name() for p in tree) >= pythons or time.monotonic() > deadline_s:
            break
        time.sleep(0.01)
    return tree


def _dead(process: psutil.Process) -> bool:
    # A zombie has ended: only its parent's wait is missing (orphans wait for the host's init).
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _alive_after(processes: list[psutil.Process], within_s: float) -> list[psutil.Process]:
    """Those of ``processes`` still running ``within_s`` from now (checked every 10 ms)."""
    deadline_s = time.monotonic() + within_s
    alive = processes
    for _ in range(int(within_s / 0.01) + 1):
        alive = [p for p in alive if not _dead(p)]
        if not alive or time.monotonic() > deadline_s:
            break
        time.sleep(0.01)
    return alive


def test_cancel_kills_the_whole_process_tree_within_a_second(
    sandbox: Sandbox, package: Path, inputs: Path
) -> None:
    handle = sandbox.start(_run(sandbox, package, inputs, "sleep_with_child"))
    tree = _tree_when_started(handle, pythons=2)
    assert sum("python" in p.name() for p in tree) >= 2
    cancelled_at_s = time.monotonic()
    handle.cancel()
    alive = _alive_after(tree, within_s=1.0)
    assert alive == []
    assert time.monotonic() - cancelled_at_s < 1.0
    result = _finish(handle, 2.0)
    assert (result.outcome, result.reason) == (
        "cancelled",
        "cancelled: the run was stopped on request",
    )
    handle.cancel()  # a second cancel of an ended run does nothing


def test_logs_over_the_bound_keep_their_first_and_last_parts(
    sandbox: Sandbox, package: Path, inputs: Path
) -> None:
    limits = SandboxLimits(log_bytes=1000)
    result = _finish(sandbox.start(_run(sandbox, package, inputs, "chatty", limits=limits)))
    assert result.outcome == "ok"
    head, gap, tail = result.stdout.partition("\n[... ")
    assert gap
    assert head.startswith("line 0\nline 1\n")
    assert tail.endswith("line 19999\n")
    kept = result.stdout.encode()
    assert 1000 <= len(kept) <= 1100
    dropped = int(tail.split(" bytes dropped")[0])
    assert dropped + 1000 == sum(len(f"line {n}\n") for n in range(20_000))


def test_a_tenant_cannot_read_another_tenants_directory(
    sandbox: Sandbox, package: Path, inputs: Path
) -> None:
    other = _finish(sandbox.start(_run(sandbox, package, inputs, "upper", tenant="beta")))
    secret = other.output_dir / "result.txt"
    assert secret.read_text() == "HELLO SANDBOX"
    (inputs / "target.txt").write_text(str(secret))
    peeking = _finish(sandbox.start(_run(sandbox, package, inputs, "peek", tenant="acme")))
    assert peeking.outcome == "error"
    assert "HELLO SANDBOX" not in peeking.stdout
    assert ("PermissionError" in peeking.stderr) or ("FileNotFoundError" in peeking.stderr)
    # the same code reads a file it may see
    (inputs / "target.txt").write_text("input.txt")
    allowed = _finish(sandbox.start(_run(sandbox, package, inputs, "peek", run_id="r2")))
    assert (allowed.outcome, allowed.stdout) == ("ok", "hello sandbox\n")


def test_tenant_uids_are_stable_and_in_their_range() -> None:
    assert tenant_uid("acme") == tenant_uid("acme") != tenant_uid("beta")
    assert all(UID_BASE <= tenant_uid(t) < UID_BASE + UID_SPAN for t in ("a", "acme", "x" * 99))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tenant": "../etc"}, "tenant"),
        ({"run_id": ""}, "run_id"),
        ({"entry": "no-colon"}, "entry"),
        ({"entry": "pkg:not valid"}, "entry"),
        ({"artefact_path": Path("/nowhere.zip")}, "artefact_path"),
        ({"input_dir": Path("/nowhere")}, "input_dir"),
    ],
)
def test_bad_runs_are_refused_naming_the_field(
    tmp_path: Path, package: Path, inputs: Path, change: dict[str, object], field: str
) -> None:
    sandbox = Sandbox(tmp_path / "root")
    run = _run(sandbox, package, inputs, "upper")
    values = {**run.__dict__, **change}
    with pytest.raises(SandboxError, match=f"^{field}: "):
        sandbox.start(SandboxRun(**values))  # type: ignore[arg-type]


def test_bad_limits_and_a_reused_run_id_are_refused(
    tmp_path: Path, package: Path, inputs: Path
) -> None:
    with pytest.raises(SandboxError, match=r"limits\.wall_s: .*got 0"):
        SandboxLimits(wall_s=0)
    with pytest.raises(SandboxError, match=r"limits\.memory_mb: .*got -1"):
        SandboxLimits(memory_mb=-1)
    sandbox = Sandbox(tmp_path / "root")
    _finish(sandbox.start(_run(sandbox, package, inputs, "upper")))
    with pytest.raises(SandboxError, match=r"^run_id: 'r1' already has a directory"):
        sandbox.start(_run(sandbox, package, inputs, "upper"))


def test_bwrap_asked_where_it_is_missing_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on this PATH
    assert shutil.which("bwrap") is None
    with pytest.raises(SandboxError, match=r"^isolation: 'bwrap' asked"):
        Sandbox(tmp_path / "root", isolation="bwrap")


@pytest.mark.skipif(os.geteuid() != 0, reason="per-tenant uids are used only by root")
def test_uid_isolation_under_a_closed_directory_is_refused(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(SandboxError, match=r"^root_dir: .* which other uids may not enter"):
        Sandbox(closed / "root", isolation="uid", python=SYSTEM_PYTHON)
