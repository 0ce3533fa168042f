"""A task graph run in the twin: its stages on the event loop, its data on the links.

``run_graph`` plays one placed graph (``StagePlace`` per stage: a node's site or a network
element) on the twin's ``EventLoop``. At time 0 the request leaves the ingress: each entry
stage's input flows to it; once every input has arrived a stage reads its datasets (each one
not held at its vertex flows from the replica of least latency), computes for its
``compute_ms``, then sends its data along each edge out of it (and an exit stage its result
back to the ingress). Every flow takes the latency-shortest path between the two vertices
(links up now) and moves as ``SimEngine`` moves a task's data: propagation latency plus its
MB at its rate, the least over its links of the capacity shared equally among the flows
moving over the link when it starts (fixed at start; graph data reserves no bandwidth). Two
stages at one vertex exchange data at once.

Measured: the end-to-end latency (the last result back at the ingress), the makespan (first
stage start to last stage finish), the MB every link carried, their sum (traffic, GB x links)
and the data moved between vertices (each flow once: moved GB).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from suanwang.model.graph import TaskGraph
from suanwang.routing import distances_from
from suanwang.scheduling import ClusterState
from suanwang.scheduling.cycle import MB_BITS
from suanwang.scheduling.graph.innetwork import StagePlace
from suanwang.twin.loop import EventLoop

MB_PER_GB = 1000.0
_MAX_EVENTS_PER_STAGE = 64
"""Bound of the loop: a stage's events (its arrivals, its end) are far fewer."""


@dataclass(frozen=True)
class GraphRun:
    """What the twin measured of one graph run.

    Attributes:
        end_to_end_ms: Request out of the ingress to the last result back there.
        makespan_ms: First stage start to last stage finish.
        start_ms: Per stage, when it started computing.
        finish_ms: Per stage, when it finished.
        link_mb: MB carried per link id (links that carried something).
        traffic_gb: GB x links: the sum of ``link_mb`` in GB.
        moved_gb: GB of data moved between vertices: each flow once, however many links
            it crossed (an aggregation in the network adds the flow out of its element).
    """

    end_to_end_ms: float
    makespan_ms: float
    start_ms: tuple[float, ...]
    finish_ms: tuple[float, ...]
    link_mb: dict[str, float]
    traffic_gb: float
    moved_gb: float


class _Network:
    """Paths, link capacities and the flows moving on each link."""

    def __init__(self, state: ClusterState, loop: EventLoop) -> None:
        self._state = state
        self._loop = loop
        self._routing = state.routing_graph()
        self._index = {link: k for k, link in enumerate(self._routing.link_ids)}
        self._capacity = self._routing.link_bandwidth_mbps.tolist()
        self._latency = self._routing.link_latency_ms.tolist()
        self._flows = [0] * len(self._capacity)
        self.carried_mb = [0.0] * len(self._capacity)
        self.moved_mb = 0.0
        self._paths: dict[tuple[int, int], tuple[int, ...]] = {}

    def _links(self, a: int, b: int) -> tuple[int, ...]:
        key = (a, b)
        if key not in self._paths:
            if a == b:
                self._paths[key] = ()
            else:
                paths = distances_from(self._routing, a, excluded_links=self._state.down_links())
                path = paths.path(b)
                self._paths[key] = tuple(self._index[link] for link in path.segments)
        return self._paths[key]

    def nearest(self, sources: Sequence[int], b: int) -> int | None:
        """The one of ``sources`` of least latency to ``b``; None where none reaches it."""
        paths = distances_from(self._routing, sources, excluded_links=self._state.down_links())
        latency = paths.latency_ms[:, b]
        best = int(latency.argmin())
        return int(paths.sources[best]) if latency[best] < float("inf") else None

    def send(self, a: int, b: int, data_mb: float, arrived: Callable[[None], None]) -> None:
        """Move ``data_mb`` from vertex ``a`` to ``b``; call ``arrived`` when it is there.

        Raises:
            suanwang.routing.NoPathError: ``b`` cannot be reached from ``a``.
        """
        links = self._links(a, b)
        if not links:
            self._loop.after(0.0, arrived)
            return
        rate_mbps = float("inf")
        for link in links:
            self._flows[link] += 1
            rate_mbps = min(rate_mbps, self._capacity[link] / self._flows[link])
            self.carried_mb[link] += data_mb
        if data_mb > 0:
            self.moved_mb += data_mb
        transfer_ms = data_mb * MB_BITS / 1e6 / rate_mbps * 1e3 if data_mb > 0 else 0.0
        delay_ms = sum(self._latency[link] for link in links) + transfer_ms

        def done(_: None) -> None:
            for link in links:
                self._flows[link] -= 1
            arrived(None)

        self._loop.after(delay_ms / 1e3, done)


