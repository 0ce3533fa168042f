"""The min-cost flow network of one batch round, built with numpy (see ``batch.flow``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from ortools.graph.python import min_cost_flow

from suanwang.model import ACCELERATOR_KINDS, TaskSpec
from suanwang.scheduling.batch.classes import ClassEvaluator, ClassView, IntArray
from suanwang.scheduling.state import ClusterState

COST_SCALE = 1_000_000
"""A placement's arc cost per task: the profile objective scaled to 0..COST_SCALE."""
UNPLACED_PENALTY = 100 * COST_SCALE
"""Cost per task of the unplaced arc: more than any placement, so placing more always wins."""
QUANTA_PER_CORE = 8
_EMPTY = np.zeros(0, dtype=np.int64)


class PathTrees:
    """Each bandwidth-reserving class's paths as a tree of flow vertices, its links as arcs.

    A class whose Route plugin keeps its shortest-path tree in the cycle's scratch gets one flow
    vertex per tree vertex on the way to a candidate and one arc per tree link, so its tasks
    reach a node only along the path they will reserve, and a link's arc holds the tasks its
    residual bandwidth carries. Classes that share a link are separate commodities, which a
    flow cannot bound together; instead each class is expected to send through a link the share
    of its candidates' slots that lie beyond it, and where the classes' expected traffic exceeds
    the residual, the residual is shared out by increasing bandwidth per task (the most tasks
    fit) up to each class's expectation. Uncontended links bound each class by the whole
    residual, so classes may still over-fill a link together: the ledger refuses that at bind
    time and the next round re-plans it on the new residual.

    Args:
        views: The round's classes.
        state: The state whose residual bandwidth is shared out.
        counts: Members per class.
        start: First free flow-vertex index (the classes come before).
    """

    def __init__(
        self, views: Sequence[ClassView], state: ClusterState, counts: IntArray, start: int
    ) -> None:
        n_vertices = len(state.arrays.vertex_ids)
        self._node_vertex = state.arrays.node_vertex
        self._local: dict[int, tuple[int, IntArray]] = {}
        tails, heads, links, owners, expected = [], [], [], [], []
        end = start
        for c, view in enumerate(views):
            tree = view.tree
            if tree is None or view.bandwidth_mbps <= 0:
                continue
            root = int(tree.sources[0])
            parent, via = tree.predecessors[0], tree.predecessor_links[0]
            seen = np.zeros(n_vertices, dtype=bool)
            at_node = self._node_vertex[view.nodes]
            frontier = np.unique(at_node[at_node != root])
            while frontier.size:  # one step per hop level, up to the root
                seen[frontier] = True
                up = parent[frontier]
                frontier = np.unique(up[(up != root) & (up >= 0) & ~seen[up]])
            vertices = np.flatnonzero(seen)
            local = np.full(n_vertices, -1, dtype=np.int64)
            local[vertices] = np.arange(vertices.size)
            # Share of the class's slots below each tree vertex: its expected share of traffic.
            below = np.bincount(
                local[at_node[at_node != root]],
                weights=view.slots[at_node != root],
                minlength=vertices.size,
            )
            hops, up = tree.hops[0][vertices], parent[vertices]
            for level in range(int(hops.max(initial=0)), 1, -1):
                at = np.flatnonzero(hops == level)
                np.add.at(below, local[up[at]], below[at])
            expected.append(view.group.count * np.minimum(1.0, below / max(view.slots.sum(), 1)))
            local[vertices] += end
            self._local[c] = (root, local)
            tails.append(np.where(up == root, c, local[up]))
            heads.append(local[vertices])
            links.append(via[vertices].astype(np.int64))
            owners.append(np.full(vertices.size, c, dtype=np.int64))
            end += vertices.size
        self.end = end
        self.tails = np.concatenate(tails) if tails else _EMPTY
        self.heads = np.concatenate(heads) if heads else _EMPTY
        self.owner = np.concatenate(owners) if owners else _EMPTY
        link = np.concatenate(links) if links else _EMPTY
        bandwidth = np.array([v.bandwidth_mbps for v in views])[self.owner]
        wanted = (np.concatenate(expected) if expected else np.zeros(0)) * bandwidth
        residual = np.maximum(state.reservations.residual_mbps(), 0.0)
        # A link that can carry what all its classes are expected to send limits each class to
        # the whole residual; a contended one is shared out by increasing bandwidth per task.
        contended = (np.bincount(link, wanted, residual.size) > residual)[link]
        share = np.where(contended, 0.0, residual[link])
        order = np.flatnonzero(contended)
        if order.size:
            order = order[np.lexsort((self.owner[order], bandwidth[order], link[order]))]
            before = np.cumsum(wanted[order]) - wanted[order]
            first = np.flatnonzero(np.r_[True, link[order][1:] != link[order][:-1]])
            before -= np.repeat(before[first], np.diff(np.r_[first, order.size]))
            share[order] = np.clip(residual[link[order]] - before, 0.0, wanted[order])
        self.capacities = np.floor(share / np.maximum(bandwidth, 1e-12) + 1e-9).astype(np.int64)

    def arc_tails(self, arc_class: IntArray, arc_node: IntArray) -> IntArray:
        """Tail of each class -> node arc: the class, or its tree vertex at the node's site."""
        tails = arc_class.copy()
        for c, (root, local) in self._local.items():
            at = np.flatnonzero(arc_class == c)
            vertex = self._node_vertex[arc_node[at]]
            tails[at] = np.where(vertex == root, c, local[vertex])
        return tails


