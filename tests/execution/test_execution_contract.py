"""The ExecutionEngine contract, the same tests for every engine: local, Ray and the twin's.

The port (``suanwang.control.ports.ExecutionEngine``): after ``start`` an engine reports
``task_started`` at most once and then ``task_finished`` exactly once, unless ``cancel`` came
first, after which nothing more; never from inside ``start`` or ``cancel``; ``cancel`` is
idempotent and ignores unknown ids; a cancelled task may be started again; ``inventory`` names
the nodes. Tasks are placed by the real scheduler, so every engine gets real placements and
reservations.

The twin's ``SimEngine`` fits the port as it is; what differs is time: its reports come from
the twin's event loop, so its harness drives the loop where the live engines' harness waits
on the clock (``Harness.wait`` and ``Harness.drain``).

``AgentDispatch`` is a pull engine: its workers are node agents that ask for their node's
tasks. Its harness publishes after every start (the control plane publishes after its commit)
and runs a ``Puller`` that stands in for the agents: it pulls each node's published tasks, runs
their built-in work and reports through ``report_started`` / ``report_finished``, as an agent
does over the API. Every contract test holds for it as it is: a cancelled task's later reports
are refused by the dispatch, so nothing reaches the controller after a cancel.

Every engine that runs real code (local, Ray, agents; the twin only models time) also runs a
tenant's own package (``contract_code``): staged with its input from the object store, its
output stored back as the task's result, a failure reported with its error, and a cancelled
run's processes gone within a second. The agents' harness there runs the agents' own code path
(``coderun.run_code``) against the store.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from contract_code import (
    DEPENDENCY,
    NEEDY,
    TENANT,
    CodePuller,
    pid_gone,
    pids_naming,
    push_package,
    put,
    result_files,
    wait_for,
)
from four_sites import four_sites
from wheels import build_wheel

from suanwang.control.ports import ExecutionEngine
from suanwang.execution import AgentDispatch, LocalEngine, RayEngine, Work, run_work, select_kind
from suanwang.model import Task, TaskSpec, TaskState
from suanwang.scheduling import ClusterState, Request, Scheduler, builtin_profiles
from suanwang.storage.objects import FileObjectStore
from suanwang.twin.accounting import Accounting
from suanwang.twin.engine import SimEngine
from suanwang.twin.loop import EventLoop
from suanwang.twin.metrics import RunMetrics, TimeSeries

NODES = ("e1", "e2", "c1", "c2")
WAIT_S = 60.0
LONG_GFLOP = 25.0  # about a second of matmul on one core here
SHORT = TaskSpec(work_gflop=0.01, task_type="matmul", ingress_site="users")
LONG = TaskSpec(work_gflop=LONG_GFLOP, task_type="matmul", ingress_site="users")

pytestmark = pytest.mark.timeout(180)


class Recorder:
    """A controller stand-in: keeps reports in order, flags any made inside start/cancel."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, bool | None]] = []
        self.reentrant: list[str] = []
        self.reasons: dict[str, str] = {}
        self.inside: int | None = None  # thread id while the harness is in start/cancel
        self._changed = threading.Condition()

    def _add(self, event: tuple[str, str, bool | None]) -> None:
        with self._changed:
            if self.inside == threading.get_ident():
                self.reentrant.append(event[1])
            self.events.append(event)
            self._changed.notify_all()

    def task_started(self, task_id: str) -> None:
        self._add(("started", task_id, None))

    def task_finished(self, task_id: str, ok: bool, reason: str) -> None:
        self.reasons[task_id] = reason
        self._add(("finished", task_id, ok))

    def mark(self) -> int:
        with self._changed:
            return len(self.events)

    def since(self, mark: int, task_id: str) -> list[tuple[str, str, bool | None]]:
        with self._changed:
            return [e for e in self.events[mark:] if e[1] == task_id]

    def finished(self, task_id: str, since: int = 0) -> bool:
        return any(e[0] == "finished" for e in self.since(since, task_id))

    def wait(self, done: Callable[[], bool], timeout_s: float) -> bool:
        with self._changed:
            return self._changed.wait_for(done, timeout_s)


