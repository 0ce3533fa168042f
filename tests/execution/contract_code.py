"""Tenants' code in the execution contract suite: a package, its store, and agents that run it.

``CodePuller`` stands in for the node agents' loop over an ``AgentDispatch``, as the contract
suite's ``Puller`` does, but runs each pulled task the agents' own way: ``coderun.run_code``
stages the artefact and inputs over HTTP, runs them in a real ``Sandbox`` and posts the result.
The HTTP API is an in-process transport serving the run's objects from the object store and
keeping its result there, as the control plane's routes do. Withdrawn runs (cancelled after the
pull) are killed and the kill confirmed, as ``agent_runs.RunTracker`` does.
"""

from __future__ import annotations

import io
import os
import re
import threading
import time
import zipfile
from pathlib import Path

import httpx

from suanwang.control.artefacts import register
from suanwang.control.objects import ObjectStore, read_all
from suanwang.execution import AgentDispatch
from suanwang.execution.coderun import CodeRun, CodeRunCancelledError, ObjectCache, run_code
from suanwang.execution.oci import OciRunner
from suanwang.execution.requirements import Wheelhouse
from suanwang.execution.sandbox import Sandbox
from suanwang.execution.storerun import RESULT_REF, keep_result
from suanwang.model import Task

TENANT = "acme"

SOURCE = """
import json
import os
import time
from pathlib import Path


def count(inputs: Path, outputs: Path) -> None:
    words = {}
    for path in sorted(inputs.iterdir()):
        for word in path.read_text().split():
            words[word] = words.get(word, 0) + 1
    (outputs / "counts.json").write_text(json.dumps(words, sort_keys=True))
    (outputs / "inputs.txt").write_text(" ".join(p.name for p in sorted(inputs.iterdir())))


def hold(inputs: Path, outputs: Path) -> None:
    # the input names a file where an unsandboxed run says which process it is (a sandboxed
    # one may not write there, and its pid is its namespace's), then waits to be killed
    (target,) = [p.read_text().strip() for p in inputs.iterdir()]
    try:
        Path(target + ".tmp").write_text(str(os.getpid()))
        os.replace(target + ".tmp", target)
    except OSError:
        pass
    print("holding", flush=True)
    time.sleep(60)
"""


NEEDY = """
from pathlib import Path

import tenantdep


def run(inputs: Path, outputs: Path) -> None:
    (outputs / "shouted.txt").write_text(tenantdep.shout("hello"))
"""

DEPENDENCY = {"tenantdep/__init__.py": "def shout(text):\n    return text.upper() + '!'\n"}
"""The package the wheelhouse holds (as ``tenantdep`` 1.0), which ``NEEDY`` imports."""


def push_package(
    store: ObjectStore,
    folder: Path,
    entry: str = "counter:count",
    files: dict[str, str] | None = None,
) -> str:
    """A zip artefact of ``TENANT`` (default: the ``counter`` package); returns its digest."""
    path = folder / "package.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in (files or {"counter/__init__.py": SOURCE}).items():
            archive.writestr(name, text)
    digest, _ = register(store, TENANT, path, entry)
    return digest


def put(store: ObjectStore, data: bytes) -> str:
    """``data`` as an object of ``TENANT``; returns its digest."""
    return store.put(TENANT, io.BytesIO(data)).digest


