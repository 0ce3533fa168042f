"""Warm pools: a pre-started interpreter serves one run as a cold one would, then is gone."""

from __future__ import annotations

import json
import os
import shutil
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from isolations import isolation_modes, sandbox_of

from suanwang.execution.sandbox import (
    Sandbox,
    SandboxError,
    SandboxLimits,
    SandboxResult,
    SandboxRun,
)
from suanwang.execution.warm import WarmKey, WarmPool

DIGEST = "ab" * 32

SOURCE = """
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RUNS = 0


def upper(inputs: Path, outputs: Path) -> None:
    print("upper of", sorted(p.name for p in inputs.iterdir()))
    (outputs / "result.txt").write_text((inputs / "input.txt").read_text().upper())


def remember(inputs: Path, outputs: Path) -> None:
    global RUNS
    RUNS += 1
    left = Path("left.txt")
    seen = {"runs": RUNS, "left_before": left.exists(), "cwd": os.getcwd()}
    left.write_text("written by an earlier run")
    (outputs / "seen.json").write_text(json.dumps(seen))


def fail(inputs: Path, outputs: Path) -> None:
    raise RuntimeError("the tenant's code failed on purpose")


def hog_memory(inputs: Path, outputs: Path) -> None:
    kept = bytearray(2_000_000_000)
    print(len(kept))


def sleep_with_child(inputs: Path, outputs: Path) -> None:
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print("started", flush=True)
    time.sleep(60)


def tamper(inputs: Path, outputs: Path) -> None:
    Path(sys.path[0]).write_bytes(b"not the artefact any more")


def peek(inputs: Path, outputs: Path) -> None:
    print(Path((inputs / "target.txt").read_text()).read_text())
"""


