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
begun). ``start_batch`` submits a round of tasks back to back (``start`` is a round of one);
the engine's gatherer (``execution.ray_batch``), the only thread that reports, notices ends
with one ``ray.wait`` loop over every ref in flight and reports them in batches, each under
one hold of the engine's lock. ``cancel`` calls ``ray.cancel``. Ray is imported when an engine
is made: it is the optional extra ``suanwang[ray]`` (``execution.ray_support``).

A task that names an artefact runs the tenant's code through a runtime environment
(``execution.ray_code``) when the engine is given the object store (``objects``): staged from
it on a driver thread, its result stored back in it. Its cancel kills the Ray worker
(``ray.cancel(force=True)``) whatever ``force_cancel`` says, and the engine says so in
``kills`` and its log.
"""

from __future__ import annotations

import importlib
import logging
import tempfile
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from suanwang.control.objects import ObjectStore
from suanwang.control.ports import EngineReports
from suanwang.execution.kinds import KindError, Work, select_kind
from suanwang.execution.ray_batch import End, Entry, Flight, Gatherer, Refusal
from suanwang.execution.ray_code import outcome_of, run_artefact, stage_for_ray
from suanwang.execution.ray_support import (
    LOOPBACK,
    RESOURCE_PREFIX,
    RayUnavailableError,
    discover_node_map,
    import_ray,
    is_loopback,
    node_resource,
    run_pinned,
)
from suanwang.execution.requirements import Wheelhouse
from suanwang.execution.runbook import RecordHook, ReentrantLock, Run, RunBook, RunRecord
from suanwang.execution.storerun import ARTEFACT_KIND, StoreCache, keep_result
from suanwang.model import Task

__all__ = [  # the helpers are named here too: callers and tests import them from this module
    "LOOPBACK",
    "RESOURCE_PREFIX",
    "RayEngine",
    "RayUnavailableError",
    "discover_node_map",
    "import_ray",
    "is_loopback",
    "node_resource",
    "run_pinned",
]

_log = logging.getLogger(__name__)


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
        self._gatherer: Gatherer | None = None
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
        self._gatherer = Gatherer(ray, self._book, self._finish_code)

    # ------------------------------------------------------------------ the port

    def attach(self, reports: EngineReports) -> None:
        """Where starts and ends are reported (ends in batches when it has ``tasks_finished``)."""
        assert self._gatherer is not None
        self._gatherer.reports = reports

    def inventory(self) -> tuple[str, ...]:
        """The suanwang nodes that have a Ray node."""
        return tuple(self.node_map)

    def start(self, task: Task) -> None:
        """Submit a scheduled task to its node's Ray node; returns once Ray has it.

        Raises:
            ValueError: The task has no placement.
        """
        self.start_batch((task,))

    def start_batch(self, tasks: Sequence[Task]) -> None:
        """Submit scheduled tasks, in order and back to back; returns once Ray has them all.

        What ``start`` does for each, with one hand-over to the reporting thread for the round
        (a task that cannot be submitted is reported failed from there, never from here).

        Raises:
            ValueError: A task has no placement; none of the tasks is started then.
        """
        for task in tasks:
            if task.placement is None:
                raise ValueError(f"task {task.id!r} has no placement: it was not scheduled")
        entries: list[Entry] = []
        for task in tasks:
            if task.spec.artefact is not None:
                self._start_code(task)
            else:
                entries.append(self._submit(task))
        assert self._gatherer is not None
        self._gatherer.hand_over(entries)

    def _submit(self, task: Task) -> Entry:
        """Submit one kind's run to Ray: its flight, or why it could not be submitted."""
        assert task.placement is not None
        try:
            kind = select_kind(task.spec, allow_user_functions=self._allow)
        except KindError as error:
            return Refusal(task.id, self._book.begin(task, "").token, str(error))
        run = self._book.begin(task, kind)
        ray_node = self.node_map.get(task.placement.node_id)
        if ray_node is None:
            return Refusal(task.id, run.token, f"node {task.placement.node_id} has no Ray node")
        try:
            ref = self._remotes[ray_node].remote(kind, Work.of(task.id, task.spec), self._allow)
        except Exception as error:  # Ray refused the submission (not connected, shut down)
            return Refusal(task.id, run.token, f"Ray submission failed: {error}")
        run.handle = ref
        return Flight(ref, task, run.token, ray_node)

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
        if self._gatherer is not None:
            self._stager.shutdown(wait=True, cancel_futures=True)
            self._gatherer.close(timeout_s)
            self._gatherer = None
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
            self._hand_over(Refusal(task.id, run.token, why))
            return
        self._stager.submit(self._submit_code, run, ray_node)

    def _hand_over(self, entry: Entry) -> None:
        if self._gatherer is not None:  # None once closed: nothing is reported any more
            self._gatherer.hand_over([entry])

    def _submit_code(self, run: Run, ray_node: str) -> None:
        task, token = run.task, run.token
        assert self._cache is not None
        try:
            staged = stage_for_ray(self._cache, task, self._wheelhouse)
        except Exception as error:  # staging, requirements, or a store that failed
            self._hand_over(Refusal(task.id, token, f"staging failed: {error}"))
            return
        with self._book.lock:  # a cancel either comes first (not current) or sees the handle
            if self._book.current(task.id, token) is None:
                return
            options = {"num_cpus": self._cpus, "scheduling_strategy": self._strategies[ray_node]}
            options["runtime_env"] = {"working_dir": str(staged.working_dir)}
            try:
                ref = self._code_remote.options(**options).remote(staged.entry, staged.inputs)
            except Exception as error:  # Ray refused it (a runtime env it cannot make, say)
                self._hand_over(Refusal(task.id, token, f"Ray submission failed: {error}"))
                return
            run.handle = ref
            self._hand_over(Flight(ref, task, token, ray_node, staged))

    def _finish_code(self, flight: Flight, result: Any) -> End | None:
        """An artefact run's end: its output kept in the store while its run is current."""
        task_id, token, staged = flight.task.id, flight.token, flight.staged
        assert staged is not None
        run = self._book.current(task_id, token)
        if run is None or self._objects is None:
            return None  # cancelled once it had ended: nothing is stored or reported
        try:
            digest = keep_result(self._objects, run.task.tenant, task_id, result.zipped)
        except Exception as error:  # the store refused it (over its size limit, say)
            return (task_id, token, None, f"result not stored: {error}")
        failure = ""
        if flight.expected is not None and result.ray_node != flight.expected:
            failure = f"ran on Ray node {result.ray_node}, not {flight.expected}"
        return (task_id, token, outcome_of(result, digest, staged), failure)