def _dataset_moves(
    state: ClusterState, net: _Network, dataset_ids: Sequence[str], vertex: int
) -> list[tuple[int, float]]:
    """(replica vertex, MB) of each dataset not held at ``vertex``.

    Raises:
        ValueError: A dataset is unknown, or no replica of it reaches ``vertex``.
    """
    routing = state.routing_graph()
    moves = []
    for dataset_id in dataset_ids:
        dataset = state.topology.datasets.get(dataset_id)
        if dataset is None:
            raise ValueError(f"datasets names an unknown dataset, got {dataset_id!r}")
        replicas = [routing.vertex(site) for site in dataset.sites]
        if vertex in replicas:
            continue
        source = net.nearest(replicas, vertex)
        if source is None:
            raise ValueError(
                f"dataset {dataset_id!r}: no replica reaches {routing.vertex_ids[vertex]!r}"
            )
        moves.append((source, dataset.size_mb))
    return moves


def run_graph(graph: TaskGraph, places: Sequence[StagePlace], state: ClusterState) -> GraphRun:
    """Run ``graph`` with stage ``s`` at ``places[s]`` in simulated time (module docstring).

    Raises:
        ValueError: No ingress site, or not one place per stage.
        suanwang.routing.NoPathError: Two places the data must join are not connected.
    """
    if graph.ingress_site is None:
        raise ValueError(f"graph {graph.id!r}: ingress_site is needed to run it")
    if len(places) != len(graph.stages):
        raise ValueError(f"places needs one entry per stage, got {len(places)}")
    loop = EventLoop()
    net = _Network(state, loop)
    ingress = state.routing_graph().vertex(graph.ingress_site)
    n = len(graph.stages)
    waiting = [len(graph.parents[s]) for s in range(n)]
    entries = set(graph.entries)
    for s in entries:
        waiting[s] += 1
    start = [0.0] * n
    finish = [0.0] * n
    back: list[float] = []

    def compute(s: int) -> None:
        start[s] = loop.now_s() * 1e3
        loop.after(places[s].compute_ms / 1e3, lambda _: finished(s))

    def arrive(s: int) -> Callable[[None], None]:
        def arrived(_: None) -> None:
            waiting[s] -= 1
            if waiting[s] == 0:
                read(s, compute)

        return arrived

    def read(s: int, then: Callable[[int], None]) -> None:
        """Move the stage's datasets from their nearest replicas, then ``then(s)``."""
        moves = _dataset_moves(state, net, graph.stages[s].datasets, places[s].vertex)
        if not moves:
            then(s)
            return
        left = [len(moves)]

        def landed(_: None) -> None:
            left[0] -= 1
            if left[0] == 0:
                then(s)

        for source, size_mb in moves:
            net.send(source, places[s].vertex, size_mb, landed)

    def finished(s: int) -> None:
        finish[s] = loop.now_s() * 1e3
        for k in graph.children[s]:
            v = graph.ends[k][1]
            net.send(places[s].vertex, places[v].vertex, graph.edge_data_mb[k], arrive(v))
        if not graph.children[s]:
            net.send(
                places[s].vertex,
                ingress,
                graph.stages[s].result_mb,
                lambda _: back.append(loop.now_s() * 1e3),
            )

    for s in sorted(entries):
        net.send(ingress, places[s].vertex, graph.stages[s].input_mb, arrive(s))
    bound = _MAX_EVENTS_PER_STAGE * (n + len(graph.edges) + 1)
    for _ in range(bound):
        upcoming = loop.next_time_s()
        if upcoming is None:
            break
        loop.run(upcoming)
    if len(back) != len(graph.exits):
        raise RuntimeError(f"graph {graph.id!r}: the run ended with results missing")
    link_ids = state.routing_graph().link_ids
    link_mb = {link_ids[k]: mb for k, mb in enumerate(net.carried_mb) if mb > 0}
    return GraphRun(
        end_to_end_ms=max(back),
        makespan_ms=max(finish) - min(start),
        start_ms=tuple(start),
        finish_ms=tuple(finish),
        link_mb=link_mb,
        traffic_gb=sum(link_mb.values()) / MB_PER_GB,
        moved_gb=net.moved_mb / MB_PER_GB,
    )