class Puller:
    """The node agents of an ``AgentDispatch``: pull, run the built-in work, report.

    One thread polls every node for published tasks; each pulled task runs on a thread of its
    own (an agent's worker), which reports started, runs the task's kind and reports finished.
    """

    def __init__(self, dispatch: AgentDispatch) -> None:
        self.dispatch = dispatch
        self._busy = 0
        self._idle = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="puller", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            pulled = [(node, task) for node in NODES for task in self.dispatch.pull(node, 4)]
            if not pulled:
                self._stop.wait(0.002)
            for node, task in pulled:
                with self._idle:
                    self._busy += 1
                threading.Thread(target=self._run, args=(node, task), daemon=True).start()

    def _run(self, node: str, task: Task) -> None:
        try:
            self.dispatch.report_started(task.id, node)
            try:
                outcome = run_work(select_kind(task.spec), Work.of(task.id, task.spec))
                ok, reason = True, f"completed on {node} ({outcome.compute_s:.3f} s of compute)"
            except Exception as error:
                ok, reason = False, f"{type(error).__name__}: {error}"
            self.dispatch.report_finished(task.id, node, ok, reason)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout_s: float = WAIT_S) -> bool:
        """Until every pulled task has been reported on (or refused) and none waits."""

        def idle() -> bool:
            return self._busy == 0 and all(self.dispatch.waiting(n) == 0 for n in NODES)

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._idle:
                if idle():
                    return True
                # The waiting queues change without a notification here: look again shortly.
                self._idle.wait(0.05)
        return idle()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10.0)
        assert self.wait_idle(), "the agents' work did not end"


