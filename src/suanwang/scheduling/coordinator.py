"""A global coordinator over scheduler shards: each arrival to one shard, escalation bounded.

Each shard of a ``ShardCut`` has its own ``ClusterState`` (its own reservation ledger) and its
own ``Scheduler``; nothing at decision time reads arrays of the whole network. The coordinator
keeps only small tables of its own:

* a summary per shard: free CPU cores and free accelerator devices per kind, kept up to date
  from what each placement holds and each release gives back, and which services have an
  instance there (a shard without one cannot host that service's tasks);
* per ingress site, the shards in order of one-way latency from that site to the shard's
  nearest border site, with that border site (the gateway) and the latency: computed once, when
  the coordinator is built, over the whole topology's links.

``place`` asks the ingress's own shard first. When that shard refuses, or its placement's
estimate misses the task's SLA (latency budget, or deadline), it asks the next-nearest shards
whose summary could hold the task, at most ``max_shards`` shards in all (the home shard
counted). A shard asked for a task from elsewhere schedules it from its gateway, with the round
trip from the ingress to the gateway added to the task's fixed latency, so the shard's own
filters and scores judge the whole end-to-end time. The first placement that meets the SLA is
kept; when none does, the first placement made is kept (the others are released at once); when
no shard places it, the task is refused with the home shard's (or first asked shard's) decision.
A task so lands in exactly one shard, on a node of that shard, reserved in that shard's ledger.

Simplifications, stated: the bandwidth of the links between shards is not reserved (only the
links inside the accepting shard are), and their transit cost is not added to the estimate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from suanwang.model import ACCELERATOR_KINDS, Estimate, Service, TaskSpec, Tier, Topology
from suanwang.scheduling.catalogue import ServiceCatalogue
from suanwang.scheduling.framework import Request
from suanwang.scheduling.profile import Profile
from suanwang.scheduling.scheduler import Decision, Scheduler
from suanwang.scheduling.shards import ShardCut, ShardState

_CHUNK_SOURCES = 256  # Dijkstra sources per pass (bounds the distance matrix held at once)
_SLACK = 1e-9


def meets_sla(spec: TaskSpec, estimate: Estimate) -> bool:
    """Whether ``estimate`` keeps ``spec``'s latency budget and deadline (each when set)."""
    total_ms = estimate.total_ms
    if spec.latency_budget_ms is not None and total_ms > spec.latency_budget_ms + _SLACK:
        return False
    return spec.deadline_s is None or total_ms / 1000.0 <= spec.deadline_s + _SLACK


@dataclass(frozen=True, slots=True)
class ShardDecision:
    """Where one task went.

    Attributes:
        shard: Index of the shard that holds the task, or None when refused.
        decision: The accepting shard's decision, or the refusal.
        asked: Shards asked, in order (the home shard first, when the ingress has one).
        spec: The demand as the accepting shard placed it (gateway ingress and added fixed
            latency when it came from another shard); the original when refused.
    """

    shard: int | None
    decision: Decision
    asked: tuple[int, ...]
    spec: TaskSpec


