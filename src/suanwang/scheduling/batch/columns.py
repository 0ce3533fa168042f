"""Every (class, node, path) that could hold a task within its SLA: the optimum's columns.

A column is admissible when the node passes the pre-route capacity and policy filters
(node health, resource fit, residency, trust) and the estimate along the path keeps every
term of ``SlaCheck`` (latency budget, deadline, price, residency, trust), with the path's
links each carrying the bandwidth the task reserves. Estimates split in two: the node part
(queueing, compute, compute price, energy, carbon) from one cycle per class against the state
before the batch, and the path part (round trip, transfer at the residual bottleneck, transfer
price), which is what ``Cycle`` adds for a route. Classes that reserve bandwidth get every
simple path ``LinkGraph.enumerate_paths`` lists for them; classes that reserve none use no
capacity on the path, so one dominant path per site is exact: the cheapest per GB when they
move data (they then have neither budget nor deadline), else the latency-shortest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_array

from suanwang.model import ACCELERATOR_KINDS, TaskSpec, TopologyArrays
from suanwang.scheduling.batch.evaluate import SlaCheck
from suanwang.scheduling.batch.paths import ANY_LINK, IntArray, LinkGraph, PathSet
from suanwang.scheduling.batch.requests import TaskClassGroup
from suanwang.scheduling.cycle import MB_BITS, Cycle, required_bandwidth_mbps
from suanwang.scheduling.framework import FloatArray, Request, RouteResult, Stage
from suanwang.scheduling.profile import Profile
from suanwang.scheduling.registry import PluginFactory
from suanwang.scheduling.scheduler import ProfilePlugins
from suanwang.scheduling.state import ClusterState

NODE_FILTERS = ("node-health", "resource-fit", "residency", "trust")
"""Pre-route filters that decide which nodes may hold a class at all."""
_PROFILE = Profile("optimum-columns", filters=NODE_FILTERS, scores={"cost": 1.0})


@dataclass(frozen=True, slots=True)
class NodePart:
    """A class's node-side estimates over all nodes (inf where the node cannot hold it)."""

    queueing_ms: FloatArray
    compute_ms: FloatArray
    cost: FloatArray
    energy_kwh: FloatArray
    carbon_g: FloatArray


@dataclass(slots=True)
class Columns:
    """The admissible columns, in (class, node) order, and the paths they use.

    Attributes:
        cls, node, path: Class, node and path index of each column.
        network_ms: Round trip plus transfer of each column's path.
        cost: Estimated price of each column (node price plus transfer price).
        incidence: (paths, links) 0/1 CSR: the links each path crosses.
        path_links, path_vertices: Each path's link and vertex indexes.
        node_parts: Node-side estimates per class.
        classes: Demand figures per class (cores, memory, devices, kind, bandwidth, members).
        complete: False when a path listing stopped at its cap (columns may be missing).
        too_many: True when listing stopped because the columns exceeded their limit.
    """

    cls: IntArray
    node: IntArray
    path: IntArray
    network_ms: FloatArray
    cost: FloatArray
    incidence: csr_array
    path_links: list[tuple[int, ...]]
    path_vertices: list[tuple[int, ...]]
    node_parts: dict[int, NodePart]
    classes: ClassFigures
    complete: bool = True
    too_many: bool = False

    def __len__(self) -> int:
        return int(self.cls.size)


@dataclass(frozen=True, slots=True)
class ClassFigures:
    """What one task of each class holds: the coefficients of its columns."""

    cpu_cores: FloatArray
    mem_gib: FloatArray
    devices: FloatArray
    kind: IntArray
    bandwidth_mbps: FloatArray
    count: FloatArray

    @classmethod
    def of(cls, groups: Sequence[TaskClassGroup]) -> ClassFigures:
        """The figures of ``groups``."""
        specs = [g.spec for g in groups]
        need = [s.accelerator for s in specs]
        return cls(
            np.array([s.cpu_cores for s in specs], dtype=np.float64),
            np.array([s.mem_gib for s in specs], dtype=np.float64),
            np.array([0 if n is None else n.count for n in need], dtype=np.float64),
            np.array([-1 if n is None else ACCELERATOR_KINDS.index(n.kind) for n in need]),
            np.array([required_bandwidth_mbps(s) for s in specs], dtype=np.float64),
            np.array([g.count for g in groups], dtype=np.float64),
        )


