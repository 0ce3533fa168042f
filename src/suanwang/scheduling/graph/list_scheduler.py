"""The network-aware list scheduler (HEFT) over a graph's cost model.

Placements are timed by ``timing.evaluate`` (earliest starts; makespan = the last result back
at the ingress). ``heft`` is HEFT (Topcuoglu, Hariri and Wu, 2002) on that model:

1. upward rank: rank(s) = mean compute of s over its candidates + max over its children c of
   (mean comm of the edge + rank(c)); an exit stage adds the mean return to the ingress. Mean
   comm = mean one-way latency + data x mean ms per MB, over the site pairs of the model;
2. in decreasing rank (ties: topological order, so parents always go first) each stage goes to
   the candidate node with room for it that minimises its earliest finish time (for an exit
   stage: finish + return to the ingress), plus ``traffic_weight`` x the MB x hops its input
   adds, plus (``lookahead``, the default) the optimistic cost of what follows it from that
   node (PEFT's table, Arabnejad and Barbosa, 2014: the least time, capacity aside, from its
   finish there to the end); ties go to less traffic, then the lower position. Without the
   lookahead a stage is put next to its parents even when its children's data then has a long
   way to go (on the 96 gap instances of ``bench_graph``, within 10 % of the optimum on 67
   against 84 with it).

Non-insertion, and none is needed: a node runs its stages side by side within its free room
(cores, memory, devices), which the scheduler keeps per node as it assigns stages, so a node
never has a busy interval to insert into. A stage that uses no device is kept off device nodes
whose cores the device stages still to come need (``_keep_device_room``). When no candidate has
room left, every node of the model with room is tried before the graph is refused.
``list_schedule`` runs HEFT with and without the lookahead and keeps the lower makespan.
"""

from __future__ import annotations

import numpy as np

from suanwang.model.graph import TaskGraph
from suanwang.scheduling.graph.costs import (
    FloatArray,
    GraphCosts,
    GraphPlacementError,
    IntArray,
)
from suanwang.scheduling.graph.timing import GraphSchedule, evaluate

_SLACK = 1e-9
TIE_SHARE = 1e-3
"""Choices within this share of the best are near-ties, decided by devices left idle, then
traffic."""


def upward_ranks(graph: TaskGraph, costs: GraphCosts) -> FloatArray:
    """HEFT's upward rank of every stage (module docstring, step 1)."""
    finite = np.isfinite(costs.latency_ms)
    mean_latency = float(costs.latency_ms[finite].mean())
    mean_per_mb = float(costs.ms_per_mb[finite & np.isfinite(costs.ms_per_mb)].mean())
    back = costs.latency_ms[:, costs.ingress]
    mean_back = float(back[np.isfinite(back)].mean())
    rank = np.zeros(len(graph.stages))
    for s in reversed(graph.order):
        compute = costs.compute_ms[s, costs.candidates[s]]
        best_child = 0.0
        if not graph.children[s]:
            best_child = mean_back + float(costs.result_mb[s]) * mean_per_mb
        for k in graph.children[s]:
            v = graph.ends[k][1]
            edge = mean_latency + float(costs.edge_data_mb[k]) * mean_per_mb
            best_child = max(best_child, edge + rank[v])
        rank[s] = float(compute.mean()) + best_child
    return rank


def optimistic_costs(graph: TaskGraph, costs: GraphCosts) -> list[FloatArray]:
    """PEFT's optimistic cost table, per site: the least time from a stage's finish to the end.

    ``oct[s][i]``, for the site row ``i`` of each of stage s's candidates (in candidate order),
    is max over children c of min over c's candidates q of (comm from site i to q's site +
    compute of c on q + oct of c at q); for an exit stage, the return of its result to the
    ingress. Capacity is ignored, so it is a lower bound on what remains after s.
    """
    table: list[FloatArray] = [np.zeros(0)] * len(graph.stages)
    for s in reversed(graph.order):
        rows = costs.node_site[costs.candidates[s]]
        if not graph.children[s]:
            table[s] = costs.comm_ms(costs.ingress, rows, float(costs.result_mb[s]))
            continue
        remaining = np.zeros(rows.size)
        for k in graph.children[s]:
            c = graph.ends[k][1]
            places = costs.candidates[c]
            after = costs.compute_ms[c, places] + table[c]
            child_sites, at = np.unique(costs.node_site[places], return_inverse=True)
            best = np.full(child_sites.size, np.inf)
            np.minimum.at(best, at, after)
            data = float(costs.edge_data_mb[k])
            comm = costs.latency_ms[np.ix_(rows, child_sites)]
            if data > 0:
                comm = comm + data * costs.ms_per_mb[np.ix_(rows, child_sites)]
            remaining = np.maximum(remaining, (comm + best[None, :]).min(axis=1))
        table[s] = remaining
    return table


