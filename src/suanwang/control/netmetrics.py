"""Network awareness: per-link latency, bandwidth and loss (the CATS network metric agent)."""

from __future__ import annotations

import numpy as np

from suanwang.control.ports import Clock
from suanwang.measure import LinkMetrics
from suanwang.model import TopologyArrays


class NetworkMetricAgent:
    """Latency, bandwidth and loss of every link (the CATS network metric agent, C-NMA).

    Starts from the figures configured in the topology; measurements (e.g. RTTs timed by
    ``suanwang.execution.netprobe`` and posted by node agents) replace them link by link. Not
    thread-safe: the live plane uses it under the aggregator's lock; the state feed reads it
    (``metrics``) once per tick and dampens what it routes on.
    """

    def __init__(self, arrays: TopologyArrays, clock: Clock) -> None:
        self.clock = clock
        base = LinkMetrics.from_topology(arrays)
        self._index = base.index
        self._link_ids = base.link_ids
        self._latency_ms = base.latency_ms.copy()
        self._bandwidth_mbps = base.bandwidth_mbps.copy()
        self._loss_ratio = base.loss_ratio.copy()
        self._measured_at_s = np.full(len(base.link_ids), np.nan)

    def grown(self, arrays: TopologyArrays) -> NetworkMetricAgent:
        """An agent over ``arrays``' links that keeps this one's figures of its own links.

        ``arrays`` lists this agent's links first, in order, then new ones (configured
        figures, unmeasured).

        Raises:
            ValueError: ``arrays`` does not start with this agent's links.
        """
        n = len(self._link_ids)
        if tuple(arrays.link_ids[:n]) != tuple(self._link_ids):
            raise ValueError("the new topology does not extend the agent's links")
        grown = NetworkMetricAgent(arrays, self.clock)
        for name in ("_latency_ms", "_bandwidth_mbps", "_loss_ratio", "_measured_at_s"):
            getattr(grown, name)[:n] = getattr(self, name)
        return grown

    def observe(
        self,
        link_id: str,
        *,
        latency_ms: float | None = None,
        bandwidth_mbps: float | None = None,
        loss_ratio: float | None = None,
    ) -> None:
        """Record measured figures of one link (figures left None keep their value).

        Raises:
            KeyError: unknown link.
            ValueError: a negative figure or a loss outside [0, 1].
        """
        i = self._index[link_id]
        if any(v is not None and v < 0 for v in (latency_ms, bandwidth_mbps, loss_ratio)):
            raise ValueError("link figures must not be negative")
        if loss_ratio is not None and loss_ratio > 1:
            raise ValueError(f"loss_ratio must lie in [0, 1], got {loss_ratio}")
        for array, value in (
            (self._latency_ms, latency_ms),
            (self._bandwidth_mbps, bandwidth_mbps),
            (self._loss_ratio, loss_ratio),
        ):
            if value is not None:
                array[i] = value
        self._measured_at_s[i] = self.clock.now_s()

    def observe_rtt(self, link_id: str, rtt_ms: float, loss_ratio: float | None = None) -> None:
        """Record a measured round-trip time: one-way latency is taken as half of it.

        Raises:
            KeyError: unknown link.
            ValueError: a negative or non-finite RTT, or a loss outside [0, 1].
        """
        if not np.isfinite(rtt_ms):
            raise ValueError(f"rtt_ms must be finite, got {rtt_ms}")
        self.observe(link_id, latency_ms=rtt_ms / 2.0, loss_ratio=loss_ratio)

    def has_link(self, link_id: str) -> bool:
        """Whether ``link_id`` is one of this agent's links."""
        return link_id in self._index

    def metrics(self) -> LinkMetrics:
        """An immutable copy of the current figures."""
        return LinkMetrics(
            link_ids=self._link_ids,
            index=self._index,
            latency_ms=self._latency_ms.copy(),
            bandwidth_mbps=self._bandwidth_mbps.copy(),
            loss_ratio=self._loss_ratio.copy(),
            measured=~np.isnan(self._measured_at_s),
            measured_at_s=self._measured_at_s.copy(),
        )