@dataclass(slots=True)
class _Builder:
    """Accumulates columns and deduplicated paths."""

    limit: int
    cls: list[IntArray] = field(default_factory=list)
    node: list[IntArray] = field(default_factory=list)
    path: list[IntArray] = field(default_factory=list)
    network: list[FloatArray] = field(default_factory=list)
    cost: list[FloatArray] = field(default_factory=list)
    index: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = field(default_factory=dict)
    links: list[tuple[int, ...]] = field(default_factory=list)
    vertices: list[tuple[int, ...]] = field(default_factory=list)
    size: int = 0

    def paths(self, found: PathSet) -> IntArray:
        """Global indexes of ``found``'s paths (new ones registered)."""
        out = np.empty(len(found), dtype=np.int64)
        for i, (links, vertices) in enumerate(zip(found.links, found.vertices, strict=True)):
            key = (vertices, links)
            at = self.index.get(key)
            if at is None:
                at = self.index[key] = len(self.links)
                self.links.append(links)
                self.vertices.append(vertices)
            out[i] = at
        return out

    def add(self, c: int, n: int, paths: IntArray, network: FloatArray, cost: FloatArray) -> None:
        """Columns of class ``c`` on node ``n`` along ``paths``."""
        self.cls.append(np.full(paths.size, c, dtype=np.int64))
        self.node.append(np.full(paths.size, n, dtype=np.int64))
        self.path.append(paths)
        self.network.append(network)
        self.cost.append(cost)
        self.size += paths.size


def build_columns(
    state: ClusterState,
    groups: Sequence[TaskClassGroup],
    *,
    max_columns: int,
    factories: Mapping[str, PluginFactory] | None = None,
    max_paths_per_pair: int | None = None,
) -> Columns:
    """Every admissible column of ``groups`` on ``state`` (up to ``max_columns``)."""
    plugins = ProfilePlugins(_PROFILE, state, factories)
    graph, check = LinkGraph(state), SlaCheck(state.topology)
    arrays = state.arrays
    vertex = {v: i for i, v in enumerate(arrays.vertex_ids)}
    out = _Builder(max_columns)
    parts: dict[int, NodePart] = {}
    complete = True
    for c, group in enumerate(groups):
        spec = group.spec
        if spec.ingress_site is None or spec.ingress_site not in state.topology.sites:
            continue
        part, allowed = _node_part(state, plugins, spec, check)
        if not allowed.any():
            continue
        parts[c] = part
        bandwidth = required_bandwidth_mbps(spec)
        data_mbit = (spec.data_in_mb + spec.data_out_mb) * MB_BITS / 1e6
        data_gb = (spec.data_in_mb + spec.data_out_mb) / 1000.0
        limit = min(
            math.inf if spec.latency_budget_ms is None else spec.latency_budget_ms,
            math.inf if spec.deadline_s is None else spec.deadline_s * 1000.0,
        )
        fixed_ms = spec.fixed_latency_ms
        with np.errstate(invalid="ignore"):  # inf - inf where a node cannot run it: not used
            net_allow = limit - part.queueing_ms - part.compute_ms - fixed_ms
            price_allow = (math.inf if spec.budget is None else spec.budget) - part.cost
        candidates = np.flatnonzero(allowed)
        for site in np.unique(arrays.node_vertex[candidates]).tolist():
            here = candidates[arrays.node_vertex[candidates] == site]
            source = vertex[spec.ingress_site]
            if bandwidth > 0:
                found = graph.enumerate_paths(
                    source,
                    site,
                    min_bandwidth_mbps=bandwidth,
                    data_mbit=data_mbit,
                    data_gb=data_gb,
                    network_allowance_ms=float(net_allow[here].max()),
                    price_allowance=float(price_allow[here].max()),
                    **({} if max_paths_per_pair is None else {"max_paths": max_paths_per_pair}),
                )
                complete &= found.complete
            else:  # reserves nothing: one dominant path (see the module docstring)
                found = PathSet()
                best = graph.best_path(
                    source,
                    site,
                    0.0 if data_mbit > 0 else ANY_LINK,
                    "cost" if data_mbit > 0 else "latency",
                )
                if best is not None:
                    found.add(*best)
            if not len(found):
                continue
            paths = out.paths(found)
            latency = np.asarray(found.latency_ms)
            with np.errstate(divide="ignore"):
                transfer = data_mbit / np.asarray(found.bottleneck_mbps) * 1000.0
            network = 2.0 * latency + (transfer if data_mbit > 0 else 0.0)
            transfer_price = np.asarray(found.cost_per_gb) * data_gb
            for n in here.tolist():
                # The same arithmetic, in the same order, as Cycle and Estimate.total_ms.
                total = network + part.queueing_ms[n] + part.compute_ms[n] + fixed_ms
                cost = part.cost[n] + transfer_price  # + 0.0 when no data: the same value
                keep = SlaCheck.within(spec, total, cost)
                if keep.any():
                    out.add(c, n, paths[keep], network[keep], cost[keep])
            if out.size > max_columns:
                return _finish(out, parts, groups, arrays, complete=complete, too_many=True)
    return _finish(out, parts, groups, arrays, complete=complete, too_many=False)


