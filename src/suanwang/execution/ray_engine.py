"""The Ray engine: each suanwang node is a Ray node, and work runs pinned to it.

Mapping (the one rule): a Ray node stands for the suanwang nodes whose custom resource
``suanwang-node:<node id>`` it advertises (``ray start --resources='{"suanwang-node:edge-1":
1}'``; the amount does not matter, tasks do not consume it). ``RayEngine`` reads the map from
the cluster's live nodes, or takes it as ``node_map`` (suanwang node id -> Ray node id). One
Ray node may stand for several suanwang nodes; a suanwang node on two Ray nodes is an error.

A started task runs its kind (``suanwang.execution.kinds``) as a Ray task with
``NodeAffinitySchedulingStrategy(node_id, soft=False)``: on that Ray node or not at all (a lost
node fails the task, which is then reported failed). The task records the Ray node it really
ran on, and a run that ran elsewhere is reported failed. Each task asks Ray for
``cpus_per_task`` CPUs: Ray's accounting bounds how many run at once on a Ray node, while the
suanwang reservation ledger decides what is placed where.

``task_started`` is reported once Ray has the task (the port counts work in transit as
begun). Ends are noticed without polling: each task's object ref is wrapped in a future
(``ObjectRef.future()``), whose completion queues an event for the engine's reporter thread,
the only thread that reports. (Polling with ``ray.wait`` scans every ref in flight on each
call — about 0.15 ms of driver CPU per task with 1,000 in flight on two cores — and delays each
end by up to the poll interval.) ``cancel`` calls ``ray.cancel``. Ray is imported when an
engine is made: it is the optional extra ``suanwang[ray]``.

A task that names an artefact runs the tenant's code through a runtime environment
(``execution.ray_code``) when the engine is given the object store (``objects``): staged from
it on a driver thread, its result stored back in it. Its cancel kills the Ray worker
(``ray.cancel(force=True)``) whatever ``force_cancel`` says, and the engine says so in
``kills`` and its log.
"""

from __future__ import annotations

import importlib
import logging
import os
import queue
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

from suanwang.control.objects import ObjectStore
from suanwang.control.ports import EngineReports
from suanwang.execution.kinds import KindError, Work, WorkOutcome, run_work, select_kind
from suanwang.execution.ray_code import (
    CodeResult,
    StagedCode,
    outcome_of,
    run_artefact,
    stage_for_ray,
)
from suanwang.execution.requirements import Wheelhouse
from suanwang.execution.runbook import RecordHook, ReentrantLock, Run, RunBook, RunRecord
from suanwang.execution.storerun import ARTEFACT_KIND, StoreCache, keep_result
from suanwang.model import Task

RESOURCE_PREFIX = "suanwang-node:"
"""Prefix of the custom resource by which a Ray node names a suanwang node it stands for."""
LOOPBACK = "127.0.0.1"
_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
_LOOPBACK_FLAG = "ENABLE_RAY_CLUSTER"
_Event = tuple[str, str, int, object]
"""(what, task id, run token, detail): ``started``, ``failed`` (detail: reason), ``done``."""

_log = logging.getLogger(__name__)


class RayUnavailableError(RuntimeError):
    """Ray is not installed (the ``ray`` extra)."""


def import_ray(*, loopback: bool = False) -> Any:
    """The ``ray`` module, imported on first use.

    Imported by name so that type checking and the rest of suanwang do not depend on the
    optional extra; everything from Ray stays ``Any`` behind this boundary.

    Args:
        loopback: Ray will run on this machine's loopback only. Ray reads at import whether
            "127.0.0.1" means loopback (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``) or this
            machine's outside address; the variable is set (unless set otherwise) for this
            process and the Ray processes it starts, and a Ray imported earlier without it is
            told the same through the flag it read the variable into.

    Raises:
        RayUnavailableError: Ray is not installed.
        RuntimeError: ``loopback`` is asked for while the variable is set to something else.
    """
    if loopback and os.environ.setdefault(_LOOPBACK_ENV, "0") != "0":
        raise RuntimeError(f"a loopback Ray cluster needs {_LOOPBACK_ENV}=0")
    try:
        ray = importlib.import_module("ray")
    except ImportError:
        raise RayUnavailableError("the Ray engine needs Ray: pip install 'suanwang[ray]'") from None
    constants = sys.modules.get("ray._private.ray_constants")
    if loopback and getattr(constants, _LOOPBACK_FLAG, False):
        setattr(constants, _LOOPBACK_FLAG, False)  # ray was imported before the variable was set
    return ray


