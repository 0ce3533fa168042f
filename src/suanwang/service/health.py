"""Self-healing: nodes whose agents fall silent are suspected, then taken down, then let back.

A ``HealthMonitor`` thread looks at the heartbeat age of every node that has had an agent (a key
bound through the API) once per ``tick_s``:

- age > ``suspect_after_s``: the node is *suspected* (logged and audited) and *drained*:
  nothing new is placed there, and its long-running services start moving make-before-break
  (a replacement is started elsewhere; the run here is released only once it has started).
  Batch tasks stay, since one late heartbeat is not a failure;
- age > ``down_after_s``: the node is taken *down* through the single writer, so the controller
  re-places its tasks and every move is committed before anyone hears of it;
- a fresh heartbeat from a suspected node clears the suspicion and ends the drain; from a down
  node it brings the node back *up* (returned to the pool, the queue tried on it).

Nodes that never had an agent are left alone (the plane's ``no-agent`` rule and dispatch
timeout deal with them). Key bindings outlive restarts and scenario loads (``agents``): whenever
the monitor meets a live network it has not seen (the first after a start, or a newly loaded
one), it watches every node a bound key of that network speaks for, silence counted from then,
so an agent that died while the server was away still has its node taken down.

Two times are recorded per failure, as Prometheus histograms and in the audit detail:
detection (last heartbeat -> node down) and re-placement (node down decided -> its tasks moved
and committed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

from suanwang.control.awareness import Aggregator
from suanwang.control.ports import Clock
from suanwang.control.stores import Principal, Role

log = logging.getLogger("suanwang.health")

MONITOR = Principal("health-monitor", "system", frozenset({Role.ADMIN}))
"""Who the monitor's changes are recorded as in the audit log."""

_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0, 60.0)


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """When silence becomes suspicion, and suspicion a failure.

    Attributes:
        tick_s: Interval between checks.
        suspect_after_s: Heartbeat age past which a node is suspected.
        down_after_s: Heartbeat age past which a node is taken down.
        command_timeout_s: Longest wait for the writer to apply a node change.
    """

    tick_s: float = 0.25
    suspect_after_s: float = 3.0
    down_after_s: float = 5.0
    command_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if not (self.tick_s > 0 and 0 < self.suspect_after_s <= self.down_after_s):
            raise ValueError("need tick_s > 0 and 0 < suspect_after_s <= down_after_s")


class NodeHealth(StrEnum):
    """What the monitor believes of a node with an agent."""

    UP = "up"
    SUSPECTED = "suspected"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class HealthEvent:
    """One change the monitor made, with its reason and times.

    Attributes:
        node_id: The node.
        state: Its new state.
        at_s: When (the plane's clock).
        reason: Why, in words.
        detection_s: Last heartbeat -> down (down events only).
        replacement_s: Down decided -> its tasks moved and committed (down events only).
        moved: Tasks re-placed (down events), or services that began to move (suspected).
    """

    node_id: str
    state: NodeHealth
    at_s: float
    reason: str
    detection_s: float | None = None
    replacement_s: float | None = None
    moved: int = 0


class WatchedNetwork(Protocol):
    """What the monitor reads of a live network: its verified reports, under their lock."""

    @property
    def aggregator(self) -> Aggregator:
        """Reports and their ages, and the key ring of bound agents (use under the lock)."""
        ...

    @property
    def aggregator_lock(self) -> threading.Lock:
        """Serialises the aggregator between threads."""
        ...


class MetricsRegistry(Protocol):
    """Where the monitor's Prometheus metrics are registered."""

    @property
    def registry(self) -> CollectorRegistry:
        """The registry of one server."""
        ...


class HealthPlane(Protocol):
    """What the monitor needs of the control plane (``ControlPlane`` implements it).

    Contract:
        * ``live`` is the live network served now; it is replaced whole when a scenario is
          loaded (the monitor notices by identity), never mutated under the monitor.
        * ``record``, ``drain_node`` and ``set_node`` run as commands of the single writer and
          return futures that resolve once their effects are committed (``drain_node`` and
          ``set_node`` with the number of tasks that began to move or were re-placed).
        * Every member is safe to call from the monitor's own thread.
    """

    @property
    def clock(self) -> Clock:
        """Time of heartbeats and of the monitor's events."""
        ...

    @property
    def metrics(self) -> MetricsRegistry:
        """Where the detection and re-placement histograms go."""
        ...

    @property
    def live(self) -> WatchedNetwork:
        """The live network served now."""
        ...

    def record(self, who: Principal, action: str, target: str, detail: str = "") -> Future[None]:
        """Append an audit entry through the writer."""
        ...

    def drain_node(self, who: Principal, node_id: str, reason: str) -> Future[int]:
        """Place nothing new on a node and start moving its long-running services."""
        ...

    def set_node(self, who: Principal, node_id: str, up: bool, reason: str) -> Future[int]:
        """Take a node down (its tasks re-placed) or bring it back up."""
        ...