@pytest.fixture(params=isolation_modes())
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox of each isolation this machine offers."""
    with sandbox_of(request.param, tmp_path) as made:
        yield made


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """The tenant's package, built here."""
    path = tmp_path / "warmpkg.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("warmpkg/__init__.py", SOURCE)
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """Staged inputs: one text file."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "input.txt").write_text("hello warm")
    return folder


@pytest.fixture
def pool(sandbox: Sandbox) -> Iterator[WarmPool]:
    """A pool of one process a key, its upkeep on a thread."""
    with WarmPool(sandbox, per_key=1, maintain_every_s=0.2) as made:
        yield made


def _run(
    sandbox: Sandbox,
    package: Path,
    inputs: Path,
    entry: str,
    run_id: str,
    *,
    tenant: str = "acme",
    limits: SandboxLimits | None = None,
) -> SandboxRun:
    return SandboxRun(
        run_id=run_id,
        tenant=tenant,
        artefact_path=package,
        entry=f"warmpkg:{entry}",
        input_dir=inputs,
        root_dir=sandbox.root_dir,
        limits=limits or SandboxLimits(),
    )


def _warmed(pool: WarmPool, run: SandboxRun, count: int = 1) -> WarmKey:
    key = pool.prewarm(run, digest=DIGEST)
    assert pool.wait_ready(key, count, timeout_s=30.0), "no warm process got ready"
    return key


def _finish(pool: WarmPool, run: SandboxRun, timeout_s: float = 20.0) -> SandboxResult:
    result = pool.start(run, digest=DIGEST).wait(timeout_s)
    assert result is not None, "the run did not end in time"
    return result


def _gone(pid: int, within_s: float) -> bool:
    """Whether ``pid`` ended (or is a zombie) within ``within_s`` (checked every 10 ms)."""
    deadline_s = time.monotonic() + within_s
    for _ in range(int(within_s / 0.01) + 1):
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline_s:
            break
        time.sleep(0.01)
    return False


def test_a_warm_run_gives_what_a_cold_run_gives(
    sandbox: Sandbox, pool: WarmPool, package: Path, inputs: Path
) -> None:
    cold = _finish(pool, _run(sandbox, package, inputs, "upper", "c1"))
    _warmed(pool, _run(sandbox, package, inputs, "upper", "any"))
    warm = _finish(pool, _run(sandbox, package, inputs, "upper", "w1"))
    assert (cold.start, warm.start) == ("cold", "warm")
    for result, run_id in ((cold, "c1"), (warm, "w1")):
        assert (result.outcome, result.reason, result.exit_code) == ("ok", "ok", 0)
        assert result.output_dir == sandbox.root_dir / "acme" / run_id / "out"
        assert (result.output_dir / "result.txt").read_text() == "HELLO WARM"
        assert (result.output_dir.parent / "stdout.log").read_text() == result.stdout
    assert warm.stdout == cold.stdout == "upper of ['input.txt']\n"
    assert pool.warm_starts == 1


def test_a_failing_warm_run_answers_with_its_traceback(
    sandbox: Sandbox, pool: WarmPool, package: Path, inputs: Path
) -> None:
    cold = _finish(pool, _run(sandbox, package, inputs, "fail", "c1"))
    _warmed(pool, _run(sandbox, package, inputs, "fail", "any"))
    handle = pool.start(_run(sandbox, package, inputs, "fail", "w1"), digest=DIGEST)
    warm = handle.wait(20.0)
    assert warm is not None
    for result in (cold, warm):
        assert (result.outcome, result.reason, result.exit_code) == (
            "error",
            "error: exit status 1",
            1,
        )
        assert "RuntimeError: the tenant's code failed on purpose" in result.stderr
    answer = handle.answer(2.0)  # type: ignore[attr-defined]
    assert answer is not None
    assert answer["ok"] is False
    assert "RuntimeError: the tenant's code failed on purpose" in answer["error"]


def test_a_warm_process_serves_one_run_and_keeps_nothing(
    sandbox: Sandbox, pool: WarmPool, package: Path, inputs: Path
) -> None:
    key = _warmed(pool, _run(sandbox, package, inputs, "remember", "any"))
    pids, seen = [], []
    for run_id in ("w1", "w2"):
        assert pool.wait_ready(key, 1, timeout_s=30.0)
        handle = pool.start(_run(sandbox, package, inputs, "remember", run_id), digest=DIGEST)
        result = handle.wait(20.0)
        assert result is not None
        assert (result.start, result.outcome) == ("warm", "ok")
        assert _gone(handle.pid, within_s=2.0)  # it ended with its run
        pids.append(handle.pid)
        seen.append(json.loads((result.output_dir / "seen.json").read_text()))
        assert (result.output_dir.parent / "work" / "left.txt").exists()
    assert pids[0] != pids[1]
    assert [s["runs"] for s in seen] == [1, 1]  # a fresh interpreter: no module state kept
    assert [s["left_before"] for s in seen] == [False, False]  # nor the first run's file
    assert seen[0]["cwd"] != seen[1]["cwd"]


def test_a_tenants_warm_process_never_serves_another_tenant(
    sandbox: Sandbox, pool: WarmPool, package: Path, inputs: Path
) -> None:
    key = _warmed(pool, _run(sandbox, package, inputs, "peek", "any"))
    waiting = pool.pids(key)
    slot = next((sandbox.root_dir / "acme").glob(".w-*/work"))
    (slot / "secret.txt").write_text("acme's secret")
    (inputs / "target.txt").write_text(str(slot / "secret.txt"))
    other = _finish(pool, _run(sandbox, package, inputs, "peek", "b1", tenant="beta"))
    assert other.start == "cold"  # the same artefact and entry, another tenant
    assert other.outcome == "error"
    assert "acme's secret" not in other.stdout
    assert ("PermissionError" in other.stderr) or ("FileNotFoundError" in other.stderr)
    assert pool.pids(key) == waiting
    assert pool.ready(key) == 1
    beta_key = _warmed(pool, _run(sandbox, package, inputs, "peek", "any", tenant="beta"))
    assert not set(pool.pids(beta_key)) & set(waiting)
    again = _finish(pool, _run(sandbox, package, inputs, "peek", "b2", tenant="beta"))
    assert (again.start, again.outcome) == ("warm", "error")
    assert "acme's secret" not in again.stdout


def test_a_warm_run_cannot_change_the_artefact_later_runs_import(
    sandbox: Sandbox, pool: WarmPool, package: Path, inputs: Path
) -> None:
    _warmed(pool, _run(sandbox, package, inputs, "tamper", "any"))
    tampered = _finish(pool, _run(sandbox, package, inputs, "tamper", "w1"))
    assert (tampered.start, tampered.outcome) == ("warm", "error")
    assert ("PermissionError" in tampered.stderr) or ("Read-only file system" in tampered.stderr)
    assert (sandbox.root_dir / "acme" / ".warm" / f"{DIGEST}.zip").read_bytes() == (
        package.read_bytes()
    )
    # a process started after the attempt imports the artefact as it was
    later = SandboxLimits(memory_mb=300)
    _warmed(pool, _run(sandbox, package, inputs, "upper", "any", limits=later))
    after = _finish(pool, _run(sandbox, package, inputs, "upper", "w2", limits=later))
    assert (after.start, after.outcome) == ("warm", "ok")
    assert (after.output_dir / "result.txt").read_text() == "HELLO WARM"


def test_cancel_kills_a_warm_runs_whole_tree_within_a_second(
    sandbox: Sandbox, pool: WarmPool, package: Path, inputs: Path
) -> None:
    _warmed(pool, _run(sandbox, package, inputs, "sleep_with_child", "any"))
    handle = pool.start(_run(sandbox, package, inputs, "sleep_with_child", "w1"), digest=DIGEST)
    tree: list[psutil.Process] = []
    deadline_s = time.monotonic() + 10.0
    for _ in range(1000):  # until the run's child interpreter is up
        top = psutil.Process(handle.pid)
        tree = [top, *top.children(recursive=True)]
        if sum("python" in p.name() for p in tree) >= 2 or time.monotonic() > deadline_s:
            break
        time.sleep(0.01)
    assert sum("python" in p.name() for p in tree) >= 2
    handle.cancel()
    assert all(_gone(p.pid, within_s=1.0) for p in tree)
    result = handle.wait(2.0)
    assert result is not None
    assert (result.start, result.outcome) == ("warm", "cancelled")


def test_wall_and_memory_limits_end_a_warm_run_as_a_cold_one(
    sandbox: Sandbox, pool: WarmPool, package: Path, inputs: Path
) -> None:
    wall = SandboxLimits(wall_s=0.5)
    _warmed(pool, _run(sandbox, package, inputs, "sleep_with_child", "any", limits=wall))
    result = _finish(pool, _run(sandbox, package, inputs, "sleep_with_child", "w1", limits=wall))
    assert (result.start, result.outcome) == ("warm", "killed-wall")
    assert result.reason == "killed: wall time 0.5 s exceeded"
    assert 0.5 <= result.wall_s < 3.0  # the timer starts with the request, not the pre-start
    memory = SandboxLimits(memory_mb=256)
    _warmed(pool, _run(sandbox, package, inputs, "hog_memory", "any", limits=memory))
    result = _finish(pool, _run(sandbox, package, inputs, "hog_memory", "w2", limits=memory))
    assert (result.start, result.outcome) == ("warm", "killed-memory")
    assert result.reason == "killed: memory limit 256 MB exceeded"
    assert "MemoryError" in result.stderr


def test_the_pool_stays_within_its_count_and_memory(
    sandbox: Sandbox, package: Path, inputs: Path
) -> None:
    limits = SandboxLimits(memory_mb=200)
    with WarmPool(sandbox, per_key=3, max_processes=2, maintain_every_s=None) as pool:
        key = pool.prewarm(
            _run(sandbox, package, inputs, "upper", "any", limits=limits), digest=DIGEST
        )
        pool.maintain()
        pool.maintain()
        assert pool.held() == (2, 400)
        assert pool.wait_ready(key, 2, timeout_s=30.0)
    with WarmPool(sandbox, per_key=3, max_memory_mb=450, maintain_every_s=None) as pool:
        pool.prewarm(_run(sandbox, package, inputs, "upper", "any", limits=limits), digest=DIGEST)
        other = _run(sandbox, package, inputs, "remember", "any", limits=limits)
        pool.prewarm(other, digest=DIGEST)
        pool.maintain()
        assert pool.held() == (2, 400)  # a third would hold 600 MB
    assert not list((sandbox.root_dir / "acme").glob(".w-*"))  # closing removed the slots


def test_a_run_that_cannot_be_handed_over_frees_its_id_and_its_process(
    sandbox: Sandbox, pool: WarmPool, package: Path, inputs: Path
) -> None:
    if sandbox.isolation != "uid":
        pytest.skip("only tenant uids copy the inputs (bubblewrap links them, links and all)")
    key = _warmed(pool, _run(sandbox, package, inputs, "upper", "any"))
    (waiting,) = pool.pids(key)
    (inputs / "dangling").symlink_to(inputs / "nowhere")
    with pytest.raises(shutil.Error):
        pool.start(_run(sandbox, package, inputs, "upper", "w1"), digest=DIGEST)
    assert not os.path.lexists(sandbox.root_dir / "acme" / "w1")  # the id is free again
    assert _gone(waiting, within_s=2.0)
    assert pool.wait_ready(key, 1, timeout_s=30.0)
    assert pool.pids(key) != [waiting]


class _Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def test_idle_processes_and_unused_keys_expire_after_the_ttl(
    sandbox: Sandbox, package: Path, inputs: Path
) -> None:
    clock = _Clock()
    with WarmPool(sandbox, per_key=2, ttl_s=30.0, clock=clock, maintain_every_s=None) as pool:
        key = pool.prewarm(_run(sandbox, package, inputs, "upper", "any"), digest=DIGEST)
        pool.maintain()
        assert pool.wait_ready(key, 2, timeout_s=30.0)
        pids = pool.pids(key)
        clock.now_s += 29.0
        assert pool.expire() == 0
        clock.now_s += 2.0
        assert pool.expire() == 2
        assert all(_gone(pid, within_s=2.0) for pid in pids)
        pool.maintain()
        assert pool.held() == (0, 0)  # the key is no longer wanted: scaled to zero
        result = _finish(pool, _run(sandbox, package, inputs, "upper", "c1"))
        assert result.start == "cold"
        pool.maintain()
        assert pool.held()[0] == 2  # its use made it wanted again


def test_a_key_whose_import_fails_is_dropped(sandbox: Sandbox, package: Path, inputs: Path) -> None:
    with WarmPool(sandbox, per_key=1, maintain_every_s=None) as pool:
        run = _run(sandbox, package, inputs, "upper", "any")
        broken = SandboxRun(**{**run.__dict__, "entry": "nosuchmodule:run"})
        pool.prewarm(broken, digest=DIGEST)
        pool.maintain()
        assert pool.held()[0] == 1
        deadline_s = time.monotonic() + 20.0
        for _ in range(2000):  # until its import failed and the pool dropped it
            pool.maintain()
            if pool.held() == (0, 0) or time.monotonic() > deadline_s:
                break
            time.sleep(0.01)
        assert pool.held() == (0, 0)
        result = _finish(pool, SandboxRun(**{**broken.__dict__, "run_id": "c1"}))
        assert (result.start, result.outcome) == ("cold", "error")
        assert "ModuleNotFoundError" in result.stderr


def test_bad_pool_settings_and_a_reused_run_id_are_refused(
    sandbox: Sandbox, pool: WarmPool, package: Path, inputs: Path
) -> None:
    with pytest.raises(SandboxError, match=r"^per_key: .*got 0"):
        WarmPool(sandbox, per_key=0)
    with pytest.raises(SandboxError, match=r"^ttl_s: .*got -1"):
        WarmPool(sandbox, ttl_s=-1)
    with pytest.raises(SandboxError, match=r"^digest: .*got '\.\./x'"):
        pool.prewarm(_run(sandbox, package, inputs, "upper", "any"), digest="../x")
    _finish(pool, _run(sandbox, package, inputs, "upper", "r1"))
    _warmed(pool, _run(sandbox, package, inputs, "upper", "any"))
    with pytest.raises(SandboxError, match=r"^run_id: 'r1' already has a directory"):
        pool.start(_run(sandbox, package, inputs, "upper", "r1"), digest=DIGEST)
    assert pool.ready(pool.prewarm(_run(sandbox, package, inputs, "upper", "x"), digest=DIGEST))