def is_loopback(address: str | None) -> bool:
    """True for no address (a local instance) or one on 127.0.0.0/8 or localhost."""
    if address is None:
        return True
    host = address.removeprefix("ray://").rpartition(":")[0] or address
    return host == "localhost" or host.startswith("127.")


def node_resource(node_id: str) -> str:
    """The custom resource by which a Ray node stands for suanwang node ``node_id``."""
    return RESOURCE_PREFIX + node_id


def discover_node_map(ray: Any) -> dict[str, str]:
    """Suanwang node id -> Ray node id, read from the resources of the cluster's live nodes.

    Raises:
        ValueError: A suanwang node is advertised by two Ray nodes.
    """
    found: dict[str, str] = {}
    for node in ray.nodes():
        if not node.get("Alive", False):
            continue
        for resource in node.get("Resources", {}):
            if resource.startswith(RESOURCE_PREFIX):
                node_id = resource.removeprefix(RESOURCE_PREFIX)
                if node_id in found and found[node_id] != node["NodeID"]:
                    raise ValueError(f"suanwang node {node_id!r} is on two Ray nodes")
                found[node_id] = str(node["NodeID"])
    return found


def run_pinned(kind: str, work: Work, allow_user_functions: bool) -> WorkOutcome:
    """Body of the Ray task: run the kind and say which Ray node ran it."""
    outcome = run_work(kind, work, allow_user_functions)
    node = import_ray().get_runtime_context().get_node_id()
    return WorkOutcome(outcome.result, outcome.compute_s, outcome.started_at_s, str(node))


