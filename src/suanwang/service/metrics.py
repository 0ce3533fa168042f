"""Prometheus metrics of the control plane, in a registry of their own (one per server)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