def _node_part(
    state: ClusterState, plugins: ProfilePlugins, spec: TaskSpec, check: SlaCheck
) -> tuple[NodePart, np.ndarray]:
    """Node-side estimates of ``spec`` and the nodes that may hold it."""
    n_nodes = len(state.arrays.node_ids)
    zeros = np.zeros(n_nodes)
    # A route of nothing: network 0 and no transfer price, so the cycle's figures are the
    # node's alone; the path part is added per column.
    route = RouteResult(zeros, np.full(n_nodes, np.inf), zeros, zeros)
    cycle = Cycle(Request("class", spec), state, alive=np.ones(n_nodes, dtype=bool), route=route)
    for plugin in plugins.filters[Stage.PRE_ROUTE]:
        if cycle.alive.any():
            cycle.reject(plugin.name, np.asarray(plugin.filter(cycle), dtype=bool))
    part = NodePart(
        cycle.queueing_ms().copy(),
        cycle.compute_ms().copy(),
        cycle.cost().copy(),
        cycle.energy_kwh().copy(),
        cycle.carbon_g().copy(),
    )
    allowed = cycle.alive & np.isfinite(part.compute_ms) & np.isfinite(part.queueing_ms)
    node_ids = state.arrays.node_ids
    for n in np.flatnonzero(allowed).tolist():
        allowed[n] = check.node_allows(spec, node_ids[n])
    return part, allowed


def _finish(
    out: _Builder,
    parts: dict[int, NodePart],
    groups: Sequence[TaskClassGroup],
    arrays: TopologyArrays,
    *,
    complete: bool,
    too_many: bool,
) -> Columns:
    n_links = len(arrays.link_ids)
    lengths = np.array([len(links) for links in out.links], dtype=np.int64)
    indptr = np.r_[0, np.cumsum(lengths)]
    indices = np.array([i for links in out.links for i in links], dtype=np.int64)
    incidence = csr_array((np.ones(indices.size), indices, indptr), shape=(len(out.links), n_links))

    def joined(parts_: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts_).astype(dtype) if parts_ else np.zeros(0, dtype=dtype)

    return Columns(
        cls=joined(out.cls, np.int64),
        node=joined(out.node, np.int64),
        path=joined(out.path, np.int64),
        network_ms=joined(out.network, np.float64),
        cost=joined(out.cost, np.float64),
        incidence=incidence,
        path_links=out.links,
        path_vertices=out.vertices,
        node_parts=parts,
        classes=ClassFigures.of(groups),
        complete=complete,
        too_many=too_many,
    )
