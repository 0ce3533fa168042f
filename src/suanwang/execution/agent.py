"""The node agent: one machine (or one site, in tests and demos) serving the control plane.

An agent measures its machine once, binds its Ed25519 key to its node
(``PUT /v1/agents/{node}/key``), then, until stopped:

- a heartbeat thread sends a signed metric report every ``interval_s`` (the probes' figures
  plus the load measured over the interval, ``execution.load``: busy cores against the node's
  cores, as ``load_ratio`` and ``cpu_free_cores``), which is what the control plane's health
  monitor watches and the state feed gives every scheduling cycle;
- with ``probe_interval_s`` set, it serves an echo endpoint (announced with
  ``PUT /v1/agents/{node}/echo``), and a probe thread times the round trip across each link
  the control plane assigns it (``GET /v1/agents/{node}/peers``) and posts the figures signed
  (``POST /v1/agents/{node}/rtt``);
- the main loop pulls the tasks placed on its node (``POST /v1/agents/{node}/pull``) while it
  has free workers, reports each one started, runs its real work kind in a worker process
  (``execution.workers``) and reports it finished, ok or failed with the reason and measured
  time, spooled durably first and sent until answered (``execution.spool``). A task that
  runs past its maximum run time (the control plane's, sent with the task as ``max_run_s``,
  or the agent's own, whichever is shorter) is stopped by killing its worker process and
  reported failed with that reason. While it holds runs, ``agent_runs`` names
  them to the control plane at the poll pace and kills those cancelled or moved off the node.

The key binding is retried until the control plane answers (``execution.binding``), and done
again whenever a heartbeat is refused as signed by an unknown key (a control plane that lost a
binding it had not committed, such as one killed in the middle of it).

A heartbeat's answer may carry an attestation challenge (``measure.challenge``): the agent
computes the seeded matrix product and posts its row checksums and measured rate
(``POST /v1/agents/{node}/attestation``).

The agent's principal (role ``agent``, bound to the node and to the key id) and its token are
made by ``enrol`` (``execution.enrol``, one-time enrolment token) or by an admin beforehand
(``POST /v1/principals``, ``POST /v1/principals/{id}/tokens``).

This module holds the main loop and its runs; the traffic beside the tasks (binding,
heartbeats, attestation, probes) is ``agent_beats``, the configuration and key
``agent_config``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import signal
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx

from suanwang.execution.agent_beats import AgentBeats
from suanwang.execution.agent_config import QUICK_PROBES, AgentConfig, load_or_create_key, spec_of
from suanwang.execution.agent_runs import RunTracker
from suanwang.execution.coderun import CodeRun, ObjectCache, run_code
from suanwang.execution.kinds import KindError, Work, WorkOutcome, select_kind
from suanwang.execution.load import CpuMeter
from suanwang.execution.netprobe import EchoServer
from suanwang.execution.oci import OciRunner, podman_path
from suanwang.execution.requirements import Wheelhouse
from suanwang.execution.sandbox import Sandbox
from suanwang.execution.spool import Reports, ReportSpool
from suanwang.execution.warm import WarmPool
from suanwang.execution.workers import RunCancelled, RunTimeExceeded, WorkerPool
from suanwang.measure.probes import probe_once
from suanwang.security import KeyPair

log = logging.getLogger("suanwang.agent")

__all__ = ["AgentConfig", "NodeAgent"]  # AgentConfig: callers import it with the agent


def _worker_init() -> None:
    # Ctrl-C reaches the whole process group: workers finish their task, the agent stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker whose agent was killed outright would wait for work forever: leave with it.
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="agent-watch", daemon=True).start()


class NodeAgent(AgentBeats):
    """A running agent (see the module docstring).

    Args:
        config: Where and how to serve.
        keys: The signing key; loaded from or created at ``config.key_path`` when None.
        transport: HTTP transport (tests may pass an in-process one).
    """

    def __init__(
        self,
        config: AgentConfig,
        keys: KeyPair | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.keys = keys or load_or_create_key(config.key_path)
        self.stopping = threading.Event()
        key_path, folder = config.key_path, config.spool_dir
        if folder is None and key_path is not None:
            folder = key_path.with_name(f"{key_path.name}.spool")
        self.reports = Reports(config.node_id, ReportSpool(folder, config.spool_cap))
        self._running = 0
        self._done: queue.Queue[tuple[str, Future[WorkOutcome]]] = queue.Queue()
        self._facts: dict[str, float] = {}
        self._code: tuple[ObjectCache, Sandbox] | None = None
        self._wheelhouse: Wheelhouse | None = None
        self._oci: OciRunner | None = None
        self._warm: WarmPool | None = None
        self.runs = RunTracker(config.node_id)
        self._transport = transport
        self._meter: CpuMeter | None = None
        self.echo: EchoServer | None = None

    @property
    def completed(self) -> int:
        """Runs reported completed and accepted."""
        return self.reports.completed

    @property
    def failed(self) -> int:
        """Runs reported failed and accepted."""
        return self.reports.failed

    @property
    def key_id(self) -> str:
        """Id of the agent's public key (what its principal must be bound to)."""
        return self.keys.key_id

    def run(self) -> None:
        """Serve until ``stopping`` is set; running tasks are finished and reported first.

        Raises:
            httpx.HTTPStatusError: the control plane refused the key binding.
        """
        node = self.config.node_id
        pool = WorkerPool(self.config.workers, _worker_init)
        with contextlib.ExitStack() as stack:
            stack.callback(pool.shutdown)
            stack.callback(lambda: self._warm.close() if self._warm is not None else None)
            client = stack.enter_context(self._client())
            # Workers start (and import numpy) while the probes run, so that the first task
            # does not pay for it: the agent heartbeats only once it can run work at once.
            self._facts = probe_once(QUICK_PROBES)
            pool.wait_ready(120.0)
            self._meter = CpuMeter(self.config.load_source)  # the workers exist by now
            self._bind(client, self.config.bind_timeout_s)
            beat = threading.Thread(target=self._heartbeats, name=f"heartbeat-{node}", daemon=True)
            beat.start()
            if self.config.probe_interval_s > 0:
                self.echo = EchoServer(self.config.echo_host).start()
                where = {"host": self.echo.host, "port": self.echo.port}
                client.put(f"/v1/agents/{node}/echo", json=where).raise_for_status()
                threading.Thread(target=self._probes, name=f"probes-{node}", daemon=True).start()
            while not self.stopping.is_set():
                try:
                    busy = self._step(client, pool)
                except httpx.HTTPError as error:
                    # The control plane may restart; keep trying at the poll pace.
                    log.warning("control plane unreachable: %s", error)
                    busy = False
                if not busy:
                    self.stopping.wait(self.config.poll_s)
            deadline_s = time.monotonic() + 60.0
            while self._running and time.monotonic() < deadline_s:
                if not self._report_done(client):
                    time.sleep(0.05)
            with contextlib.suppress(httpx.HTTPError):  # what stays unsent waits on disk
                self.reports.deliver(client)
            beat.join(self.config.timeout_s)
            if self.echo is not None:
                self.echo.stop()

    def _step(self, client: httpx.Client, pool: WorkerPool) -> bool:
        busy = bool(self.reports.spool) and self.reports.deliver(client)  # resent first, in order
        busy |= self._report_done(client)
        if self.runs.due:
            busy |= self.runs.sync(client)
        free = self.config.workers - self._running
        if free > 0:
            busy |= self._pull(client, pool, free)
        return busy

    def _pull(self, client: httpx.Client, pool: WorkerPool, free: int) -> bool:
        node = self.config.node_id
        response = client.post(f"/v1/agents/{node}/pull", json={"limit": free})
        response.raise_for_status()
        tasks: list[dict[str, Any]] = response.json()
        for document in tasks:
            task_id = document["id"]
            try:
                spec = spec_of(document)
                kind = select_kind(spec) if spec.artefact is None else None
            except (KindError, KeyError, ValueError) as error:
                self.reports.finished(client, task_id, ok=False, reason=f"cannot run: {error}")
                continue
            self.reports.event(client, task_id, {"event": "started"})
            limits = [self.config.max_run_s, document.get("max_run_s")]
            max_run_s = min((float(x) for x in limits if x), default=None)
            if kind is None:
                run = CodeRun(task_id, document["tenant"], spec, node, max_run_s)
                cancelled = threading.Event()
                future = self._start_code(run, cancelled)
                self._running += 1
                self.runs.track(task_id, cancelled.set)
                future.add_done_callback(functools.partial(self._ended, task_id))
                continue
            future = pool.submit(task_id, kind, Work.of(task_id, spec), max_run_s)
            self._running += 1
            self.runs.track(task_id, functools.partial(pool.cancel, task_id))
            future.add_done_callback(functools.partial(self._ended, task_id))
        return bool(tasks)

    def _start_code(self, run: CodeRun, cancelled: threading.Event) -> Future[WorkOutcome]:
        """Stage, run and send back a tenant's code on a thread of its own until ``cancelled``."""
        if self._code is None:
            root = self.config.work_dir or Path(tempfile.mkdtemp(prefix="suanwang-agent-"))
            self._code = ObjectCache(root / "cache"), Sandbox(root / "runs")
            if self.config.warm_per_function > 0:
                self._warm = WarmPool(self._code[1], per_key=self.config.warm_per_function)
            if self.config.wheelhouse:
                self._wheelhouse = Wheelhouse(self.config.wheelhouse, root / "requirements")
            podman = podman_path()  # OCI images run where the node has podman
            self._oci = OciRunner(podman) if podman is not None else None
        cache, sandbox = self._code
        warm, wheelhouse, oci = self._warm, self._wheelhouse, self._oci
        future: Future[WorkOutcome] = Future()

        def work() -> None:
            try:
                with self._client() as client:
                    outcome = run_code(
                        client, cache, sandbox, run, cancelled=cancelled, warm=warm,
                        wheelhouse=wheelhouse, oci=oci,
                    )  # fmt: skip
            except BaseException as error:  # every failure is the run's report
                future.set_exception(error)
            else:
                future.set_result(outcome)

        threading.Thread(target=work, name=f"code-{run.run_id}", daemon=True).start()
        return future

    def _ended(self, task_id: str, future: Future[WorkOutcome]) -> None:
        self._done.put((task_id, future))

    def _report_done(self, client: httpx.Client) -> bool:
        reported = False
        while True:
            try:
                task_id, future = self._done.get_nowait()
            except queue.Empty:
                return reported
            self._running -= 1
            self.runs.ended(task_id)
            reported = True
            error = future.exception()
            if isinstance(error, RunCancelled):  # withdrawn: the control plane moved on
                continue
            if error is not None:
                why = str(error) if isinstance(error, RunTimeExceeded) else f"failed: {error}"
                self.reports.finished(client, task_id, ok=False, reason=why)
                continue
            outcome = future.result()
            reason = (
                f"completed on {self.config.node_id} "
                f"({outcome.compute_s * 1000:.1f} ms of compute, {outcome.ran_on})"
            )
            self.reports.finished(
                client, task_id, ok=True, reason=reason, measured_ms=outcome.compute_s * 1000
            )