class ShardCoordinator:
    """Routes each task to one shard (see the module docstring).

    Args:
        cut: The shards.
        topology: The whole topology the cut came from (read once, for the latency table).
        profile: The profile every shard's scheduler runs.
        services: The services whose CS-IDs tasks name; every shard's catalogue holds all of
            them, so a shard with no instance of a service hosts none of its tasks.
        max_shards: At most this many shards asked per task (the home shard counted), >= 1.
        ingress_sites: Sites tasks may enter at (default: the terminal sites, or every site
            where there are none).

    Raises:
        ValueError: ``max_shards`` < 1, or an ingress site the topology does not hold.
    """

    def __init__(
        self,
        cut: ShardCut,
        topology: Topology,
        profile: Profile,
        services: Iterable[Service] = (),
        *,
        max_shards: int = 3,
        ingress_sites: Iterable[str] | None = None,
    ) -> None:
        if max_shards < 1:
            raise ValueError(f"max_shards must be at least 1, got {max_shards}")
        self.cut = cut
        self.max_shards = max_shards
        services = tuple(services)
        self.states: tuple[ShardState, ...] = tuple(
            ShardState(
                shard.topology,
                catalogue=ServiceCatalogue.of(services, shard.topology.arrays.node_ids),
            )
            for shard in cut.shards
        )
        self.schedulers = tuple(Scheduler(profile, state) for state in self.states)
        self.free_cores = np.array([s.arrays.node_cpu_cores.sum() for s in self.states])
        self.free_devices = np.array(
            [s.arrays.node_accel_count.sum(axis=0) for s in self.states], dtype=np.float64
        ).reshape(len(self.states), len(ACCELERATOR_KINDS))
        self._kind_index = {kind: i for i, kind in enumerate(ACCELERATOR_KINDS)}
        shard_of_node = {
            node: i for i, shard in enumerate(cut.shards) for node in shard.topology.nodes
        }
        self._hosting: dict[str, frozenset[int]] = {
            str(service.id): frozenset(
                shard_of_node[i.node_id] for i in service.instances if i.node_id in shard_of_node
            )
            for service in services
            if service.instances
        }
        self._where: dict[str, int] = {}
        self._routes = _IngressRoutes(cut, topology, _ingress(topology, ingress_sites))

    def shard_of(self, task_id: str) -> int | None:
        """The shard holding ``task_id``, or None when it holds nothing."""
        return self._where.get(task_id)

    def __len__(self) -> int:
        return len(self._where)

    def place(self, task_id: str, spec: TaskSpec, *, tenant: str = "") -> ShardDecision:
        """Place ``task_id`` in one shard (see the module docstring).

        Raises:
            ValueError: ``task_id`` is already held, ``spec`` names no ingress site the
                coordinator knows, or no shard is reachable from that site.
        """
        if task_id in self._where:
            raise ValueError(f"task {task_id!r} is already placed in shard {self._where[task_id]}")
        ingress = spec.ingress_site
        if ingress is None or ingress not in self._routes.row:
            raise ValueError(f"spec.ingress_site {ingress!r} is not an ingress site of this cut")
        kept: tuple[int, Decision, TaskSpec] | None = None
        first: Decision | None = None
        asked: list[int] = []
        for shard, shard_spec in self._candidates(ingress, spec):
            asked.append(shard)
            decision = self.schedulers[shard].schedule(Request(task_id, shard_spec, tenant))
            if first is None:
                first = decision
            if not decision.status.ok or decision.placement is None:
                continue
            if kept is not None:  # kept missed the SLA: this one is asked only to beat it
                if not meets_sla(shard_spec, decision.placement.estimate):
                    self.schedulers[shard].release(task_id)
                    continue
                self.schedulers[kept[0]].release(task_id)
            kept = (shard, decision, shard_spec)
            if meets_sla(shard_spec, decision.placement.estimate):
                break
        if kept is None:
            if first is None:
                raise ValueError(f"no shard to ask for ingress {ingress!r}")
            return ShardDecision(None, first, tuple(asked), spec)
        shard, decision, shard_spec = kept
        self._where[task_id] = shard
        self._account(shard, task_id, -1.0)
        return ShardDecision(shard, decision, tuple(asked), shard_spec)

    def release(self, task_id: str) -> None:
        """Give back what ``task_id`` holds in its shard; idempotent."""
        shard = self._where.pop(task_id, None)
        if shard is not None:
            self._account(shard, task_id, 1.0)
            self.schedulers[shard].release(task_id)

    def _account(self, shard: int, task_id: str, sign: float) -> None:
        held = self.states[shard].reservations.held(task_id)
        if held is None:
            return
        self.free_cores[shard] += sign * held.cpu_cores
        if held.accelerator_kind is not None:
            kind = self._kind_index[held.accelerator_kind]
            self.free_devices[shard, kind] += sign * held.accelerator_count

    def _could_hold(self, shard: int, spec: TaskSpec) -> bool:
        if self.free_cores[shard] < spec.cpu_cores - _SLACK:
            return False
        hosting = None if spec.service_id is None else self._hosting.get(spec.service_id)
        if hosting is not None and shard not in hosting:
            return False
        need = spec.accelerator
        return need is None or self.free_devices[shard, self._kind_index[need.kind]] >= need.count

    def _candidates(self, ingress: str, spec: TaskSpec) -> Iterable[tuple[int, TaskSpec]]:
        """The shards to ask, in order, each with the demand as that shard sees it."""
        routes = self._routes
        row = routes.row[ingress]
        home = self.cut.shard_of_site.get(ingress)
        count = 0
        if home is not None:
            count += 1
            yield home, spec
        for shard in routes.order[row].tolist():
            if count >= self.max_shards:
                return
            if shard == home or not np.isfinite(routes.latency_ms[row, shard]):
                continue
            if not self._could_hold(shard, spec):
                continue
            count += 1
            round_trip_ms = 2.0 * float(routes.latency_ms[row, shard])
            yield (
                shard,
                dataclasses.replace(
                    spec,
                    ingress_site=routes.gateway[row][shard],
                    fixed_latency_ms=spec.fixed_latency_ms + round_trip_ms,
                ),
            )