class HealthMonitor:
    """Watches heartbeat ages and heals (see the module docstring).

    Args:
        plane: The control plane whose nodes are watched.
        config: Thresholds and tick.
        history: Most recent events kept in ``events``.
    """

    def __init__(self, plane: HealthPlane, config: HealthConfig, history: int = 1000) -> None:
        self.plane, self.config = plane, config
        self.events: deque[HealthEvent] = deque(maxlen=history)
        self._lock = threading.Lock()
        self._watched: dict[str, float] = {}  # node -> when its agent bound its key
        self._state: dict[str, NodeHealth] = {}
        self._live: WatchedNetwork | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        registry = plane.metrics.registry
        self.detection_seconds = Histogram(
            "suanwang_failure_detection_seconds",
            "Last heartbeat of a node -> the node taken down.",
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.replacement_seconds = Histogram(
            "suanwang_replacement_seconds",
            "A node taken down -> its tasks re-placed and committed.",
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.transitions = Counter(
            "suanwang_node_health_transitions",
            "Health changes of nodes with agents, by new state.",
            ["state"],
            registry=registry,
        )

    def watch(self, node_id: str) -> None:
        """Start watching ``node_id`` (its agent just bound a key); silence counts from now."""
        with self._lock:
            self._watched[node_id] = self.plane.clock.now_s()
            self._state.setdefault(node_id, NodeHealth.UP)

    def state(self, node_id: str) -> NodeHealth | None:
        """What the monitor believes of ``node_id`` (None: not watched)."""
        with self._lock:
            return self._state.get(node_id)

    def start(self) -> None:
        """Check on a thread of its own every ``tick_s`` until ``stop``."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="health-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop checking (a change under way is finished first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.config.tick_s):
            try:
                self.check()
            except Exception:  # a failed pass must not end self-healing for good
                log.exception("health check failed")

    def _ages(self) -> dict[str, float]:
        live = self.plane.live
        now_s = self.plane.clock.now_s()
        with live.aggregator_lock:
            bound = live.aggregator.verifier.keyring.agent_nodes()
        with self._lock:
            if live is not self._live:
                # A live network not seen yet: what was known of another does not apply, and
                # its nodes with bound agents are watched from now (a restart, a load).
                if self._live is not None:
                    self._watched.clear()
                    self._state.clear()
                for node in bound:  # those bound since (``watch``) keep their own time
                    self._watched.setdefault(node, now_s)
                    self._state.setdefault(node, NodeHealth.UP)
                self._live = live
            watched = dict(self._watched)
        with live.aggregator_lock:
            aggregator = live.aggregator
            return {
                node: min(aggregator.age_s(node), now_s - bound_s)
                for node, bound_s in watched.items()
                if node in aggregator.index
            }

    def check(self) -> list[HealthEvent]:
        """One pass over the watched nodes; returns the changes made."""
        config, changes = self.config, []
        for node, age_s in self._ages().items():
            state = self.state(node)
            if state is NodeHealth.DOWN:
                if age_s < config.suspect_after_s:
                    changes.append(self._up(node, age_s))
            elif age_s > config.down_after_s:
                changes.append(self._down(node, age_s))
            elif state is NodeHealth.UP and age_s > config.suspect_after_s:
                changes.append(self._suspect(node, age_s))
            elif state is NodeHealth.SUSPECTED and age_s < config.suspect_after_s:
                changes.append(self._trust(node, age_s))
        return changes

    def _suspect(self, node: str, age_s: float) -> HealthEvent:
        timeout_s = self.config.command_timeout_s
        reason = f"no heartbeat for {age_s:.2f} s (suspect after {self.config.suspect_after_s} s)"
        self.plane.record(MONITOR, "node.suspected", f"node:{node}", reason).result(timeout_s)
        moving = self.plane.drain_node(MONITOR, node, f"suspected: {reason}").result(timeout_s)
        now_s = self.plane.clock.now_s()
        return self._set(HealthEvent(node, NodeHealth.SUSPECTED, now_s, reason, moved=moving))

    def _trust(self, node: str, age_s: float) -> HealthEvent:
        timeout_s = self.config.command_timeout_s
        reason = f"heartbeat again after {age_s:.2f} s"
        self.plane.record(MONITOR, "node.trusted", f"node:{node}", reason).result(timeout_s)
        self.plane.set_node(MONITOR, node, True, f"trusted again: {reason}").result(timeout_s)
        return self._set(HealthEvent(node, NodeHealth.UP, self.plane.clock.now_s(), reason))

    def _set(self, event: HealthEvent) -> HealthEvent:
        with self._lock:
            self._state[event.node_id] = event.state
        self.events.append(event)
        self.transitions.labels(event.state.value).inc()
        log.info("node %s %s: %s", event.node_id, event.state.value, event.reason)
        return event

    def _down(self, node: str, age_s: float) -> HealthEvent:
        started = time.perf_counter()
        reason = f"no heartbeat for {age_s:.2f} s (down after {self.config.down_after_s} s)"
        moved = self.plane.set_node(MONITOR, node, False, reason).result(
            self.config.command_timeout_s
        )
        replacement_s = time.perf_counter() - started
        self.detection_seconds.observe(age_s)
        self.replacement_seconds.observe(replacement_s)
        detail = (
            f"detection {age_s:.3f} s (last heartbeat -> down); "
            f"re-placement {replacement_s:.3f} s for {moved} tasks"
        )
        self.plane.record(MONITOR, "node.healed", f"node:{node}", detail).result(
            self.config.command_timeout_s
        )
        event = HealthEvent(
            node, NodeHealth.DOWN, self.plane.clock.now_s(), reason, age_s, replacement_s, moved
        )
        return self._set(event)

    def _up(self, node: str, age_s: float) -> HealthEvent:
        reason = f"heartbeat again (age {age_s:.2f} s): back in the pool"
        self.plane.set_node(MONITOR, node, True, reason).result(self.config.command_timeout_s)
        return self._set(HealthEvent(node, NodeHealth.UP, self.plane.clock.now_s(), reason))