def heft(
    graph: TaskGraph, costs: GraphCosts, traffic_weight: float = 0.0, lookahead: bool = True
) -> GraphSchedule:
    """Place every stage by HEFT on ``costs`` (module docstring), keeping within free room.

    Args:
        graph: The task graph ``costs`` was built for.
        costs: Its cost model.
        traffic_weight: ms a MB x hop of traffic is worth in the choice (0: least finish only,
            traffic breaking ties).
        lookahead: Choose by finish + the optimistic cost of what follows
            (``optimistic_costs``, PEFT's selection) rather than by finish alone (plain HEFT).

    Raises:
        GraphPlacementError: A stage finds no node with room (or reachable) left.
    """
    rank = upward_ranks(graph, costs)
    ahead = optimistic_costs(graph, costs) if lookahead else None
    topological = np.empty(len(graph.stages), dtype=np.intp)
    topological[list(graph.order)] = np.arange(len(graph.stages))
    room = costs.free.copy()
    position = np.full(len(graph.stages), -1, dtype=np.intp)
    finish = np.zeros(len(graph.stages))
    entries = set(graph.entries)
    devices = costs.demand[:, 2:] > 0
    pending = devices.sum(axis=0)  # device stages of each kind still to place
    # The most cores and devices one stage of each kind holds (1 where no stage uses it).
    largest = np.ones((2, devices.shape[1]))
    for k in np.flatnonzero(pending).tolist():
        users = devices[:, k]
        largest[:, k] = costs.demand[users, 0].max(), costs.demand[users, 2 + k].max()
    largest = np.maximum(largest, _SLACK)
    for s in np.lexsort((topological, -rank)).tolist():
        need = costs.demand[s]
        pending = pending - devices[s]
        places = _places(costs, s, room)
        if pending.any() and not need[2:].any():
            places = _keep_device_room(places, room, need, pending, largest)
        end, done, traffic = _finish_at(
            graph, costs, s, places, position=position, finish=finish, entry=s in entries
        )
        choice = done + traffic_weight * traffic if traffic_weight else done
        if ahead is not None and graph.children[s]:
            choice = choice + _ahead_now(graph, costs, s, places, room=room, table=ahead)
        best = float(choice.min()) if choice.size else np.inf
        if not np.isfinite(best):
            raise GraphPlacementError(
                f"graph {graph.id!r}: stage {graph.stages[s].id!r} finds no reachable node "
                "with room left"
            )
        tied = np.flatnonzero(choice <= best + TIE_SHARE * abs(best) + _SLACK)
        if tied.size > 1:
            # Near-ties: leave devices free for the stages that need them, then less traffic.
            idle = (room[places[tied], 2:] - need[2:]).sum(axis=1)
            pick = int(tied[np.lexsort((traffic[tied], idle))[0]])
        else:
            pick = int(tied[0])
        position[s] = places[pick]
        finish[s] = end[pick]
        room[position[s]] -= need
    return evaluate(graph, costs, position)


def list_schedule(
    graph: TaskGraph, costs: GraphCosts, traffic_weight: float = 0.0
) -> GraphSchedule:
    """HEFT with and without its lookahead; the schedule of lower makespan (traffic on ties).

    The plain rule costs a small part of the lookahead's time and wins where the lookahead's
    capacity-blind view of later stages misleads it, or where it runs out of room.

    Raises:
        GraphPlacementError: Neither rule found room for every stage.
    """
    found: list[GraphSchedule] = []
    errors: list[GraphPlacementError] = []
    for lookahead in (True, False):
        try:
            found.append(heft(graph, costs, traffic_weight, lookahead=lookahead))
        except GraphPlacementError as refused:
            errors.append(refused)
    if not found:
        raise errors[0]
    return min(found, key=lambda schedule: (schedule.makespan_ms, schedule.traffic_mb_hops))


def _places(costs: GraphCosts, s: int, room: FloatArray) -> IntArray:
    """Stage ``s``'s candidates with room left; else every node of the model with room."""
    need = costs.demand[s] - _SLACK
    places = costs.candidates[s]
    fits = (room[places] >= need).all(axis=1)
    if fits.all():
        return places
    if fits.any():
        kept: IntArray = places[fits]
        return kept
    wider = np.isfinite(costs.compute_ms[s]) & (room >= need).all(axis=1)
    wide: IntArray = np.flatnonzero(wider)
    return wide