class FlowNetwork:
    """One round's network: classes -> (tree ->) (node, demand) -> (node, resource) -> sink.

    The shared resource of a demand is the one its work runs on: devices of its accelerator
    kind, counted in devices, or the node's cores, counted in CPU quanta (1/8 core, or the
    greatest common step of the round's core needs); a class's flow is counted in that unit,
    ``units`` per task. So the devices of each kind and the cores left to CPU work are shared
    exactly between all classes on a node. The cores an accelerated task also holds, and memory,
    are bound per (node, demand) only; the ledger settles the rest at bind time.

    Args:
        views: The round's classes, each with at least one candidate.
        evaluator: The evaluator that built them (its state's free capacity is used).
    """

    def __init__(self, views: Sequence[ClassView], evaluator: ClassEvaluator) -> None:
        self.views = views
        state, ledger = evaluator.state, evaluator.state.reservations
        demands: dict[TaskSpec, int] = {}
        class_demand = np.array(
            [demands.setdefault(evaluator.demand(v.group.spec), len(demands)) for v in views],
            dtype=np.int64,
        )
        specs = list(demands)
        units, resource, step = _units(specs)
        counts = np.array([v.group.count for v in views], dtype=np.int64)
        sizes = np.array([v.nodes.size for v in views], dtype=np.int64)
        self.offsets = np.concatenate(([0], np.cumsum(sizes)))
        arc_class = np.repeat(np.arange(len(views)), sizes)
        arc_node = np.concatenate([v.nodes for v in views])
        arc_demand = class_demand[arc_class]
        arc_units = units[arc_demand]
        scale = COST_SCALE / max(evaluator.plugins.score_max, 1e-12)
        objective = np.clip(np.concatenate([v.objective for v in views]), 0.0, None)
        arc_cost = np.rint(objective * scale).astype(np.int64)
        class_units = units[class_demand]
        n_classes, n_demands = len(views), len(specs)
        trees = PathTrees(views, state, counts, n_classes)
        pair_key, arc_pair = np.unique(arc_node * n_demands + arc_demand, return_inverse=True)
        pair_node, pair_demand = pair_key // n_demands, pair_key % n_demands
        demand_total = np.bincount(class_demand, weights=counts, minlength=n_demands)
        pair_slots = np.empty(pair_key.size, dtype=np.int64)
        for r, spec in enumerate(specs):
            at = np.flatnonzero(pair_demand == r)
            pair_slots[at] = np.minimum(evaluator.slots_for(spec)[pair_node[at]], demand_total[r])
        # (node, resource) vertices: resource 0 is the cores, 1 + k devices of kind k.
        pair_resource = resource[pair_demand]
        shared = pair_resource >= 0  # demands that need nothing countable go straight to the sink
        n_resources = 1 + len(ACCELERATOR_KINDS)
        pools, pair_pool = np.unique(
            pair_node[shared] * n_resources + pair_resource[shared], return_inverse=True
        )
        pool_node, pool_resource = pools // n_resources, pools % n_resources
        free = np.column_stack(
            (
                np.floor((ledger.free_cpu_cores() + 1e-9) * QUANTA_PER_CORE / step),
                np.floor(ledger.free_accelerators() + 1e-9),
            )
        )
        first_pair = trees.end
        first_pool = first_pair + pair_key.size
        sink = first_pool + pools.size
        pair_head = np.full(pair_key.size, sink, dtype=np.int64)
        pair_head[shared] = first_pool + pair_pool
        slots = np.concatenate([v.slots for v in views])
        parts = (  # (tails, heads, capacities, unit costs) of each kind of arc
            (trees.arc_tails(arc_class, arc_node), first_pair + arc_pair, slots * arc_units,
             np.rint(arc_cost / arc_units)),
            (trees.tails, trees.heads, trees.capacities * class_units[trees.owner], 0),
            (first_pair + np.arange(pair_key.size), pair_head, pair_slots * units[pair_demand], 0),
            (first_pool + np.arange(pools.size), sink,
             np.maximum(free[pool_node, pool_resource], 0), 0),
            (np.arange(n_classes), sink, counts * class_units, -(-UNPLACED_PENALTY // class_units)),
        )  # fmt: skip
        self.tails = np.concatenate([p[0] for p in parts]).astype(np.int32)
        shapes = [p[0].shape for p in parts]
        self.heads = _joined([p[1] for p in parts], shapes).astype(np.int32)
        self.capacities = _joined([p[2] for p in parts], shapes)
        self.costs = _joined([p[3] for p in parts], shapes)
        supplies = np.zeros(sink + 1, dtype=np.int64)
        supplies[:n_classes] = counts * class_units
        supplies[sink] = -int(supplies.sum())
        self.supplies = supplies
        self.arc_class, self.arc_node, self.arc_cost = arc_class, arc_node, arc_cost
        self.arc_units = arc_units
        self.n_class_arcs = int(arc_class.size)

    @property
    def n_arcs(self) -> int:
        """Arcs in all."""
        return int(self.tails.size)

    def solve(self) -> IntArray:
        """Whole tasks per class -> node arc (units short of a whole task are dropped)."""
        if self.n_class_arcs == 0:
            return _EMPTY
        solver = min_cost_flow.SimpleMinCostFlow()
        solver.add_arcs_with_capacity_and_unit_cost(
            self.tails, self.heads, self.capacities, self.costs
        )
        solver.set_nodes_supplies(np.arange(self.supplies.size, dtype=np.int32), self.supplies)
        status = solver.solve()
        if status != solver.OPTIMAL:  # cannot happen: the unplaced arcs keep it feasible
            raise RuntimeError(f"min-cost flow failed with status {status}")
        flows = np.asarray(solver.flows(np.arange(self.n_class_arcs, dtype=np.int32)))
        return np.asarray(flows // self.arc_units, dtype=np.int64)


def _units(specs: Sequence[TaskSpec]) -> tuple[IntArray, IntArray, int]:
    """Flow units per task and shared resource of each demand, and the CPU quantum in eighths.

    Resource -1: none (zero cores, no device); 0: cores, in quanta; 1 + k: devices of kind k.
    """
    eighths = [math.ceil(s.cpu_cores * QUANTA_PER_CORE - 1e-9) for s in specs]
    cpu_work = [e for e, s in zip(eighths, specs, strict=True) if e > 0 and s.accelerator is None]
    step = math.gcd(*cpu_work) or QUANTA_PER_CORE
    units = np.ones(len(specs), dtype=np.int64)
    resource = np.full(len(specs), -1, dtype=np.int64)
    for r, (spec, e) in enumerate(zip(specs, eighths, strict=True)):
        if spec.accelerator is not None:
            units[r] = spec.accelerator.count
            resource[r] = 1 + ACCELERATOR_KINDS.index(spec.accelerator.kind)
        elif e > 0:
            units[r] = max(1, math.ceil(e / step))
            resource[r] = 0
    return units, resource, step


def _joined(values: Sequence[object], shapes: Sequence[tuple[int, ...]]) -> IntArray:
    """Concatenate arrays and scalars (broadcast to ``shapes``) into one int64 array."""
    return np.concatenate(
        [np.broadcast_to(np.asarray(v), shape) for v, shape in zip(values, shapes, strict=True)]
    ).astype(np.int64)