class Harness:
    """One engine under test, fed real placements, with waits fit for its kind of time."""

    def __init__(
        self,
        engine: ExecutionEngine,
        state: ClusterState,
        loop: EventLoop | None,
        puller: Puller | None = None,
        code_puller: CodePuller | None = None,
    ):
        self.engine = engine
        self.state = state
        self.loop = loop
        self.puller = puller
        self.code_puller = code_puller
        self.scheduler = Scheduler(builtin_profiles()["round-robin"], state)
        self.recorder = Recorder()
        engine.attach(self.recorder)

    def place(self, task_id: str, spec: TaskSpec, tenant: str = "") -> Task:
        decision = self.scheduler.schedule(Request(task_id, spec))
        assert decision.placement is not None, decision.status.reason
        task = Task.submit(task_id, spec, tenant, 0.0)
        return task.transition(TaskState.SCHEDULED, 0.0, "placed", decision.placement)

    def start(self, task: Task) -> None:
        self.recorder.inside = threading.get_ident()
        try:
            self.engine.start(task)
        finally:
            self.recorder.inside = None
        if isinstance(self.engine, AgentDispatch):
            self.engine.publish()  # the control plane publishes once the start is committed

    def cancel(self, task_id: str) -> int:
        """Cancel, give the reservation back; the mark after which nothing may be reported."""
        self.recorder.inside = threading.get_ident()
        try:
            self.engine.cancel(task_id)
        finally:
            self.recorder.inside = None
        self.scheduler.release(task_id)
        return self.recorder.mark()

    def wait(self, done: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
        if self.loop is None:
            return self.recorder.wait(done, timeout_s)
        for _ in range(100_000):  # simulated time: step the loop event by event
            next_s = self.loop.next_time_s()
            if done() or next_s is None:
                break
            self.loop.run(next_s)
        return done()

    def wait_started(self, task_id: str) -> bool:
        return self.wait(lambda: any(e[0] == "started" for e in self.recorder.since(0, task_id)))

    def drain(self) -> None:
        """Let every run the engine still has end, so a late report would show."""
        if self.loop is not None:
            self.wait(lambda: False)
        elif isinstance(self.engine, LocalEngine):
            self.engine.close()  # waits for work still in a worker
        elif self.puller is not None or self.code_puller is not None:
            assert (
                self.puller or self.code_puller
            ).wait_idle()  # every pulled run has reported (or been refused)
        else:
            assert _ray_cpus_free()  # a cancelled Ray task gives its CPU back once interrupted


def _ray_cpus_free(timeout_s: float = WAIT_S) -> bool:
    """Until the Ray cluster has every CPU free again: no task of the test still runs."""
    import ray

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ray.available_resources().get("CPU", 0.0) >= ray.cluster_resources().get("CPU", 0.0):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(params=["local", "ray", "sim", "agents"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    state = ClusterState(four_sites(8))
    if request.param == "agents":
        dispatch = AgentDispatch(NODES)
        puller = Puller(dispatch)
        yield Harness(dispatch, state, None, puller)
        puller.stop()
    elif request.param == "local":
        engine: LocalEngine | RayEngine | SimEngine = LocalEngine(NODES, max_workers=2)
        yield Harness(engine, state, None)
        engine.close()
    elif request.param == "ray":
        cluster = request.getfixturevalue("ray_cluster")
        engine = RayEngine()  # joins the cluster's connection; reads the node map
        assert engine.node_map == cluster.node_map
        yield Harness(engine, state, None)
        engine.close()
    else:
        loop = EventLoop()
        accounting = Accounting(state, RunMetrics(), TimeSeries(3600.0, 12, ()), 12.0)
        yield Harness(SimEngine(loop, state, accounting), state, loop)


def test_inventory_names_every_node(harness: Harness):
    assert sorted(harness.engine.inventory()) == sorted(NODES)


def test_each_start_reports_started_then_finished_exactly_once(harness: Harness):
    tasks = [harness.place(f"t{i}", SHORT) for i in range(8)]
    assert {t.placement.node_id for t in tasks if t.placement} == set(NODES)
    for task in tasks:
        harness.start(task)
    assert harness.wait(lambda: all(harness.recorder.finished(t.id) for t in tasks))
    harness.drain()
    for task in tasks:
        assert harness.recorder.since(0, task.id) == [
            ("started", task.id, None),
            ("finished", task.id, True),
        ]
    assert harness.recorder.reentrant == []


def test_cancel_right_after_start_silences_the_task(harness: Harness):
    harness.start(harness.place("long", LONG))
    mark = harness.cancel("long")
    marker = harness.place("marker", SHORT)
    harness.start(marker)
    assert harness.wait(lambda: harness.recorder.finished("marker"))
    harness.drain()
    assert harness.recorder.since(mark, "long") == []
    assert harness.recorder.reentrant == []


def test_cancel_of_a_running_task_silences_it(harness: Harness):
    harness.start(harness.place("long", LONG))
    # Started is the port's "running": the engine has handed the task to where it runs (the
    # local engine's own tests cancel once the work has visibly begun in its worker).
    assert harness.wait_started("long")
    mark = harness.cancel("long")
    harness.drain()
    assert harness.recorder.since(mark, "long") == []


def test_cancel_is_idempotent_and_ignores_unknown_ids(harness: Harness):
    harness.cancel("never-started")
    harness.start(harness.place("t", LONG))
    mark = harness.cancel("t")
    harness.cancel("t")
    harness.drain()
    assert harness.recorder.since(mark, "t") == []
    assert harness.recorder.reentrant == []


def test_a_cancelled_task_can_be_started_again(harness: Harness):
    harness.start(harness.place("t", LONG))
    mark = harness.cancel("t")
    harness.start(harness.place("t", SHORT))  # re-placed
    assert harness.wait(lambda: harness.recorder.finished("t", since=mark))
    harness.drain()
    assert [e for e in harness.recorder.since(mark, "t") if e[0] == "finished"] == [
        ("finished", "t", True)
    ]


# ---------------------------------------------------------------- tenants' code on every engine
# The engines that run real code (the twin only models time): a tenant's package, built here,
# with an input staged from the object store and its output stored back as the task's result.


@pytest.fixture(params=["local", "ray", "agents"])
def code_harness(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Harness, FileObjectStore]]:
    state = ClusterState(four_sites(8))
    store = FileObjectStore(tmp_path / "objects")
    wheelhouse = tmp_path / "wheelhouse"  # the operator's: the only source of requirements
    wheelhouse.mkdir()
    build_wheel(wheelhouse, "tenantdep", "1.0", DEPENDENCY)
    if request.param == "agents":
        dispatch = AgentDispatch(NODES)
        puller = CodePuller(dispatch, NODES, store, tmp_path / "agents", wheelhouse)
        yield Harness(dispatch, state, None, code_puller=puller), store
        puller.stop()
    elif request.param == "local":
        engine: LocalEngine | RayEngine = LocalEngine(
            NODES,
            max_workers=2,
            objects=store,
            code_dir=tmp_path / "local",
            wheelhouse=str(wheelhouse),
        )
        yield Harness(engine, state, None), store
        engine.close()
    else:
        request.getfixturevalue("ray_cluster")
        engine = RayEngine(objects=store, cache_dir=tmp_path / "ray", wheelhouse=str(wheelhouse))
        yield Harness(engine, state, None), store
        engine.close()


def _code_spec(artefact: str, inputs: tuple[str, ...], entry: str | None = None) -> TaskSpec:
    return TaskSpec(
        work_gflop=0.01, ingress_site="users", artefact=artefact, entry=entry, inputs=inputs
    )


def test_an_artefact_runs_with_its_staged_input_and_returns_its_output(
    code_harness: tuple[Harness, FileObjectStore], tmp_path: Path
) -> None:
    harness, store = code_harness
    artefact = push_package(store, tmp_path)
    text = put(store, b"to be or not to be")
    task = harness.place("code", _code_spec(artefact, (text,)), TENANT)
    harness.start(task)
    assert harness.wait(lambda: harness.recorder.finished("code"))
    assert harness.recorder.since(0, "code") == [
        ("started", "code", None),
        ("finished", "code", True),
    ], harness.recorder.reasons
    files = result_files(store, "code")
    assert json.loads(files["counts.json"]) == {"be": 2, "not": 1, "or": 1, "to": 2}
    assert files["inputs.txt"].decode() == text  # staged under its digest
    harness.drain()
    assert harness.recorder.reentrant == []


def test_a_failing_artefact_is_reported_failed_with_its_error(
    code_harness: tuple[Harness, FileObjectStore], tmp_path: Path
) -> None:
    harness, store = code_harness
    artefact = push_package(store, tmp_path)
    task = harness.place("bad", _code_spec(artefact, (), entry="counter:hold"), TENANT)
    harness.start(task)  # no input: the entry fails unpacking its one input
    assert harness.wait(lambda: harness.recorder.finished("bad"))
    assert harness.recorder.since(0, "bad")[-1] == ("finished", "bad", False)
    assert "ValueError" in harness.recorder.reasons["bad"]
    harness.drain()


def test_a_cancelled_artefact_runs_process_is_gone_within_a_second(
    code_harness: tuple[Harness, FileObjectStore], tmp_path: Path
) -> None:
    harness, store = code_harness
    artefact = push_package(store, tmp_path)
    pid_file = tmp_path / "pid.txt"
    named = put(store, str(pid_file).encode())
    task = harness.place("held", _code_spec(artefact, (named,), entry="counter:hold"), TENANT)
    harness.start(task)

    def run_pids() -> list[int]:  # Ray's worker says its pid; a sandbox names its folders
        if isinstance(harness.engine, RayEngine):
            return [int(pid_file.read_text())] if pid_file.exists() else []
        return pids_naming(str(tmp_path))

    assert wait_for(run_pids, WAIT_S), harness.recorder.reasons
    pids = run_pids()
    mark = harness.cancel("held")
    cancelled_at = time.monotonic()
    assert wait_for(lambda: all(pid_gone(p) for p in pids), 1.0), f"{pids} run after 1 s"
    assert time.monotonic() - cancelled_at < 1.0
    assert pids_naming(str(tmp_path)) == []
    harness.drain()
    assert harness.recorder.since(mark, "held") == []
    if isinstance(harness.engine, RayEngine):  # the engine says it killed the Ray worker
        assert harness.engine.kills() == (
            "task held: its Ray worker was killed (ray.cancel force=True)",
        )
    if isinstance(harness.engine, AgentDispatch):  # the agent confirmed its kill
        assert [k.run_id for k in harness.engine.kills] == ["held"]


@pytest.mark.parametrize("pinned", ["1.0", "9.9"])
def test_an_artefacts_requirement_comes_from_the_wheelhouse_or_is_named(
    code_harness: tuple[Harness, FileObjectStore], tmp_path: Path, pinned: str
) -> None:
    harness, store = code_harness
    files = {"needy/__init__.py": NEEDY, "requirements.txt": f"tenantdep=={pinned}\n"}
    artefact = push_package(store, tmp_path, "needy:run", files)
    harness.start(harness.place("needy", _code_spec(artefact, ()), TENANT))
    assert harness.wait(lambda: harness.recorder.finished("needy"))
    harness.drain()
    reason = harness.recorder.reasons["needy"]
    if pinned == "1.0":
        assert harness.recorder.since(0, "needy")[-1] == ("finished", "needy", True), reason
        assert result_files(store, "needy") == {"shouted.txt": b"HELLO!"}
    else:  # the wheelhouse holds 1.0 only, and nothing else is asked
        assert harness.recorder.since(0, "needy")[-1] == ("finished", "needy", False)
        assert f"requirement 'tenantdep=={pinned}' is not available from the wheelhouse" in reason
