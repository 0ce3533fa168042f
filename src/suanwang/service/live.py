"""The live network: one scenario made live, with its controller, dispatch and awareness.

A ``LiveNetwork`` is built for each topology the control plane serves; loading another scenario
builds a new one. Everything here except the aggregator (behind its own lock) and the read-only
views is touched by the worker thread only.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from suanwang.control.awareness import Aggregator
from suanwang.control.controller import Controller, ControllerConfig
from suanwang.control.feed import StateFeed
from suanwang.control.netmetrics import NetworkMetricAgent
from suanwang.control.ports import Clock, ControllerListener, DispatchFactory, PullDispatch
from suanwang.execution.feedback import EfficiencyFeedback
from suanwang.measure import UpdateMode, UpdatePolicy
from suanwang.model import Placement, Scenario, Task
from suanwang.scheduling import Profile, Request, Scheduler
from suanwang.scheduling.catalogue import ServiceCatalogue
from suanwang.scheduling.cycle import device_of, workload_class_of
from suanwang.scheduling.diagnosis import NodeVerdict, RefusalGroup
from suanwang.scheduling.state import ClusterState
from suanwang.scheduling.whyhere import WhyHere
from suanwang.security import KeyRing, Verifier
from suanwang.service.probes import LinkProbes

EXPLAIN_VERDICTS = 20
"""Rejected nodes an explanation lists, closest first (the per-plugin counts cover the rest)."""
EXPLAIN_ALTERNATIVES = 3
"""Runners-up a "why here" lists."""
EXPLAIN_CLOSEST = 3
"""Closest misses listed per group of refusals."""

LIVE_UPDATES = UpdatePolicy(
    UpdateMode.DAMPENED, interval_s=10.0, threshold_ratio=0.1, hold_down_s=1.0
)
"""How agents' reports become the live values: a change of more than 10 % at once (at most one
a second per node, the newest held back otherwise), else a refresh every 10 s."""


@dataclass(frozen=True, slots=True)
class Explanation:
    """Where a task's spec would go now, or why nowhere: a ``Diagnosis`` made plain.

    Attributes:
        placeable: True when a node could take the spec now.
        node_id: That node, when placeable.
        placement: The placement it would get (nothing is reserved).
        code: Outcome code of the cycle (``success``, ``unschedulable``, ``error``).
        plugin: Plugin that decided a refusal, if one did.
        reason: Why it was refused (empty on success).
        summary: One line with the count each plugin rejected.
        survivors: Nodes that passed every filter.
        rejected_by: Nodes rejected per plugin, in pipeline order.
        verdicts: The closest rejected nodes with the plugin and reason, closest first.
        why_not: The verdict on the node asked about, if one was.
        why_here: When placeable: the node's points per Score plugin and the runners-up.
        refusals: Rejections grouped by plugin and kind of shortfall, each with its count and
            closest misses (``Diagnosis.refusals``).
        placed_on: The node the task holds now, if any; its own hold was left out of the cycle.
    """

    placeable: bool
    node_id: str | None
    placement: Placement | None
    code: str
    plugin: str
    reason: str
    summary: str
    survivors: int
    rejected_by: dict[str, int]
    verdicts: list[NodeVerdict]
    why_not: NodeVerdict | None = None
    why_here: WhyHere | None = None
    refusals: list[RefusalGroup] = field(default_factory=list)
    placed_on: str | None = None


def catalogue_of(scenario: Scenario) -> ServiceCatalogue:
    """The service catalogue the scheduler resolves CS-IDs against, over ``scenario``'s nodes."""
    return ServiceCatalogue.of(scenario.services, scenario.topology.arrays.node_ids)


NodeState = Literal["up", "draining", "down", "no-agent", "quarantined", "retired"]


