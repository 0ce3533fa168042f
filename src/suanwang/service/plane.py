"""The control plane's use-cases: what the API asks of the controller, the stores and agents.

Every change runs as a command of the single writer (``worker``), so it is committed before
its caller hears of it; reads go to the stores directly. Methods that change state return a
``concurrent.futures.Future`` (an async caller awaits it with ``asyncio.wrap_future``).

Tenant scoping: a ``scope`` of None acts across tenants (admins); otherwise a task of another
tenant is reported exactly as an absent one.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from suanwang.control.controller import ControllerConfig, nodes_by_state
from suanwang.control.ports import Clock, DispatchFactory, SystemClock
from suanwang.control.stores import (
    AuditEvent,
    ConflictError,
    NotFoundError,
    Principal,
    StoreError,
    Stores,
    StoreUnavailableError,
    TaskJournal,
    TaskStore,
    check_key,
)
from suanwang.market import PricePlan, builtin_plan
from suanwang.market.store import MarketStore
from suanwang.model import Scenario, Task, TaskSpec
from suanwang.scenario import ScenarioError
from suanwang.scheduling import Profile
from suanwang.scheduling.leases import NodeLeases
from suanwang.security import SignedEnvelope, Verdict, key_id_of
from suanwang.service.agents import AgentPolicy, AgentRegistry
from suanwang.service.attest import Attestor, AttestPolicy
from suanwang.service.deployments import Deployments
from suanwang.service.health import HealthConfig, HealthMonitor
from suanwang.service.intents import AssuranceConfig, Intents
from suanwang.service.joining import RAW_KEY_BYTES, Joining
from suanwang.service.ledger import LedgerSyncer
from suanwang.service.live import Explanation, LiveNetwork
from suanwang.service.livefile import LOAD_ACTION, LiveScenarioFile, Staged, committed_loads
from suanwang.service.market import Market
from suanwang.service.metrics import PlaneMetrics
from suanwang.service.registry import Registry
from suanwang.service.runlogs import RunLogs
from suanwang.service.series import DEFAULT_CAPACITY, DEFAULT_PERIOD_S, PlaneSeries
from suanwang.service.worker import Batch, Recorder, Worker

log = logging.getLogger(__name__)
T = TypeVar("T")

BUILD_ERRORS = (ValueError, ArithmeticError, RecursionError, TypeError, KeyError, IndexError)
"""What building a live network from a valid-looking scenario may raise: the scenario's fault."""


_ADMIT_TIMEOUT_S = 30.0
"""Longest a key binding waits for the writer to return its no-agent node to the pool."""


@dataclass(frozen=True, slots=True)
class Submitted:
    """The answer to a submission: the task and whether this call created it."""

    task: Task
    created: bool