def result_files(store: ObjectStore, task_id: str) -> dict[str, bytes]:
    """The files of a task's stored result."""
    digest = store.ref(TENANT, RESULT_REF.format(task_id=task_id))
    assert digest is not None, f"task {task_id} has no stored result"
    with zipfile.ZipFile(io.BytesIO(read_all(store, TENANT, digest))) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def pid_gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (gone, or a zombie waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def pids_naming(marker: str) -> list[int]:
    """The processes whose command line names ``marker`` (a sandboxed run names its folders)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes() and not pid_gone(
                    int(entry.name)
                ):
                    found.append(int(entry.name))
            except OSError:  # it ended while looked at
                continue
    return found


def wait_for(check: object, timeout_s: float, every_s: float = 0.01) -> bool:
    """Poll ``check()`` until true or ``timeout_s`` passed (bounded)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(every_s)
    return bool(check())  # type: ignore[operator]


_ROUTE = re.compile(r"^/v1/agents/(?P<node>[^/]+)/runs/(?P<run>[^/]+)/(?P<rest>.+)$")


class CodePuller:
    """The node agents of an ``AgentDispatch`` running tenants' code (module docstring)."""

    def __init__(self, dispatch: AgentDispatch, nodes: tuple[str, ...], store: ObjectStore,
                 work_dir: Path, wheelhouse: Path, *, oci: OciRunner | None = None,
                 ) -> None:  # fmt: skip
        self.dispatch, self.nodes, self.store, self.oci = dispatch, nodes, store, oci
        self.wheelhouse = Wheelhouse(str(wheelhouse), work_dir / "requirements")
        self.cache = ObjectCache(work_dir / "cache")
        self.sandbox = Sandbox(work_dir / "runs")
        self.client = httpx.Client(transport=httpx.MockTransport(self._serve), base_url="http://cp")
        self._tenants: dict[str, str] = {}
        self._runs: dict[str, tuple[str, threading.Event]] = {}
        self._busy = 0
        self._idle = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="code-puller", daemon=True)
        self._thread.start()

    def _serve(self, request: httpx.Request) -> httpx.Response:
        match = _ROUTE.match(request.url.path)
        assert match is not None, request.url.path
        tenant, rest = self._tenants[match["run"]], match["rest"]
        if rest.startswith("objects/"):
            return httpx.Response(200, content=read_all(self.store, tenant, rest[8:]))
        if rest == "logs":
            return httpx.Response(200, json={})
        assert rest == "result", rest
        digest = keep_result(self.store, tenant, match["run"], request.read())
        return httpx.Response(201, json={"digest": digest})

    def _loop(self) -> None:
        while not self._stop.is_set():
            pulled = [(n, t) for n in self.nodes for t in self.dispatch.pull(n, 4)]
            for node, task in pulled:
                with self._idle:
                    self._busy += 1
                    cancelled = threading.Event()
                    self._runs[task.id] = (node, cancelled)
                    self._tenants[task.id] = task.tenant
                threading.Thread(target=self._run, args=(node, task, cancelled)).start()
            with self._idle:
                held = [(n, r) for r, (n, _) in self._runs.items()]
            for node in self.nodes:
                ids = [r for n, r in held if n == node]
                for run_id in self.dispatch.withdrawn(node, ids) if ids else ():
                    with self._idle:
                        held_run = self._runs.get(run_id)
                    if held_run is not None:
                        held_run[1].set()
            self._stop.wait(0.01)

    def _run(self, node: str, task: Task, cancelled: threading.Event) -> None:
        run = CodeRun(task.id, task.tenant, task.spec, node, None)
        try:
            started = lambda _handle: self.dispatch.report_started(task.id, node)  # noqa: E731
            try:
                outcome = run_code(
                    self.client, self.cache, self.sandbox, run, cancelled=cancelled,
                    started=started, wheelhouse=self.wheelhouse, oci=self.oci,
                )  # fmt: skip
                ok, reason = True, f"completed on {node}: {outcome.ran_on}"
            except CodeRunCancelledError:
                self.dispatch.confirm_killed(node, task.id)
                return
            except Exception as error:
                ok, reason = False, f"{type(error).__name__}: {error}"
            self.dispatch.report_finished(task.id, node, ok, reason)
        finally:
            with self._idle:
                self._runs.pop(task.id, None)
                self._busy -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout_s: float = 60.0) -> bool:
        """Until every pulled run has ended and none waits to be pulled (bounded)."""

        def idle() -> bool:
            return self._busy == 0 and all(self.dispatch.waiting(n) == 0 for n in self.nodes)

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._idle:
                if idle():
                    return True
                self._idle.wait(0.05)
        return idle()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10.0)
        assert self.wait_idle(), "the agents' runs did not end"
        self.client.close()