def _keep_device_room(
    places: IntArray,
    room: FloatArray,
    need: FloatArray,
    pending: IntArray,
    largest: FloatArray,
) -> IntArray:
    """``places`` less the device nodes whose room the device stages still to come need.

    For a stage that uses no device. Per device kind that later stages need, a node has room
    for min(its free cores / the most cores such a stage holds, its free devices / the most
    devices one holds) of them (``largest``); those slots must cover the stages to come. The
    stage is kept off a node where its cores would break that; if that leaves no place,
    ``places`` stays as it was.
    """
    keep = np.ones(places.size, dtype=bool)
    for k in np.flatnonzero(pending > 0).tolist():
        cores, count = largest[0, k], largest[1, k]
        by_devices = np.floor(room[:, 2 + k] / count + _SLACK)
        slots = np.minimum(np.floor(room[:, 0] / cores + _SLACK), by_devices)
        after = np.minimum(
            np.floor((room[places, 0] - need[0]) / cores + _SLACK), by_devices[places]
        )
        keep &= slots.sum() - slots[places] + after >= pending[k]
    if keep.all() or not keep.any():
        return places
    kept: IntArray = places[keep]
    return kept


def _finish_at(
    graph: TaskGraph,
    costs: GraphCosts,
    s: int,
    places: IntArray,
    *,
    position: IntArray,
    finish: FloatArray,
    entry: bool,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per place: stage ``s``'s earliest finish, its end and the MB x hops its data moves.

    The end is the finish with the result back at the ingress for an exit stage, the finish
    for the others.
    """
    site_of = costs.node_site
    sites = site_of[places]
    ready = np.zeros(places.size)
    traffic = np.zeros(places.size)
    if entry:
        ready = costs.comm_ms(costs.ingress, sites, float(costs.input_mb[s]))
        traffic = costs.input_mb[s] * np.maximum(costs.hops[costs.ingress, sites], 0)
    for k in graph.parents[s]:
        parent_site = int(site_of[position[graph.ends[k][0]]])
        data = float(costs.edge_data_mb[k])
        arrival = finish[graph.ends[k][0]] + costs.comm_ms(parent_site, sites, data)
        ready = np.maximum(ready, arrival)
        if data > 0:
            traffic = traffic + data * np.maximum(costs.hops[parent_site, sites], 0)
    end: FloatArray = ready + costs.compute_ms[s, places]
    if graph.children[s]:
        return end, end, traffic
    result = float(costs.result_mb[s])
    back = costs.latency_ms[sites, costs.ingress]
    if result > 0:
        back = back + result * costs.ms_per_mb[sites, costs.ingress]
        traffic = traffic + result * np.maximum(costs.hops[sites, costs.ingress], 0)
    return end, end + back, traffic


def _ahead_now(
    graph: TaskGraph,
    costs: GraphCosts,
    s: int,
    places: IntArray,
    *,
    room: FloatArray,
    table: list[FloatArray],
) -> FloatArray:
    """The optimistic cost after stage ``s`` on each of ``places``, its children kept to room.

    As ``optimistic_costs``, but each child may go only where it has room now, and not to the
    node of ``s`` itself when ``s`` would leave too little there; past the children the static
    table holds. A child with room nowhere falls back to the static table.
    """
    sites = costs.node_site[places]
    remaining = np.zeros(places.size)
    left = room[places] - costs.demand[s]
    for k in graph.children[s]:
        c = graph.ends[k][1]
        q = costs.candidates[c]
        fits = (room[q] >= costs.demand[c] - _SLACK).all(axis=1)
        if not fits.any():
            continue
        q, after = q[fits], (costs.compute_ms[c, q] + table[c])[fits]
        at = (sites[:, None], costs.node_site[q][None, :])
        data = float(costs.edge_data_mb[k])
        total = costs.latency_ms[at] + after[None, :]
        if data > 0:
            total = total + data * costs.ms_per_mb[at]
        same = places[:, None] == q[None, :]
        if same.any():
            crowded = ~(left >= costs.demand[c] - _SLACK).all(axis=1)
            total = np.where(same & crowded[:, None], np.inf, total)
        best = total.min(axis=1)
        remaining = np.maximum(remaining, np.where(np.isfinite(best), best, 0.0))
    return remaining
