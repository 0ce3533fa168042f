"""Batch placement by min-cost flow: many pending tasks at once (OR-Tools ``SimpleMinCostFlow``).

The network of one round (``batch.network``), built with numpy and handed to OR-Tools through
its vectorised calls::

    class c [--> its path tree: one arc per link] --> (node n, demand r) --> node n --> sink
    class c --(penalty)--> sink                                               ("unplaced")

* A *class* is a set of requests with one spec (``group_classes``); its supply is its members.
  Its arcs go only to the nodes that pass the profile's filters for it (one cycle per class,
  ``ClassEvaluator``), best first, kept until their slots hold ``coverage`` times its members
  (times the demand's over-subscription, when its classes together want more than all nodes
  hold); the last evaluation keeps every candidate.
* A class's flow is counted in the unit of the resource its work runs on: devices of its
  accelerator kind, or CPU quanta (1/8 core). The (node, resource) -> sink arc holds the node's
  free devices of that kind, or its free cores, exactly, whatever mix of classes shares them.
  The (node, demand) vertex holds the node's slots for that demand (free cores, memory and
  devices over what one task needs), so the classes of one demand, from however many ingresses,
  cannot over-fill a node's memory either. A bandwidth-reserving class reaches its nodes through
  its own path tree, each link holding what its residual carries.
* The approximations: memory, and the cores an accelerated task holds besides its devices, are
  exact per demand but not across demands; link bandwidth is exact per class but only shared
  out by expectation between classes (``PathTrees``). Binding therefore goes through the
  ``Reservations`` ledger, which refuses what does not fit, and never silently: a refused
  assignment is re-planned in the next round (same candidates, the ledger's capacities as they
  are then) or the next evaluation (fresh cycles: new best nodes, routes around full links),
  and what is left after the last is repaired by the online ``Scheduler`` one task at a time (a
  class it refuses once is not tried again: during a plan the ledger only fills, so the
  refusal stands). ``FlowStats`` counts it all.
* Arc cost is the profile's own score turned into a cost (``score_max - score``, scaled to
  integers); the unplaced arc costs more than any placement, so the flow first places as many
  tasks as fit, then prefers what the profile prefers. Binding goes in order of the bandwidth a
  task reserves (least first: more tasks fit through a shared link), then of cost.
* Estimates are those of each class's cycle, against the ledger at the start of its round.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from suanwang.model import Estimate, Placement, TaskSpec
from suanwang.scheduling.batch.classes import ClassEvaluator, ClassView, IntArray
from suanwang.scheduling.batch.improve import ImproveOptions, improve_placements
from suanwang.scheduling.batch.network import FlowNetwork
from suanwang.scheduling.batch.requests import BatchError, group_classes
from suanwang.scheduling.framework import Request
from suanwang.scheduling.profile import Profile
from suanwang.scheduling.registry import PluginFactory
from suanwang.scheduling.reservations import OverCommitError, Reservation
from suanwang.scheduling.scheduler import ProfilePlugins, Scheduler
from suanwang.scheduling.state import ClusterState


@dataclass(frozen=True, slots=True)
class FlowOptions:
    """Knobs of ``place_batch``.

    Attributes:
        coverage: Keep a class's best candidates until their slots hold this many times its
            members (the rest are worse; they matter only once the best are taken).
        min_candidates: Keep at least this many candidates per class.
        evaluations: Times the classes are evaluated through the profile's plugins; later ones
            see the ledger as binding left it (new best nodes, routes around full links), and
            the last of several keeps every candidate.
        rounds: Flow solves per evaluation at most; each re-solves what binding left, with the
            capacities the ledger has then, and stops early when a solve places nothing.
        repair: Place what is left with the online scheduler, one task at a time.
        improve: With ``repair``, the bounds of the local-improvement pass after it
            (``batch.improve``: insertion, then ejection moves that meet strictly more SLAs);
            None leaves it out.
    """

    coverage: float = 4.0
    min_candidates: int = 16
    evaluations: int = 2
    rounds: int = 1
    repair: bool = True
    improve: ImproveOptions | None = field(default_factory=ImproveOptions)

    def __post_init__(self) -> None:
        if self.coverage <= 0 or self.min_candidates < 1:
            raise ValueError("coverage must be positive and min_candidates at least 1")
        if self.evaluations < 1 or self.rounds < 1:
            raise ValueError("evaluations and rounds must be at least 1")


@dataclass(slots=True)
class FlowStats:
    """What a batch placement did and where its time went.

    Attributes:
        tasks: Requests in the batch.
        evaluations: Times the classes were evaluated through the profile's plugins.
        classes: Classes evaluated (summed over evaluations).
        arcs: Arcs given to the solver (summed over rounds).
        rounds: Flow solves.
        placed_by_flow: Tasks bound as the flow assigned them.
        placed_by_repair: Tasks placed by the online scheduler afterwards.
        bind_conflicts: Assignments the ledger refused (re-planned, repaired or left unplaced).
        unplaced: Tasks left without a node.
        build_s: Seconds evaluating classes and building the network.
        solve_s: Seconds in the OR-Tools solver.
        bind_s: Seconds materialising paths and reserving through the ledger.
        repair_s: Seconds in the online repair.
        improved: SLAs the local-improvement pass added (``FlowOptions.improve``).
        improve_s: Seconds in that pass.
    """

    tasks: int = 0
    evaluations: int = 0
    classes: int = 0
    arcs: int = 0
    rounds: int = 0
    placed_by_flow: int = 0
    placed_by_repair: int = 0
    bind_conflicts: int = 0
    unplaced: int = 0
    build_s: float = 0.0
    solve_s: float = 0.0
    bind_s: float = 0.0
    repair_s: float = 0.0
    improved: int = 0
    improve_s: float = 0.0


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """The outcome of placing a batch.

    Attributes:
        placements: One entry per request, in batch order (None: not placed).
        reasons: Why each unplaced task is unplaced, by task id.
        stats: Counts and timings.
    """

    placements: tuple[Placement | None, ...]
    reasons: Mapping[str, str]
    stats: FlowStats = field(default_factory=FlowStats)

    @property
    def placed(self) -> int:
        """Tasks placed."""
        return sum(p is not None for p in self.placements)


def check_batch(state: ClusterState, requests: Sequence[Request]) -> None:
    """Refuse a batch with repeated task ids or ids the ledger already holds.

    Raises:
        BatchError: a task id repeats or is held.
    """
    ids = [request.task_id for request in requests]
    if len(set(ids)) != len(ids):
        raise BatchError("task ids in a batch must be unique")
    held = [task_id for task_id in ids if task_id in state.reservations]
    if held:
        raise BatchError(f"task {held[0]!r} already holds a reservation on this state")


def place_batch(
    profile: Profile,
    state: ClusterState,
    requests: Sequence[Request],
    *,
    options: FlowOptions | None = None,
    factories: Mapping[str, PluginFactory] | None = None,
    plugins: ProfilePlugins | None = None,
) -> BatchPlan:
    """Place ``requests`` together on ``state`` with ``profile``; reserve through its ledger.

    Args:
        profile: Filters say which nodes each class may use, scores what it prefers.
        state: The cluster; placed tasks hold their reservations in its ledger afterwards.
        requests: The batch (unique task ids).
        options: Pruning, rounds and repair.
        factories: Plugin factories (default: in-tree plus entry points).
        plugins: ``profile``'s plugins, built for ``state``, to use instead of fresh ones: what
            stateful scores (scarcity) learned in earlier windows or online decisions carries
            over.

    Raises:
        BatchError: repeated or already held task ids.
        ValueError: ``plugins`` were built for another profile or state.
    """
    options = options or FlowOptions()
    check_batch(state, requests)
    if plugins is None:
        plugins = ProfilePlugins(profile, state, factories)
    elif plugins.state is not state or plugins.profile != profile:
        raise ValueError("the plugins given were built for another profile or state")
    stats = FlowStats(tasks=len(requests))
    placements: list[Placement | None] = [None] * len(requests)
    reasons: dict[str, str] = {}
    pending = list(range(len(requests)))
    for evaluation in range(options.evaluations):
        if not pending:
            break
        evaluator = ClassEvaluator(plugins)
        last = evaluation == options.evaluations - 1 and options.evaluations > 1
        views = _evaluate(
            evaluator, requests, pending, None if last else options, reasons=reasons, stats=stats
        )
        for round_ in range(options.rounds):
            if round_:  # what binding left, against the ledger as it is now
                evaluator = ClassEvaluator(plugins)
                views = [_left(view, evaluator, placements) for view in views]
                views = [view for view in views if view.group.members]
            if not views:
                break
            if not _solve_and_bind(views, evaluator, requests, placements=placements, stats=stats):
                break
        pending = [m for view in views for m in view.group.members if placements[m] is None]
    started = time.perf_counter()
    if options.repair and pending:
        scheduler = Scheduler(profile, state, factories=factories)
        _repair(scheduler, requests, pending, placements=placements, reasons=reasons, stats=stats)
    else:
        for member in pending:
            reasons[requests[member].task_id] = "no capacity left for it in the batch"
    stats.repair_s = time.perf_counter() - started
    if options.repair and options.improve is not None and requests:
        scheduler = Scheduler(profile, state, factories=factories)
        done = improve_placements(scheduler, requests, placements, options.improve, reasons)
        stats.improved, stats.improve_s = done.gained, done.seconds
    stats.unplaced = sum(p is None for p in placements)
    return BatchPlan(tuple(placements), reasons, stats)


def _evaluate(
    evaluator: ClassEvaluator,
    requests: Sequence[Request],
    pending: Sequence[int],
    options: FlowOptions | None,
    *,
    reasons: dict[str, str],
    stats: FlowStats,
) -> list[ClassView]:
    """The pending requests' classes that some node can take; reasons for the others."""
    started = time.perf_counter()
    groups = group_classes(requests, pending)
    stats.evaluations += 1
    stats.classes += len(groups)
    # Where a demand's classes together want more than all nodes hold, each class competes
    # with the others for every slot: its candidate list grows by that over-subscription.
    wanted: dict[TaskSpec, int] = {}
    for group in groups:
        demand = evaluator.demand(group.spec)
        wanted[demand] = wanted.get(demand, 0) + group.count
    pressure = {
        demand: max(1.0, count / max(1, int(evaluator.slots_for(demand).sum())))
        for demand, count in wanted.items()
    }
    views = []
    for group in groups:
        if options is None:  # every candidate
            view = evaluator.evaluate(group)
        else:
            coverage = options.coverage * pressure[evaluator.demand(group.spec)]
            view = evaluator.evaluate(group, coverage, options.min_candidates)
        if view.nodes.size:
            views.append(view)
        else:  # final: the ledger only fills during a plan, so nothing later can do better
            for member in group.members:
                reasons[requests[member].task_id] = view.reason
    stats.build_s += time.perf_counter() - started
    return views