class ControlPlane:
    """The live control plane (see the module docstring).

    Args:
        stores: Durable tasks, principals and audit.
        journal: Group commit over the same database.
        scenario: The scenario made live at start.
        profile: Scheduling profile.
        dispatch: Makes each live network's agents' engine from its node ids (a
            ``PullDispatch``; the composition root names the adapter).
        clock: Time of transitions (default: the wall clock).
        max_batch: Most requests one group commit answers.
        live_scenario_path: Where a scenario loaded through the API is kept, so that the next
            start serves it again; None to keep nothing.
        config: Controller tunables.
        health: Heartbeat thresholds of self-healing; None runs no health monitor.
        agents: No-agent nodes, dispatch timeout and run time limits of agents' tasks.
        ledger: Keeps the audit ledger synced while the plane runs; None keeps none.
        attest: When nodes are challenged and how their answers are judged (``attest``).
        series_period_s: Time between samples of the plane's time series (``series``).
        series_samples: Samples of the time series kept.
        market: The market's book, leases, accounts and usage (``service.market``); None
            runs no market and meters nothing.
        plan: The price plan usage is rated with (default: the built-in one).
        assurance: Planning and assurance of intents (``intents``; kept where the stores
            keep intents).
    """

    def __init__(
        self,
        stores: Stores,
        journal: TaskJournal,
        scenario: Scenario,
        profile: Profile,
        *,
        dispatch: DispatchFactory,
        clock: Clock | None = None,
        max_batch: int = 512,
        live_scenario_path: Path | None = None,
        config: ControllerConfig | None = None,
        health: HealthConfig | None = None,
        agents: AgentPolicy | None = None,
        ledger: LedgerSyncer | None = None,
        attest: AttestPolicy | None = None,
        series_period_s: float = DEFAULT_PERIOD_S,
        series_samples: int = DEFAULT_CAPACITY,
        market: MarketStore | None = None,
        plan: PricePlan | None = None,
        assurance: AssuranceConfig | None = None,
    ) -> None:
        self.stores = stores
        self.ledger = ledger
        self.metrics = PlaneMetrics()
        self.series = PlaneSeries(self.metrics, series_period_s, series_samples)
        self.clock: Clock = clock or SystemClock()
        self.agents = AgentRegistry(stores.agents, self.clock, agents or AgentPolicy())
        self.run_logs = RunLogs()  # runs' stdout and stderr, as their agents reported them
        self.attestor = Attestor(stores.trust, self.clock, attest or AttestPolicy())
        self.joining = Joining(self)
        self.registry = Registry(self)
        self.deployments = Deployments(self)
        self._profile, self._config, self._dispatch = profile, config, dispatch
        self._live_file = (
            None if live_scenario_path is None else LiveScenarioFile(live_scenario_path)
        )
        self._staged: tuple[Staged, float] | None = None  # a load waiting for its commit
        self._recorder = Recorder(self.metrics)
        self.node_leases = NodeLeases()  # shared by every live network this plane builds
        self.market = (
            None
            if market is None
            else Market(
                market, plan or builtin_plan(), self.clock, self._owners, self.node_leases.replace
            )
        )
        if self.market is not None:
            self._recorder.on_commit = self.market.note_runs
        self.live = self._build(scenario)
        self._worker = Worker(
            self.live.controller,
            self._recorder,
            journal,
            self.metrics,
            max_batch=max_batch,
            tick=self._tick,
            after_commit=self._publish,
        )
        self.health = None if health is None else HealthMonitor(self, health)
        self.intents = None if stores.intents is None else Intents(self, stores.intents, assurance)

    @property
    def tasks(self) -> TaskStore:
        """The task store, for reads."""
        return self.stores.tasks

    def _build(self, scenario: Scenario) -> LiveNetwork:
        found = self.registry.overlay(scenario)  # runtime registrations on top (``registry``)
        live = LiveNetwork.build(
            found.scenario,
            self._profile,
            self.clock,
            self._recorder,
            self._config,
            dispatch=self._dispatch,
        )
        self.agents.attach(live)  # bindings kept over restarts and scenario loads
        self.joining.attach(live)  # quarantines kept; agents challenged again
        self.registry.attach(live, found)
        live.controller.state.leases = self.node_leases
        return live

    def start(self, timeout_s: float = 120.0) -> int:
        """Start the writer and resume every stored task not yet final; returns how many."""
        stored = self.stores.tasks.non_terminal()
        for task in stored:
            self._recorder.persisted[task.id] = task
        resumed = self._worker.call(lambda _: self.live.controller.resume(stored))
        self._worker.start()
        count: int = resumed.result(timeout_s)
        if self.health is not None:
            self.health.start()
        if self.ledger is not None:
            self.ledger.start()
        if self.market is not None:
            self.market.refresh()
            self.market.recover(self.stores.tasks)  # usage a crash left unflushed
        if self.intents is not None:
            self.intents.start()
        return count

    def stop(self) -> None:
        """Stop self-healing, finish queued requests and stop the writer."""
        if self.health is not None:
            self.health.stop()
        if self.intents is not None:
            self.intents.stop()
        self._worker.stop()
        with contextlib.suppress(StoreError):  # best effort: the start floor covers the rest
            self.agents.flush_marks(everything=True)
        if self.ledger is not None:
            self.ledger.stop()

    def _owners(self) -> dict[str, str]:
        nodes = self.live.controller.state.topology.nodes
        return {node_id: node.owner for node_id, node in nodes.items()}

    def _publish(self) -> None:
        self.live.dispatch.publish(self.clock.now_s())
        if self.market is not None:
            self.market.flush()  # usage of the runs this commit ended
        if self._staged is not None:
            self._settle_load()

    def _settle_load(self) -> None:
        """After the first commit since a load ran: promote its staged file if it committed.

        Its batch's commit succeeded (then this is that commit), or failed and the writer kept
        its entries for this commit, or dropped them: the audit log says which.
        """
        assert self._staged is not None
        assert self._live_file is not None
        staged, at_s = self._staged
        try:
            committed = committed_loads(self.stores.audit, [staged.load_id], since_s=at_s - 1.0)
        except StoreUnavailableError:
            return  # asked again after the next commit; a restart settles it otherwise
        self._staged = None
        try:
            if committed:
                self._live_file.promote(staged)
            else:
                log.error("scenario load %s did not commit; its file is dropped", staged.load_id)
                self._live_file.discard(staged)
        except OSError as exc:
            # The next start settles the staged file from the audit log.
            log.error("cannot settle scenario load %s: %s", staged.load_id, exc)

    def _audit(self, batch: Batch, who: str, action: str, target: str, detail: str = "") -> None:
        batch.audit.append(AuditEvent(who, action, target, detail, self.clock.now_s()))

    audit = _audit
    """Add an audit entry to the writer's batch (for use-cases run as writer commands)."""

    def call(self, command: Callable[[Batch], T]) -> Future[T]:
        """Run ``command`` on the writer; its batch commits before the future resolves."""
        return self._worker.call(command)

    def _tick(self, batch: Batch) -> None:
        controller = self.live.controller
        # Measured state first: the queue expiry below and every cycle until the next tick
        # decide on it (snapshot, hour, dampened link latency).
        self.live.feed.tick(controller.state)
        controller.expire()
        controller.retry_queued()  # what was measured busy may be measured free now
        self._agents_tick(batch)
        self.registry.tick(batch)
        self.deployments.tick(batch)
        self.metrics.queue_depth.set(controller.queued)
        self.metrics.active_tasks.set(controller.active)
        for state, count in nodes_by_state(controller.state).items():
            self.metrics.nodes.labels(state).set(count)
        live, held = self.live, controller.state.reservations
        nodes = live.scenario.topology.nodes
        self.metrics.nodes_quarantined.set(sum(n in nodes for n in live.quarantined_nodes))
        self.metrics.observe_sites(
            live.scenario.topology,
            held.cpu_cores,
            held.mem_gib,
            held.accelerators,
            (
                ("quarantined", live.quarantined_nodes),
                ("down", live.down_nodes),
                ("no-agent", live.no_agent_nodes),
                ("draining", live.draining_nodes),
            ),
        )
        self.series.observe(
            self.clock.now_s(),
            live.scenario.topology,
            held.cpu_cores,
            controller.queued,
            controller.active,
        )

    def _agents_tick(self, batch: Batch) -> None:
        """Dispatch timeout and the write-behind of report marks (writer thread)."""
        swept = self.agents.sweep(self.live)
        for node_id, moved in swept.no_agent.items():
            detail = f"no agent took its tasks; {moved} placed again"
            self._audit(batch, "system", "node.no-agent", f"node:{node_id}", detail)
        try:
            self.agents.flush_marks()
        except StoreError:
            log.warning("report marks not stored yet; retried at the next tick", exc_info=True)

    def _latest(self, task_id: str) -> Task | None:
        """The newest record of a task the worker knows of (None: ask the store)."""
        return self._recorder.dirty.get(task_id) or self.live.controller.task(task_id)

    def _visible(self, task_id: str, scope: str | None) -> Task:
        task = self._latest(task_id) or self.stores.tasks.get(task_id, scope)
        if task is None or (scope is not None and task.tenant != scope):
            raise NotFoundError(f"task {task_id!r} does not exist")
        return task

    # ----------------------------------------------------------------- tasks

    def submit_now(self, batch: Batch, who: str, spec: TaskSpec, tenant: str) -> Task:
        """Submit ``spec`` for ``tenant`` from a command already on the writer (deployments)."""
        task_id = uuid.uuid4().hex
        task = self.live.controller.submit(task_id, spec, tenant)
        self._recorder.new[task_id] = None
        self._audit(batch, who, "task.submit", f"task:{task_id}", spec.task_type or "")
        return task

    def submit(self, who: Principal, spec: TaskSpec, key: str | None = None) -> Future[Submitted]:
        """Accept a task for ``who``'s tenant, at most once per idempotency key.

        The future raises ``ConflictError`` when the key was used for a different spec.

        Raises:
            ValueError: the key is empty or too long (checked here, so that it cannot fail
                the commit of the requests it would share a batch with).
        """
        check_key(key)
        tenant = who.tenant

        def run(batch: Batch) -> Submitted:
            if key is not None:
                existing = batch.found.get((tenant, key))
                if existing is not None:
                    if existing.spec != spec:
                        raise ConflictError(
                            f"idempotency key {key!r} was used for another task ({existing.id})"
                        )
                    return Submitted(self._latest(existing.id) or existing, False)
            task_id = uuid.uuid4().hex
            started_s = time.perf_counter()
            task = self.live.controller.submit(task_id, spec, tenant)
            self.metrics.decision_seconds.observe(time.perf_counter() - started_s)
            self._recorder.new[task_id] = key
            if key is not None:
                batch.found[(tenant, key)] = task
            self._audit(batch, who.id, "task.submit", f"task:{task_id}", spec.task_type or "")
            return Submitted(task, True)

        return self._worker.call(run, () if key is None else ((tenant, key),))

    def cancel(self, who: Principal, task_id: str, scope: str | None) -> Future[Task]:
        """Cancel an active task; ``ConflictError`` if it is already final."""

        def run(batch: Batch) -> Task:
            task = self._visible(task_id, scope)
            if task.state.is_terminal:
                raise ConflictError(f"task {task_id} is already {task.state}")
            cancelled = self.live.controller.cancel(task_id, f"cancelled by {who.id}")
            if cancelled is None:
                raise ConflictError(f"task {task_id} is not active on this network")
            self._audit(batch, who.id, "task.cancel", f"task:{task_id}")
            return cancelled

        return self._worker.call(run)

    def explain(
        self, task_id: str, scope: str | None, node_id: str | None = None
    ) -> Future[tuple[Task, Explanation]]:
        """The task and where its spec would go now, or why nowhere (nothing is reserved).

        The future raises ``KeyError`` when ``node_id`` names no node.
        """

        def run(_: Batch) -> tuple[Task, Explanation]:
            task = self._visible(task_id, scope)
            return task, self.live.explain(task, node_id)

        return self._worker.call(run)

    def placements(self, scope: str | None, node_id: str | None, limit: int) -> Future[list[Task]]:
        """Active tasks holding a placement (on ``node_id`` when given), oldest first."""

        def run(_: Batch) -> list[Task]:
            controller, out = self.live.controller, []
            for task_id in controller.active_ids():
                task = controller.task(task_id)
                if task is None or task.placement is None:
                    continue
                if scope is not None and task.tenant != scope:
                    continue
                if node_id is not None and task.placement.node_id != node_id:
                    continue
                out.append(task)
                if len(out) >= limit:
                    break
            return out

        return self._worker.call(run)

    # ----------------------------------------------------------------- topology

    def set_node(self, who: Principal, node_id: str, up: bool, reason: str) -> Future[int]:
        """Mark a node up or down; the future holds how many tasks were re-placed."""
        return self._set_element(who, "node", node_id, up, reason)

    def set_link(self, who: Principal, link_id: str, up: bool, reason: str) -> Future[int]:
        """Mark a link up or down; the future holds how many tasks were re-placed."""
        return self._set_element(who, "link", link_id, up, reason)

    def drain_node(self, who: Principal, node_id: str, reason: str) -> Future[int]:
        """Drain a node: nothing new lands there; its long-running services move off.

        They move make-before-break; the future holds how many began to move. ``set_node``
        up ends the drain.
        """

        def run(batch: Batch) -> int:
            live = self.live
            if node_id not in live.scenario.topology.nodes:
                raise NotFoundError(f"node {node_id!r} does not exist")
            if node_id in live.down_nodes:
                raise ConflictError(f"node {node_id} is down: bring it up before draining it")
            moved = live.controller.drain(node_id, reason)
            live.draining_nodes = _marked(live.draining_nodes, node_id, down_now=True)
            self._audit(batch, who.id, "node.drain", f"node:{node_id}", reason)
            return moved

        return self._worker.call(run)

    def _set_element(
        self, who: Principal, kind: str, element_id: str, up: bool, reason: str
    ) -> Future[int]:
        def run(batch: Batch) -> int:
            live, controller = self.live, self.live.controller
            topology = live.scenario.topology
            known = topology.nodes if kind == "node" else topology.links
            if element_id not in known:
                raise NotFoundError(f"{kind} {element_id!r} does not exist")
            if kind == "node" and element_id in live.retired_nodes:
                raise ConflictError(f"node {element_id} is retired")
            moved = 0
            if kind == "node":
                if up:
                    # Only a consistent attestation lifts a quarantine (``joining``).
                    if element_id not in live.quarantined_nodes:
                        controller.node_up(element_id)
                    # An operator's up overrides no-agent (until a dispatch timeout says again).
                    live.no_agent_nodes = _marked(live.no_agent_nodes, element_id, down_now=False)
                else:
                    moved = controller.node_down(element_id, reason)
                live.down_nodes = _marked(live.down_nodes, element_id, down_now=not up)
                live.draining_nodes = _marked(live.draining_nodes, element_id, down_now=False)
            else:
                if up:
                    controller.link_up(element_id)
                else:
                    moved = controller.link_down(element_id, reason)
                live.down_links = _marked(live.down_links, element_id, down_now=not up)
            action = f"{kind}.{'up' if up else 'down'}"
            self._audit(batch, who.id, action, f"{kind}:{element_id}", reason)
            return moved

        return self._worker.call(run)

    def load_scenario(self, who: Principal, scenario: Scenario, cancel_active: bool) -> Future[int]:
        """Make ``scenario`` the live topology; the future holds how many tasks were cancelled.

        The new live network is built and the scenario staged on disk here, in the caller's
        thread, before anything live changes. The writer then cancels the active tasks and
        records the load; both go to the database in one commit, the commit point, and only
        after it does the staged file become the live file (``livefile``). The future raises
        ``ConflictError`` while tasks are active, unless ``cancel_active``.

        Raises:
            ScenarioError: the scenario cannot be made live (nothing changed).
            OSError: the scenario cannot be staged on disk (nothing changed).
        """
        try:
            live = self._build(scenario)
            staged = None if self._live_file is None else self._live_file.stage(scenario)
        except BUILD_ERRORS as exc:
            message = " ".join(f"cannot make the scenario live: {exc}".split())[:300]
            raise ScenarioError(message, source=scenario.name) from None

        def run(batch: Batch) -> int:
            controller = self.live.controller
            active = controller.active_ids()
            if active and not cancel_active:
                if staged is not None:
                    LiveScenarioFile.discard(staged)
                raise ConflictError(
                    f"{len(active)} tasks are active on the current topology; "
                    "load with cancel_active to cancel them"
                )
            for task_id in active:
                controller.cancel(task_id, f"the live topology was replaced by {scenario.name}")
            self.live = live
            self._worker.controller = live.controller
            detail = "" if staged is None else staged.audit_detail(len(active))
            event = AuditEvent(
                who.id, LOAD_ACTION, f"scenario:{scenario.name}", detail, self.clock.now_s()
            )
            batch.audit.append(event)  # committed with the cancellations, in one transaction
            if staged is not None:
                self._staged = (staged, event.at_s)
            return len(active)

        return self._worker.call(run)

    # ----------------------------------------------------------------- agents

    def pull(self, node_id: str, limit: int) -> list[Task]:
        """Published tasks for ``node_id``'s agent (thread-safe; no commit needed)."""
        return self.live.dispatch.pull(node_id, limit)

    def max_run_s(self, tenant: str) -> float | None:
        """Longest a task of ``tenant`` may run before its agent stops it (None: no limit)."""
        return self.agents.policy.run_limit_s(tenant)

    def report(
        self,
        who: Principal,
        node_id: str,
        task_id: str,
        *,
        finished: bool,
        ok: bool,
        reason: str,
        measured_compute_ms: float | None = None,
    ) -> Future[Task]:
        """An agent's report that a task of its node started, or finished (``ok`` or not).

        A finished, ok report with the compute time the agent measured also teaches the
        live efficiency table (``LiveNetwork.learn``).
        """

        def run(batch: Batch) -> Task:
            dispatch = self.live.dispatch
            if dispatch.node_of(task_id) != node_id:
                raise NotFoundError(f"task {task_id!r} is not dispatched to node {node_id}")
            # The agent knows the task by its run id: the task id, or a replacement's id.
            placed = self.live.controller.task_of_run(task_id)
            owner = task_id if placed is None else placed.id
            if finished and ok and measured_compute_ms is not None and placed is not None:
                self.live.learn(placed, measured_compute_ms)
            if finished:
                accepted = dispatch.report_finished(task_id, node_id, ok, reason)
            else:
                accepted = dispatch.report_started(task_id, node_id)
            if not accepted:
                raise ConflictError(f"task {task_id} was already reported started")
            event = "finished" if finished else "started"
            detail = reason if owner == task_id else f"run {task_id}: {reason}"
            self._audit(batch, who.id, f"task.{event}", f"task:{owner}", detail)
            task = self._latest(owner)
            assert task is not None  # the report just moved it, so it is dirty
            return task

        return self._worker.call(run)

    def bind_agent_key(self, who: Principal, node_id: str, public_key: bytes) -> str:
        """Let ``who``'s Ed25519 key sign metric reports for ``node_id``; returns its key id.

        The binding is stored before this returns (it survives a restart); a ``no-agent``
        node is then back in the pool.

        Raises:
            ValueError: the key is not a raw Ed25519 public key or not the one bound to ``who``.
            NotFoundError: the node does not exist.
        """
        live = self.live
        if node_id not in live.scenario.topology.nodes:
            raise NotFoundError(f"node {node_id!r} does not exist")
        if len(public_key) != RAW_KEY_BYTES:
            raise ValueError(f"a raw Ed25519 public key has {RAW_KEY_BYTES} bytes")
        key_id = key_id_of(public_key)
        if key_id != who.agent_key_id:
            raise ValueError(f"key {key_id} is not the key bound to principal {who.id}")
        self.agents.bind(live, who, node_id, public_key, key_id)
        self.attestor.join(node_id)
        if self.health is not None:
            self.health.watch(node_id)
        if node_id in live.no_agent_nodes:
            admitted = self._worker.call(lambda _: self.agents.admit(live, node_id))
            admitted.result(_ADMIT_TIMEOUT_S)
        return key_id

    def ingest(self, envelope: SignedEnvelope) -> Verdict:
        """Verify a signed metric report and apply it (see ``Aggregator.ingest``)."""
        live = self.live
        with live.aggregator_lock:
            return live.aggregator.ingest(envelope).verdict

    def record(self, who: Principal, action: str, target: str, detail: str = "") -> Future[None]:
        """Write an audit entry with the next group commit."""
        return self._worker.call(lambda batch: self._audit(batch, who.id, action, target, detail))


def _marked(down: frozenset[str], element_id: str, *, down_now: bool) -> frozenset[str]:
    """``down`` with ``element_id`` added (down) or removed (up); a new set, never mutated."""
    return down | {element_id} if down_now else down - {element_id}