def _ingress(topology: Topology, sites: Iterable[str] | None) -> tuple[str, ...]:
    if sites is None:
        terminals = [s.id for s in topology.sites.values() if s.tier is Tier.TERMINAL]
        return tuple(terminals or topology.sites)
    chosen = tuple(dict.fromkeys(sites))
    for site in chosen:
        if site not in topology.sites:
            raise ValueError(f"ingress_sites names {site!r}, which the topology does not hold")
    return chosen


class _IngressRoutes:
    """Per ingress: one-way latency to each shard's nearest border site, that site, the order."""

    def __init__(self, cut: ShardCut, topology: Topology, ingress: Sequence[str]) -> None:
        arrays = topology.arrays
        vertex = {vid: i for i, vid in enumerate(arrays.vertex_ids)}
        n = len(arrays.vertex_ids)
        graph = _latency_graph(arrays.link_a, arrays.link_b, arrays.link_latency_ms, n)
        shards = cut.shards
        borders = [np.array([vertex[s] for s in sh.border_sites], np.intp) for sh in shards]
        self.row = {site: i for i, site in enumerate(ingress)}
        self.latency_ms: npt.NDArray[np.float64] = np.full((len(ingress), len(shards)), np.inf)
        self.gateway: list[list[str | None]] = [[None] * len(shards) for _ in ingress]
        sources = np.array([vertex[s] for s in ingress], np.intp)
        for start in range(0, len(sources), _CHUNK_SOURCES):
            chunk = sources[start : start + _CHUNK_SOURCES]
            distances = np.atleast_2d(dijkstra(graph, directed=False, indices=chunk))
            for j, (shard, border) in enumerate(zip(shards, borders, strict=True)):
                if border.size == 0:
                    continue
                to_border = distances[:, border]
                best = np.argmin(to_border, axis=1)
                latency = to_border[np.arange(len(chunk)), best]
                self.latency_ms[start : start + len(chunk), j] = latency
                for k, b in enumerate(best.tolist()):
                    self.gateway[start + k][j] = shard.border_sites[b]
        self.order: npt.NDArray[np.intp] = np.argsort(self.latency_ms, axis=1, kind="stable")


def _latency_graph(
    a: npt.NDArray[np.int32], b: npt.NDArray[np.int32], latency_ms: npt.NDArray[np.float64], n: int
) -> csr_matrix:
    """The links as a sparse graph, the lowest latency of parallel links kept (not summed)."""
    rows, cols = np.concatenate([a, b]), np.concatenate([b, a])
    weights = np.concatenate([latency_ms, latency_ms]) + 1e-9  # a zero would read as no edge
    order = np.argsort(weights, kind="stable")
    keys = rows[order].astype(np.int64) * n + cols[order]
    _, first = np.unique(keys, return_index=True)
    keep = order[first]
    return csr_matrix((weights[keep], (rows[keep], cols[keep])), shape=(n, n))
