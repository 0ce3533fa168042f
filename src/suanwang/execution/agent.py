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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from suanwang.execution.agent_runs import RunTracker
from suanwang.execution.binding import bind_key, refused_as_unknown_key
from suanwang.execution.coderun import CodeRun, ObjectCache, run_code
from suanwang.execution.kinds import KindError, Work, WorkOutcome, select_kind
from suanwang.execution.load import CpuMeter, LoadSource
from suanwang.execution.netprobe import LOOPBACK, EchoServer, probe_peers, rtt_report
from suanwang.execution.oci import OciRunner, podman_path
from suanwang.execution.requirements import Wheelhouse
from suanwang.execution.sandbox import Sandbox
from suanwang.execution.spool import DEFAULT_SPOOL_CAP, Reports, ReportSpool
from suanwang.execution.warm import WarmPool
from suanwang.execution.workers import RunCancelled, RunTimeExceeded, WorkerPool
from suanwang.measure.challenge import answer
from suanwang.measure.probes import ProbeSettings, probe_once
from suanwang.model import AcceleratorKind, Precision, TaskClass, TaskSpec
from suanwang.model.task import AcceleratorNeed
from suanwang.security import KeyPair, MetricReport, Role, load_private_key, save_private_key
from suanwang.security import sign_report as sign
from suanwang.security.tls import client_context

log = logging.getLogger("suanwang.agent")

QUICK_PROBES = ProbeSettings(matrix_size=256, repeats=2, copy_mib=16, gpu=False, warmup=False)
"""Probe sizes of an agent's start-up measurement (a fraction of a second)."""


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """How an agent reaches the control plane and what it offers.

    Attributes:
        controller_url: Base URL of the control plane.
        token: The agent principal's bearer token.
        node_id: Node the agent speaks for.
        interval_s: Seconds between heartbeats (signed metric reports).
        workers: Processes that run tasks at once.
        key_path: Where the agent's private key is kept (created when absent); None keeps
            a fresh key in memory only.
        poll_s: Pause between pulls when there is nothing to do.
        timeout_s: Timeout of one HTTP request.
        cpu_cores: Cores the node offers, which measured load is a share of; None takes the
            machine's (probed) cores.
        load_source: What load is measured: the agent's ``workers`` or the whole ``host``.
        probe_interval_s: Seconds between link probes; 0 serves no echo endpoint, probes nothing.
        echo_host: Address the echo endpoint binds and is announced at.
        ca_file: PEM file an ``https`` control plane is verified with (its CA or its own
            certificate, pinned); None trusts the system's certificate authorities.
        max_run_s: Longest the agent lets any task run (None: only the control plane's limit).
        bind_timeout_s: Longest the agent keeps trying to bind its key at start.
        work_dir: Folder of the node's object cache and sandboxed runs of tenants' code
            (``execution.coderun``); None makes a temporary one at the first such run.
        warm_per_function: Pre-started interpreters the node keeps per tenant, artefact and
            entry once it ran one (``execution.warm``); 0 starts every run cold.
        wheelhouse: A folder of wheels or an index URL artefacts' requirements are installed
            from (``execution.requirements``); empty: an artefact that declares any fails.
        spool_dir: Folder of the finished reports not yet answered (``execution.spool``);
            None keeps them beside the key file (``<key file>.spool``), or in memory without one.
        spool_cap: Most finished reports kept unsent.
    """

    controller_url: str
    token: str
    node_id: str
    interval_s: float = 1.0
    workers: int = 1
    key_path: Path | None = None
    poll_s: float = 0.1
    timeout_s: float = 10.0
    cpu_cores: float | None = None
    load_source: LoadSource = "host"
    probe_interval_s: float = 0.0
    echo_host: str = LOOPBACK
    ca_file: Path | None = None
    max_run_s: float | None = None
    bind_timeout_s: float = 120.0
    work_dir: Path | None = None
    warm_per_function: int = 0
    wheelhouse: str = ""
    spool_dir: Path | None = None
    spool_cap: int = DEFAULT_SPOOL_CAP


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


def load_or_create_key(path: Path | None) -> KeyPair:
    """The agent's key pair from ``path``, created there (mode 0600) when absent."""
    if path is not None and path.exists():
        return load_private_key(path, Role.AGENT)
    keys = KeyPair.generate(Role.AGENT)
    if path is not None:
        save_private_key(keys, path)
    return keys