class RayEngine:
    """Runs tasks on a Ray cluster, each pinned to its node's Ray node (module docstring).

    Args:
        address: Cluster to connect to (``ray://`` or ``host:port``); None joins the one this
            process is connected to, or starts a local single-node instance.
        node_map: Suanwang node id -> Ray node id (hex); None reads it from the resources.
        cpus_per_task: CPUs each Ray task asks for.
        allow_user_functions: Let tasks name ``module:function`` kinds (trusted use only).
        force_cancel: Kill the worker on cancel rather than interrupt the task.
        on_record: Called with every ``RunRecord``, from the reporter thread.
        history: Most run records kept.
        lock: Reentrant lock reports are delivered under; pass the one held around calls
            into the controller (see ``suanwang.execution.runbook``).
        objects: The object store artefacts, inputs and results are in; None fails every task
            that names an artefact.
        cache_dir: The driver's cache of staged objects (None: a temporary folder).
        wheelhouse: A folder of wheels or an index URL artefacts' requirements are installed
            from (``execution.requirements``); None: an artefact that declares any fails.

    Raises:
        RayUnavailableError: Ray is not installed.
        ValueError: No suanwang node is mapped to a Ray node.
    """

    def __init__(
        self,
        address: str | None = None,
        node_map: Mapping[str, str] | None = None,
        *,
        cpus_per_task: float = 1.0,
        allow_user_functions: bool = False,
        force_cancel: bool = False,
        on_record: RecordHook | None = None,
        history: int = 10_000,
        lock: ReentrantLock | None = None,
        objects: ObjectStore | None = None,
        cache_dir: Path | None = None,
        wheelhouse: str | None = None,
    ) -> None:
        ray = self._ray = import_ray(loopback=is_loopback(address))
        self._owns_ray = not ray.is_initialized()
        self._thread: threading.Thread | None = None
        if self._owns_ray:
            local: dict[str, Any] = (
                {} if address else {"include_dashboard": False, "_node_ip_address": LOOPBACK}
            )
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False, **local)
        self.node_map = dict(node_map) if node_map is not None else discover_node_map(ray)
        if not self.node_map:
            self.close()
            raise ValueError(
                f"no Ray node stands for a suanwang node: give node_map, or start Ray nodes "
                f"with a custom resource {RESOURCE_PREFIX}<node id>"
            )
        strategies = importlib.import_module("ray.util.scheduling_strategies")
        remote = ray.remote(run_pinned)
        # One set of options per Ray node, made once: ``options()`` is not free per call.
        self._remotes: dict[str, Any] = {
            ray_node: remote.options(
                num_cpus=cpus_per_task,
                scheduling_strategy=strategies.NodeAffinitySchedulingStrategy(ray_node, soft=False),
            )
            for ray_node in set(self.node_map.values())
        }
        self._strategies = {
            ray_node: strategies.NodeAffinitySchedulingStrategy(ray_node, soft=False)
            for ray_node in set(self.node_map.values())
        }
        self._code_remote = ray.remote(run_artefact)
        self._cpus = cpus_per_task
        self._objects = objects
        self._scratch = None if cache_dir or objects is None else tempfile.TemporaryDirectory()
        root = cache_dir or Path(self._scratch.name if self._scratch else ".")
        self._cache = StoreCache(objects, root) if objects is not None else None
        self._wheelhouse = Wheelhouse(wheelhouse, root / "requirements") if wheelhouse else None
        self._stager = ThreadPoolExecutor(2, thread_name_prefix="ray-stage")
        self._kills: deque[str] = deque(maxlen=history)
        self._allow = allow_user_functions
        self._force = force_cancel
        self._book = RunBook(on_record, history, lock)
        self._events: queue.SimpleQueue[_Event | None] = queue.SimpleQueue()
        self._reports: EngineReports | None = None
        self._thread = threading.Thread(target=self._report_loop, name="ray-engine", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ the port

    def attach(self, reports: EngineReports) -> None:
        """Where starts and ends are reported."""
        self._reports = reports

    def inventory(self) -> tuple[str, ...]:
        """The suanwang nodes that have a Ray node."""
        return tuple(self.node_map)

    def start(self, task: Task) -> None:
        """Submit a scheduled task to its node's Ray node; returns once Ray has it.

        Raises:
            ValueError: The task has no placement.
        """
        if task.placement is None:
            raise ValueError(f"task {task.id!r} has no placement: it was not scheduled")
        if task.spec.artefact is not None:
            self._start_code(task)
            return
        try:
            kind = select_kind(task.spec, allow_user_functions=self._allow)
        except KindError as error:
            self._events.put(("failed", task.id, self._book.begin(task, "").token, str(error)))
            return
        run = self._book.begin(task, kind)
        ray_node = self.node_map.get(task.placement.node_id)
        if ray_node is None:
            why = f"node {task.placement.node_id} has no Ray node"
            self._events.put(("failed", task.id, run.token, why))
            return
        try:
            ref = self._remotes[ray_node].remote(kind, Work.of(task.id, task.spec), self._allow)
            future = ref.future()
        except Exception as error:  # Ray refused the submission (not connected, shut down)
            self._events.put(("failed", task.id, run.token, f"Ray submission failed: {error}"))
            return
        run.handle = ref
        # The start event is queued before the end can be: a start is reported first.
        self._events.put(("started", task.id, run.token, None))
        future.add_done_callback(partial(self._done, task.id, run.token))

    def cancel(self, task_id: str) -> None:
        """Cancel a task's Ray task; nothing more is reported for it."""
        run = self._book.cancel(task_id)
        if run is None or run.handle is None:
            return
        force = self._force or run.kind == ARTEFACT_KIND
        try:
            self._ray.cancel(run.handle, force=force)
        except Exception:  # already finished, or the cluster is gone: nothing left to stop
            _log.debug("ray.cancel of task %s", task_id, exc_info=True)
            return
        if force:
            said = f"task {task_id}: its Ray worker was killed (ray.cancel force=True)"
            self._kills.append(said)
            _log.info("%s", said)

    def kills(self) -> tuple[str, ...]:
        """What the engine killed on cancel, a line a run, oldest first."""
        with self._book.lock:
            return tuple(self._kills)

    # ------------------------------------------------------------------ extras

    def records(self) -> tuple[RunRecord, ...]:
        """The latest run records, oldest first."""
        return self._book.records()

    @property
    def running(self) -> int:
        """Tasks started and not yet reported finished."""
        return self._book.active

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the reporter; disconnect from Ray if this engine connected (idempotent)."""
        if self._thread is not None:
            self._stager.shutdown(wait=True, cancel_futures=True)
            self._events.put(None)
            self._thread.join(timeout_s)
            self._thread = None
            if self._scratch is not None:
                self._scratch.cleanup()
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()

    def __enter__(self) -> RayEngine:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _start_code(self, task: Task) -> None:
        """Stage an artefact's run on a driver thread, then submit it (module docstring)."""
        run = self._book.begin(task, ARTEFACT_KIND)
        assert task.placement is not None
        ray_node = self.node_map.get(task.placement.node_id)
        why = ""
        if self._cache is None:
            why = "the Ray engine was given no object store (objects): it cannot run artefacts"
        elif ray_node is None:
            why = f"node {task.placement.node_id} has no Ray node"
        if why or ray_node is None:
            self._events.put(("failed", task.id, run.token, why))
            return
        self._stager.submit(self._submit_code, run, ray_node)

    def _submit_code(self, run: Run, ray_node: str) -> None:
        task, token = run.task, run.token
        assert self._cache is not None
        try:
            staged = stage_for_ray(self._cache, task, self._wheelhouse)
        except Exception as error:  # staging, requirements, or a store that failed
            self._events.put(("failed", task.id, token, f"staging failed: {error}"))
            return
        with self._book.lock:  # a cancel either comes first (not current) or sees the handle
            if self._book.current(task.id, token) is None:
                return
            options = {"num_cpus": self._cpus, "scheduling_strategy": self._strategies[ray_node]}
            options["runtime_env"] = {"working_dir": str(staged.working_dir)}
            try:
                ref = self._code_remote.options(**options).remote(staged.entry, staged.inputs)
                future = ref.future()
            except Exception as error:  # Ray refused it (a runtime env it cannot make, say)
                self._events.put(("failed", task.id, token, f"Ray submission failed: {error}"))
                return
            run.handle = ref
            self._events.put(("started", task.id, token, None))
        future.add_done_callback(partial(self._code_done, task.id, token, staged))

    def _code_done(self, task_id: str, token: int, staged: StagedCode, future: Future[Any]) -> None:
        self._events.put(("done", task_id, token, (future, staged)))

    def _done(self, task_id: str, token: int, future: Future[WorkOutcome]) -> None:
        # Runs on a Ray thread: only queue the event; the reporter thread reports.
        self._events.put(("done", task_id, token, future))

    def _report_loop(self) -> None:
        while (event := self._events.get()) is not None:
            what, task_id, token, detail = event
            if what == "started":
                self._book.deliver_started(self._reports, task_id, token)
            elif what == "failed":
                self._book.deliver_finished(self._reports, task_id, token, None, str(detail))
            elif isinstance(detail, Future):
                self._finish(task_id, token, detail)
            elif isinstance(detail, tuple):
                self._finish_code(task_id, token, *detail)

    def _finish(self, task_id: str, token: int, future: Future[WorkOutcome]) -> None:
        try:
            outcome = future.result()
        except self._ray.exceptions.TaskCancelledError:
            return  # cancelled: its run was dropped then
        except Exception as error:
            cause = getattr(error, "cause", None) or error
            reason = f"{type(cause).__name__}: {cause}"
            self._book.deliver_finished(self._reports, task_id, token, None, reason)
            return
        run = self._book.current(task_id, token)
        placed = run.task.placement if run is not None else None
        expected = self.node_map.get(placed.node_id) if placed is not None else None
        failure = ""
        if expected is not None and outcome.ran_on != expected:
            failure = f"ran on Ray node {outcome.ran_on}, not {expected}"
        self._book.deliver_finished(self._reports, task_id, token, outcome, failure)

    def _finish_code(
        self, task_id: str, token: int, future: Future[CodeResult], staged: StagedCode
    ) -> None:
        try:
            result = future.result()
        except self._ray.exceptions.TaskCancelledError:
            return
        except Exception as error:
            cause = getattr(error, "cause", None) or error
            reason = f"{type(cause).__name__}: {cause}"
            self._book.deliver_finished(self._reports, task_id, token, None, reason)
            return
        run = self._book.current(task_id, token)
        if run is None or self._objects is None:
            return  # cancelled once it had ended: nothing is stored or reported
        try:
            digest = keep_result(self._objects, run.task.tenant, task_id, result.zipped)
        except Exception as error:  # the store refused it (over its size limit, say)
            why = f"result not stored: {error}"
            self._book.deliver_finished(self._reports, task_id, token, None, why)
            return
        placed = run.task.placement
        expected = self.node_map.get(placed.node_id) if placed is not None else None
        failure = ""
        if expected is not None and result.ray_node != expected:
            failure = f"ran on Ray node {result.ray_node}, not {expected}"
        outcome = outcome_of(result, digest, staged)
        self._book.deliver_finished(self._reports, task_id, token, outcome, failure)