def _left(
    view: ClassView, evaluator: ClassEvaluator, placements: Sequence[Placement | None]
) -> ClassView:
    """``view`` narrowed to its unplaced members, with slots from the ledger as it is now."""
    members = tuple(m for m in view.group.members if placements[m] is None)
    slots = np.minimum(evaluator.slots_for(view.group.spec)[view.nodes], len(members))
    if view.tree is None:  # no tree: keep the path bound computed at evaluation
        slots = np.minimum(slots, view.slots)
    return dataclasses.replace(
        view, group=dataclasses.replace(view.group, members=members), slots=slots
    )


def _solve_and_bind(
    views: Sequence[ClassView],
    evaluator: ClassEvaluator,
    requests: Sequence[Request],
    *,
    placements: list[Placement | None],
    stats: FlowStats,
) -> int:
    """One flow round: build, solve, bind; the number of tasks placed."""
    started = time.perf_counter()
    network = FlowNetwork(views, evaluator)
    stats.rounds += 1
    stats.arcs += network.n_arcs
    stats.build_s += time.perf_counter() - started
    started = time.perf_counter()
    tasks = network.solve()
    stats.solve_s += time.perf_counter() - started
    started = time.perf_counter()
    placed = _bind(network, tasks, evaluator, requests, placements=placements, stats=stats)
    stats.bind_s += time.perf_counter() - started
    return placed