def spec_of(document: dict[str, Any]) -> TaskSpec:
    """The ``TaskSpec`` of a task document from the API (the fields that pick the work)."""
    spec: dict[str, Any] = document["spec"]
    need = spec.get("accelerator")
    accelerator = None
    if need is not None:
        accelerator = AcceleratorNeed(
            AcceleratorKind(need["kind"]), int(need["count"]), float(need["min_mem_gib"])
        )
    return TaskSpec(
        work_gflop=float(spec["work_gflop"]),
        precision=Precision(spec["precision"]),
        cpu_cores=float(spec["cpu_cores"]),
        mem_gib=float(spec["mem_gib"]),
        accelerator=accelerator,
        task_class=TaskClass(spec["task_class"]),
        task_type=spec.get("task_type"),
        service_id=spec.get("service_id"),
        artefact=spec.get("artefact"),
        entry=spec.get("entry"),
        inputs=tuple(spec.get("inputs") or ()),
    )


class NodeAgent:
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

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.config.controller_url,
            headers={"Authorization": f"Bearer {self.config.token}"},
            timeout=self.config.timeout_s,
            transport=self._transport,
            verify=client_context(self.config.ca_file),
        )

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

    def _bind(self, client: httpx.Client, timeout_s: float) -> None:
        config = self.config
        pause_s, stopping = config.poll_s, self.stopping
        bind_key(
            client,
            config.node_id,
            self.keys,
            timeout_s=timeout_s,
            pause_s=pause_s,
            stopping=stopping,
        )

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

    @property
    def cpu_cores(self) -> float:
        """Cores the node offers: configured, else the machine's."""
        configured = self.config.cpu_cores
        return configured if configured is not None else self._facts.get("cpu_cores", 1.0)

    def heartbeat_values(self) -> dict[str, float]:
        """The figures of one heartbeat: the probes' facts and the load measured since the last.

        Load is the busy cores the meter measured (``execution.load``) against ``cpu_cores``.
        """
        cores = self.cpu_cores
        busy = 0.0 if self._meter is None else self._meter.busy_cores()
        return {
            "cpu_free_cores": max(0.0, cores - busy),
            "load_ratio": min(1.0, busy / cores) if cores > 0 else 1.0,
            "queue_length": float(self._running),
            **{k: v for k, v in self._facts.items() if k.endswith("gflops")},
        }

    def _probes(self) -> None:
        node = self.config.node_id
        with self._client() as client:
            while not self.stopping.is_set():
                try:
                    peers = client.get(f"/v1/agents/{node}/peers").raise_for_status().json()
                    targets = [(p["link_id"], p["host"], int(p["port"])) for p in peers]
                    if targets:
                        report = rtt_report(node, probe_peers(targets), time.time())
                        wire = sign(self.keys, report).to_wire().decode()
                        response = client.post(f"/v1/agents/{node}/rtt", json={"envelope": wire})
                        if response.status_code != 200:
                            log.warning("link probes refused: %s", response.text)
                except httpx.HTTPError as error:
                    log.warning("link probes failed: %s", error)
                self.stopping.wait(self.config.probe_interval_s)

    def _attest(self, client: httpx.Client, challenge: dict[str, Any] | None) -> None:
        """Answer a challenge the control plane sent with a heartbeat's answer."""
        if not challenge:
            return
        done = answer(int(challenge["seed"]), int(challenge["size"]))
        body = {
            "challenge_id": challenge["id"],
            "row_checksums": list(done.row_checksums),
            "measured_gflops": done.measured_gflops,
        }
        response = client.post(f"/v1/agents/{self.config.node_id}/attestation", json=body)
        log.info("attestation answered: %s %s", response.status_code, response.text[:300])

    def _heartbeats(self) -> None:
        node = self.config.node_id
        with self._client() as client:
            while not self.stopping.is_set():
                report = MetricReport(node, self.heartbeat_values(), time.time())
                wire = sign(self.keys, report).to_wire().decode()
                try:
                    response = client.post(f"/v1/agents/{node}/metrics", json={"envelope": wire})
                    if response.status_code != 200:
                        log.warning("heartbeat refused: %s", response.text)
                    if refused_as_unknown_key(response):
                        self._bind(client, 0.0)  # the next heartbeat goes through
                    elif response.status_code == 200:
                        self._attest(client, response.json().get("challenge"))
                except httpx.HTTPError as error:
                    log.warning("heartbeat failed: %s", error)
                self.stopping.wait(self.config.interval_s)