@dataclass(slots=True)
class LiveNetwork:
    """One live topology and the objects that serve it.

    Attributes:
        scenario: The scenario made live.
        controller: Its controller.
        dispatch: The agents' execution engine (a ``PullDispatch``).
        aggregator: Verified metric reports (use under ``aggregator_lock``).
        aggregator_lock: Serialises the aggregator between request threads.
        down_nodes: Nodes now marked down (replaced, never mutated, so readers need no lock).
        down_links: Links now marked down (likewise).
        draining_nodes: Nodes being drained: up, but taking nothing new (likewise).
        no_agent_nodes: Nodes with no agent to run work: nothing is placed there (likewise).
        quarantined_nodes: Nodes whose attestation failed, with the reason: down, and kept
            down until an attestation is consistent again (likewise).
        feedback: Measured against estimated compute times, per device and workload class.
        network: Measured link figures (use under ``aggregator_lock``).
        probes: Agents' echo endpoints and RTT reports.
        feed: Gives the controller's state the measured state at each writer tick.
        topology_version: Newest runtime topology change applied (0: none).
        retired_nodes: Nodes retired at runtime: drained, then down for good (likewise).
        skipped_changes: Stored topology changes this network was built without (they no
            longer fit its scenario), one line each, until the writer's tick audits them.
    """

    scenario: Scenario
    controller: Controller
    dispatch: PullDispatch
    aggregator: Aggregator
    aggregator_lock: threading.Lock = field(default_factory=threading.Lock)
    down_nodes: frozenset[str] = frozenset()
    down_links: frozenset[str] = frozenset()
    draining_nodes: frozenset[str] = frozenset()
    no_agent_nodes: frozenset[str] = frozenset()
    quarantined_nodes: Mapping[str, str] = field(default_factory=dict)
    feedback: EfficiencyFeedback = field(default_factory=EfficiencyFeedback)
    network: NetworkMetricAgent = field(default=None)  # type: ignore[assignment]
    probes: LinkProbes = field(default=None)  # type: ignore[assignment]
    feed: StateFeed = field(default=None)  # type: ignore[assignment]
    topology_version: int = 0
    retired_nodes: frozenset[str] = frozenset()
    skipped_changes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        topology, clock = self.scenario.topology, self.aggregator.clock
        if self.network is None:
            self.network = NetworkMetricAgent(topology.arrays, clock)
        if self.probes is None:
            self.probes = LinkProbes(topology, self.aggregator, self.network, self.aggregator_lock)
        if self.feed is None:
            self.feed = StateFeed(
                self.aggregator, clock, network=self.network, lock=self.aggregator_lock
            )

    @classmethod
    def build(
        cls,
        scenario: Scenario,
        profile: Profile,
        clock: Clock,
        listener: ControllerListener,
        config: ControllerConfig | None = None,
        *,
        dispatch: DispatchFactory,
    ) -> LiveNetwork:
        """Make ``scenario`` live: an empty ledger, every node and link up.

        Args:
            scenario: The scenario to serve.
            profile: Scheduling profile.
            clock: Time of transitions and report ages.
            listener: Hears every transition of the controller.
            config: Controller tunables.
            dispatch: Makes the agents' engine from the topology's node ids.
        """
        topology = scenario.topology
        scheduler = Scheduler(profile, ClusterState(topology, catalogue=catalogue_of(scenario)))
        engine = dispatch(topology.arrays.node_ids)
        controller = Controller(scheduler, engine, clock, listener=listener, config=config)
        aggregator = Aggregator.from_topology(
            topology, Verifier(KeyRing()), clock, policy=LIVE_UPDATES
        )
        return cls(scenario, controller, engine, aggregator)

    def grow(self, scenario: Scenario) -> None:
        """Serve ``scenario``, whose topology extends this one's, without stopping anything.

        Nodes and links are added after the present ones (``Topology.updated`` keeps the
        order), so the controller's tasks, runs, queue and reservations go on as they are; the
        new nodes and links start unreported; every mark, the measured link figures and the
        agents' echo endpoints carry over (the feed's latency damping starts again). Call on
        the writer thread.

        Raises:
            ValueError: ``scenario``'s topology does not extend this one's (nothing changed).
        """
        old = self.controller.state
        topology = scenario.topology
        reservations = old.reservations.carried_to(topology.arrays)
        aggregator = self.aggregator.grown(topology)
        n_nodes, n_links = len(old.node_down), len(old.link_down)
        node_down = np.zeros(len(topology.arrays.node_ids), dtype=bool)
        node_down[:n_nodes] = old.node_down
        link_down = np.zeros(len(topology.arrays.link_ids), dtype=bool)
        link_down[:n_links] = old.link_down
        state = ClusterState(
            topology,
            reservations,
            None,
            old.hour_of_day,
            old.efficiency,
            node_down,
            link_down,
            catalogue=catalogue_of(scenario),
            leases=old.leases,
        )
        self.controller.grow(Scheduler(self.controller.scheduler.profile, state))
        with self.aggregator_lock:
            self.aggregator = aggregator
            self.network = self.network.grown(topology.arrays)
            self.feed = StateFeed(
                aggregator, aggregator.clock, network=self.network, lock=self.aggregator_lock
            )
        echoes = self.probes.endpoints()
        self.probes = LinkProbes(topology, aggregator, self.network, self.aggregator_lock)
        for node_id, (host, port) in echoes.items():
            self.probes.announce(node_id, host, port)
        self.scenario = scenario

    def serve_services(self, scenario: Scenario) -> None:
        """Serve ``scenario``, whose topology is this one's, with its service catalogue.

        The next cycle resolves CS-IDs against the new catalogue. Call on the writer thread.
        """
        self.controller.state.catalogue = catalogue_of(scenario)
        self.scenario = scenario

    def node_state(self, node_id: str) -> NodeState:
        """Up, draining (taking nothing new), down, quarantined, agentless or retired."""
        if node_id in self.retired_nodes:
            return "retired"
        if node_id in self.quarantined_nodes:
            return "quarantined"
        if node_id in self.down_nodes:
            return "down"
        if node_id in self.no_agent_nodes:
            return "no-agent"
        return "draining" if node_id in self.draining_nodes else "up"

    def learn(self, task: Task, measured_compute_ms: float) -> bool:
        """Take a finished task's measured compute time into the live efficiency table.

        The sample compares the placement's estimate with the measured time against the table
        in force now (an estimate made just before the table last changed is a little off;
        the moving average absorbs that). Once a (device, workload class) cell has enough
        samples, later estimates use the learned efficiency (``EfficiencyFeedback.table``).
        Call from the worker thread only.

        Returns:
            Whether the sample was taken (a task without placement or estimate is not).
        """
        placement, spec = task.placement, task.spec
        if placement is None:
            return False
        state = self.controller.state
        taken = self.feedback.observe(
            device_of(spec),
            workload_class_of(spec),
            placement.estimate.compute_ms,
            measured_compute_ms,
            used=state.efficiency,
        )
        if taken:
            state.set_efficiency(self.feedback.table())
        return taken

    def explain(self, task: Task, node_id: str | None = None) -> Explanation:
        """Run a scheduling cycle for ``task``'s spec on the live state, changing nothing.

        The cycle reads a copy of the live ledger from which the task's own holds (its run's,
        the one its placement names) are given back: a placed task is explained as if it were
        placed anew, so its own node is not "full" of the task itself. A scheduler of its own,
        made for that copy, leaves the live one's session affinity and hysteresis untouched,
        and its probe's hold goes into the copy only. Call from the worker thread only.

        Raises:
            KeyError: ``node_id`` names no node.
        """
        live = self.controller.state
        own = {task.id} if task.placement is None else {task.id, task.placement.task_id}
        # The frozen copy carries every field of the live state (marks, hours, caches); only
        # its ledger is swapped for a writable one, without the task's holds.
        state = live.with_frozen_ledger()
        state.reservations = live.reservations.copy_without(own)
        scheduler = Scheduler(self.controller.scheduler.profile, state)
        probe = f"explain-{uuid.uuid4().hex}"
        decision = scheduler.schedule(Request(probe, task.spec, task.tenant))
        diagnosis, status, placement = decision.diagnosis, decision.status, decision.placement
        if placement is not None:
            placement = dataclasses.replace(placement, task_id=task.id)
        return Explanation(
            placeable=placement is not None,
            node_id=None if placement is None else placement.node_id,
            placement=placement,
            code=status.code.value,
            plugin=status.plugin,
            reason=status.reason,
            summary=diagnosis.summary(),
            survivors=diagnosis.survivors,
            rejected_by=diagnosis.rejected_by,
            verdicts=diagnosis.verdicts(EXPLAIN_VERDICTS),
            why_not=None if node_id is None else diagnosis.why_not(node_id),
            why_here=diagnosis.why_here(EXPLAIN_ALTERNATIVES),
            refusals=diagnosis.refusals(EXPLAIN_CLOSEST),
            placed_on=None if task.placement is None else task.placement.node_id,
        )