def _bind(
    network: FlowNetwork,
    tasks: IntArray,
    evaluator: ClassEvaluator,
    requests: Sequence[Request],
    *,
    placements: list[Placement | None],
    stats: FlowStats,
) -> int:
    """Reserve the flow's assignments through the ledger; the number placed."""
    views, ledger = network.views, evaluator.state.reservations
    node_ids = evaluator.state.arrays.node_ids
    used = np.flatnonzero(tasks > 0)
    bandwidth = np.array([v.bandwidth_mbps for v in views])[network.arc_class[used]]
    order = used[np.lexsort((network.arc_node[used], network.arc_cost[used], bandwidth))]
    cursor = [0] * len(views)
    placed = 0
    for arc in order.tolist():
        c = int(network.arc_class[arc])
        view = views[c]
        at = arc - int(network.offsets[c])
        node = int(view.nodes[at])
        path = evaluator.path(view, node)
        spec = view.group.spec
        reserved_mbps = view.bandwidth_mbps if path.segments else 0.0
        estimate = Estimate(
            network_ms=float(view.network_ms[at]),
            queueing_ms=float(view.queueing_ms[at]),
            compute_ms=float(view.compute_ms[at]),
            fixed_ms=spec.fixed_latency_ms,
            cost=float(view.cost[at]),
            energy_kwh=float(view.energy_kwh[at]),
            carbon_g=float(view.carbon_g[at]),
        )
        members = view.group.members
        start = cursor[c]
        for member in members[start : start + int(tasks[arc])]:
            task_id = requests[member].task_id
            try:
                ledger.reserve(
                    Reservation.of(task_id, node, spec, path.link_indexes, reserved_mbps)
                )
            except OverCommitError:
                stats.bind_conflicts += 1
                break  # the rest of this arc would fail alike; they stay pending
            placements[member] = Placement(
                task_id=task_id,
                node_id=node_ids[node],
                path=path.vertices,
                segments=path.segments,
                reserved_bandwidth_mbps=reserved_mbps,
                estimate=estimate,
            )
            cursor[c] += 1
            placed += 1
    stats.placed_by_flow += placed
    return placed


def _repair(
    scheduler: Scheduler,
    requests: Sequence[Request],
    pending: Sequence[int],
    *,
    placements: list[Placement | None],
    reasons: dict[str, str],
    stats: FlowStats,
) -> None:
    """Online placement of what the flow rounds left, in batch order."""
    refused: dict[int, tuple[TaskSpec, str]] = {}  # by spec object; the entry keeps it alive
    for member in sorted(pending):
        request = requests[member]
        known = refused.get(id(request.spec))
        if known is None:
            decision = scheduler.schedule(request)
            if decision.placement is not None:
                placements[member] = decision.placement
                stats.placed_by_repair += 1
                continue
            known = refused[id(request.spec)] = (request.spec, decision.status.reason)
        reasons[request.task_id] = known[1]
