"""The control plane's use-cases: what the API asks of the controller, the stores and agents.

Every change runs as a command of the single writer (``worker``), so it is committed before
its caller hears of it; reads go to the stores directly. Methods that change state return a
``concurrent.futures.Future`` (an async caller awaits it with ``asyncio.wrap_future``).

Tenant scoping: a ``scope`` of None acts across tenants (admins); otherwise a task of another
tenant is reported exactly as an absent one.

This module holds the plane's wiring, its start and stop, and the writer's tick; the use-cases
live in ``plane_tasks``, ``plane_topology`` and ``plane_agents`` over the shared state of
``plane_core``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from suanwang.control.controller import ControllerConfig, nodes_by_state
from suanwang.control.ports import Clock, DispatchFactory, SystemClock
from suanwang.control.stores import StoreError, Stores, TaskJournal
from suanwang.market import PricePlan, builtin_plan
from suanwang.market.store import MarketStore
from suanwang.model import Scenario
from suanwang.scheduling import Profile
from suanwang.scheduling.leases import NodeLeases
from suanwang.service.agents import AgentPolicy, AgentRegistry
from suanwang.service.attest import Attestor, AttestPolicy
from suanwang.service.deployments import Deployments
from suanwang.service.health import HealthConfig, HealthMonitor
from suanwang.service.intents import AssuranceConfig, Intents
from suanwang.service.joining import Joining
from suanwang.service.ledger import LedgerSyncer
from suanwang.service.livefile import LiveScenarioFile, Staged
from suanwang.service.market import Market
from suanwang.service.metrics import PlaneMetrics
from suanwang.service.plane_agents import PlaneAgents
from suanwang.service.plane_tasks import PlaneTasks
from suanwang.service.plane_topology import BUILD_ERRORS, PlaneTopology
from suanwang.service.registry import Registry
from suanwang.service.runlogs import RunLogs
from suanwang.service.series import DEFAULT_CAPACITY, DEFAULT_PERIOD_S, PlaneSeries
from suanwang.service.worker import Batch, Recorder, Worker

__all__ = ["BUILD_ERRORS", "ControlPlane"]  # BUILD_ERRORS: the routes import it from here


class ControlPlane(PlaneTasks, PlaneTopology, PlaneAgents):
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
