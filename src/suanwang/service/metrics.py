"""Prometheus metrics of the control plane, in a registry of their own (one per server).

Per-site series (``suanwang_site_reserved_ratio``, ``suanwang_site_nodes``) are refreshed by
``observe_sites`` on the writer's tick, not per request: a few array sums per tick, and one
labelled child per (site, resource) and (site, state), looked up once per topology. Finished
tasks are judged against their SLA when they complete (``task_completed``): end-to-end time
from submission to completion plus the time spent outside the network (``fixed_latency_ms``),
against the latency budget, else the deadline; a task with neither meets it, as in the twin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from suanwang.model import ACCELERATOR_KINDS, Task, TaskClass, Topology

# Scheduling decisions on a small network take tens of microseconds; a commit a few ms.
_DECISION_BUCKETS_S = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.5,
)
_COMMIT_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
# End-to-end times of tasks: AR/VR frames in ms to batch jobs in minutes.
_TASK_BUCKETS_S = (0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

NODE_STATES = ("up", "draining", "down", "no-agent", "quarantined")
"""Values of the ``state`` label of ``suanwang_site_nodes`` (``LiveNetwork.node_state``)."""


@dataclass(frozen=True, slots=True)
class _SiteIndex:
    """What ``observe_sites`` needs of one topology, worked out once per topology version."""

    version: int
    sites: tuple[str, ...]
    node_site: npt.NDArray[np.intp]
    node_index: dict[str, int]
    capacity: dict[str, npt.NDArray[np.float64]]  # resource -> per-site total
    ratio: dict[str, list[Gauge | None]]  # resource -> per-site gauge child
    nodes: list[list[Gauge]]  # state -> per-site gauge child


def _by_site(
    node_site: npt.NDArray[np.intp], values: npt.NDArray[np.float64], n_sites: int
) -> npt.NDArray[np.float64]:
    """Per-site sums of a per-node array."""
    return np.asarray(np.bincount(node_site, weights=values, minlength=n_sites), np.float64)


def sla_met(task: Task) -> bool:
    """Whether a completed task met its latency budget (else deadline); True without either."""
    spec = task.spec
    total_ms = (task.history[-1].at_s - task.submitted_at_s) * 1000.0 + spec.fixed_latency_ms
    if spec.latency_budget_ms is not None:
        return total_ms <= spec.latency_budget_ms
    if spec.deadline_s is not None:
        return total_ms <= spec.deadline_s * 1000.0
    return True


class PlaneMetrics:
    """The metrics a control plane exports on ``/metrics``.

    Attributes:
        registry: Registry holding them (rendered by the API).
        decisions: Task transitions by cause (``placed``, ``queued``, ``rejected:<plugin>``...).
        decision_seconds: Wall time of one submission's scheduling decision.
        commit_seconds: Wall time of one group commit.
        batch_size: Requests answered by one group commit.
        queue_depth: Tasks waiting in the controller's queue for capacity.
        active_tasks: Tasks not yet in a final state.
        nodes: Nodes by state (``up``, ``down``).
        nodes_quarantined: Nodes in quarantine (a wrong attestation answer or an inflated claim).
        tasks_finished: Completed tasks by class and ``sla`` (``met``, ``missed``).
        task_seconds: End-to-end time of completed tasks by class (with the fixed latency).
        site_reserved: Share of each site's capacity reserved by placements, by ``resource``
            (``cpu``, ``memory``, ``accel:<kind>`` for each kind the site has).
        site_nodes: Nodes per site by state (``up``, ``draining``, ``down``, ``no-agent``,
            ``quarantined``).
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.decisions = Counter(
            "suanwang_decisions", "Task transitions by cause.", ["cause"], registry=r
        )
        self.decision_seconds = Histogram(
            "suanwang_decision_seconds",
            "Wall time of one submission's scheduling decision.",
            buckets=_DECISION_BUCKETS_S,
            registry=r,
        )
        self.commit_seconds = Histogram(
            "suanwang_commit_seconds",
            "Wall time of one group commit (one transaction, one fsync).",
            buckets=_COMMIT_BUCKETS_S,
            registry=r,
        )
        self.batch_size = Histogram(
            "suanwang_batch_requests",
            "Requests answered by one group commit.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=r,
        )
        self.queue_depth = Gauge("suanwang_queue_depth", "Tasks waiting for capacity.", registry=r)
        self.active_tasks = Gauge(
            "suanwang_active_tasks", "Tasks not yet in a final state.", registry=r
        )
        self.nodes = Gauge("suanwang_nodes", "Nodes by state.", ["state"], registry=r)
        self.nodes_quarantined = Gauge(
            "suanwang_nodes_quarantined",
            "Nodes in quarantine after a wrong attestation answer or an inflated claim.",
            registry=r,
        )
        self.tasks_finished = Counter(
            "suanwang_tasks_finished",
            "Completed tasks by class and whether they met their SLA (met, missed).",
            ["class", "sla"],
            registry=r,
        )
        self.task_seconds = Histogram(
            "suanwang_task_seconds",
            "End-to-end time of completed tasks (submission to completion plus fixed latency).",
            ["class"],
            buckets=_TASK_BUCKETS_S,
            registry=r,
        )
        self.site_reserved = Gauge(
            "suanwang_site_reserved_ratio",
            "Share of a site's capacity reserved by placements (cpu, memory, accel:<kind>).",
            ["site", "resource"],
            registry=r,
        )
        self.site_nodes = Gauge(
            "suanwang_site_nodes", "Nodes per site by state.", ["site", "state"], registry=r
        )
        self._finished: dict[tuple[TaskClass, bool], tuple[Counter, Histogram]] = {}
        self._sites: _SiteIndex | None = None

    def task_completed(self, task: Task) -> None:
        """Count a task that has just completed, by class and SLA (writer thread)."""
        met = sla_met(task)
        key = (task.spec.task_class, met)
        children = self._finished.get(key)
        if children is None:
            klass = str(task.spec.task_class)
            children = self._finished[key] = (
                self.tasks_finished.labels(klass, "met" if met else "missed"),
                self.task_seconds.labels(klass),
            )
        counter, histogram = children
        counter.inc()
        elapsed_s = task.history[-1].at_s - task.submitted_at_s
        histogram.observe(elapsed_s + task.spec.fixed_latency_ms / 1000.0)

    def observe_sites(
        self,
        topology: Topology,
        cpu_cores: npt.NDArray[np.float64],
        mem_gib: npt.NDArray[np.float64],
        accelerators: npt.NDArray[np.float64],
        states: Iterable[tuple[str, Iterable[str]]],
    ) -> None:
        """Refresh the per-site gauges (writer thread, once per tick).

        Args:
            topology: The live topology.
            cpu_cores: Reserved cores per node (the ledger's array).
            mem_gib: Reserved memory per node.
            accelerators: Reserved devices per node and accelerator kind.
            states: For each state but ``up``, the nodes in it, most severe first (a node
                in two is counted in the first).
        """
        index = self._sites
        if index is None or index.version != topology.version:
            index = self._sites = self._index(topology)
        n_sites = len(index.sites)
        reserved = {"cpu": cpu_cores, "memory": mem_gib}
        for k, kind in enumerate(ACCELERATOR_KINDS):
            reserved[f"accel:{kind}"] = accelerators[:, k]
        for resource, children in index.ratio.items():
            held = _by_site(index.node_site, reserved[resource], n_sites)
            capacity = index.capacity[resource]
            shares = np.divide(held, capacity, out=np.zeros(n_sites), where=capacity > 0)
            for child, share in zip(children, np.clip(shares, 0.0, 1.0).tolist(), strict=True):
                if child is not None:
                    child.set(share)
        state_of = np.zeros(len(index.node_site), dtype=np.intp)  # 0: up
        seen: set[str] = set()
        for name, nodes in states:
            code = NODE_STATES.index(name)
            for node_id in nodes:
                position = index.node_index.get(node_id)
                if position is not None and node_id not in seen:
                    seen.add(node_id)
                    state_of[position] = code
        counts = np.bincount(
            index.node_site * len(NODE_STATES) + state_of, minlength=n_sites * len(NODE_STATES)
        ).reshape(n_sites, len(NODE_STATES))
        for code, gauges in enumerate(index.nodes):
            for gauge, count in zip(gauges, counts[:, code].tolist(), strict=True):
                gauge.set(count)

    def _index(self, topology: Topology) -> _SiteIndex:
        """Sites, capacities and gauge children of a new topology; the old sites' go."""
        self.site_reserved.clear()
        self.site_nodes.clear()
        arrays = topology.arrays
        sites = tuple(topology.sites)
        site_of_vertex = {vertex: i for i, vertex in enumerate(sites)}
        node_site = np.fromiter(
            (site_of_vertex[arrays.vertex_ids[v]] for v in arrays.node_vertex.tolist()),
            np.intp,
            len(arrays.node_ids),
        )
        n_sites = len(sites)
        capacity: dict[str, npt.NDArray[np.float64]] = {
            "cpu": _by_site(node_site, arrays.node_cpu_cores, n_sites),
            "memory": _by_site(node_site, arrays.node_mem_gib, n_sites),
        }
        for k, kind in enumerate(ACCELERATOR_KINDS):
            devices = arrays.node_accel_count[:, k].astype(np.float64)
            capacity[f"accel:{kind}"] = _by_site(node_site, devices, n_sites)
        ratio: dict[str, list[Gauge | None]] = {}
        for resource, totals in capacity.items():
            if not bool(np.any(totals > 0)):
                continue  # an accelerator kind no site has: no series at all
            ratio[resource] = [
                self.site_reserved.labels(site, resource) if total > 0 else None
                for site, total in zip(sites, totals.tolist(), strict=True)
            ]
        nodes = [[self.site_nodes.labels(site, state) for site in sites] for state in NODE_STATES]
        return _SiteIndex(
            topology.version,
            sites,
            node_site,
            {node_id: i for i, node_id in enumerate(arrays.node_ids)},
            capacity,
            ratio,
            nodes,
        )
