"""Live link measurement: which agent probes which link, and the RTTs they report.

Every agent that probes announces its echo endpoint (``suanwang.execution.netprobe``). A link
between two sites is probed by the agent of a node at its ``a`` end, against an echo endpoint
at its ``b`` end (the first node of that site, in topology order, that announced one), so each
link has one prober and its figure does not flip between two measurements. Links to a network
element or to a site without an agent are not probed: they keep their configured figures.

Agents report RTTs as signed metric reports (the same envelope, key binding and replay checks
as their load reports) whose values are ``rtt_ms:<link id>`` and ``loss_ratio:<link id>``; a
report naming a link its node does not probe is refused whole. Accepted figures go to the
``NetworkMetricAgent`` (one-way latency = RTT / 2), which the state feed reads and dampens.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from suanwang.control.awareness import Aggregator
from suanwang.control.netmetrics import NetworkMetricAgent
from suanwang.model import Topology
from suanwang.security import RejectReason, SignedEnvelope, Verdict

RTT_PREFIX = "rtt_ms:"
LOSS_PREFIX = "loss_ratio:"


@dataclass(frozen=True, slots=True)
class Peer:
    """A link an agent probes and the echo endpoint across it."""

    link_id: str
    host: str
    port: int


class LinkProbes:
    """Echo endpoints of agents, their probe assignments and the RTTs they report.

    Args:
        topology: The live topology.
        aggregator: Its verifier checks the agents' signed RTT reports.
        network: Where accepted figures go.
        lock: The aggregator's lock (held around the verifier and the network agent).
    """

    def __init__(
        self,
        topology: Topology,
        aggregator: Aggregator,
        network: NetworkMetricAgent,
        lock: threading.Lock,
    ) -> None:
        self._topology, self._aggregator, self._network = topology, aggregator, network
        self._lock = lock
        self._order = {node_id: i for i, node_id in enumerate(topology.nodes)}
        self._echo: dict[str, tuple[str, int]] = {}
        # The links each site probes, from its ``a`` end to a site at the ``b`` end.
        self._probes: dict[str, list[tuple[str, str]]] = {}
        for link in topology.links.values():
            if link.a in topology.sites and link.b in topology.sites:
                self._probes.setdefault(link.a, []).append((link.id, link.b))

    def announce(self, node_id: str, host: str, port: int) -> None:
        """Record ``node_id``'s agent's echo endpoint (replaces an earlier one).

        Raises:
            KeyError: the node is not in the topology.
            ValueError: the port is out of range.
        """
        if node_id not in self._order:
            raise KeyError(node_id)
        if not 0 < port < 65536:
            raise ValueError(f"port must lie in 1..65535, got {port}")
        with self._lock:
            self._echo[node_id] = (host, port)

    def endpoints(self) -> dict[str, tuple[str, int]]:
        """The echo endpoint announced by each node's agent (a copy)."""
        with self._lock:
            return dict(self._echo)

    def _endpoint_at(self, site_id: str) -> tuple[str, int] | None:
        nodes = [n for n in self._echo if self._topology.nodes[n].site_id == site_id]
        if not nodes:
            return None
        return self._echo[min(nodes, key=self._order.__getitem__)]

    def peers(self, node_id: str) -> list[Peer]:
        """The links ``node_id``'s agent probes now, each with the endpoint across it.

        Raises:
            KeyError: the node is not in the topology.
        """
        site = self._topology.nodes[node_id].site_id
        out = []
        with self._lock:
            for link_id, far in self._probes.get(site, ()):
                endpoint = self._endpoint_at(far)
                if endpoint is not None:
                    out.append(Peer(link_id, *endpoint))
        return out

    def ingest(self, envelope: SignedEnvelope) -> tuple[Verdict, int]:
        """Verify a signed RTT report and record its figures; returns the verdict and links."""
        with self._lock:
            verdict = self._aggregator.verifier.verify(envelope, self._aggregator.clock.now_s())
            report = verdict.report
            if report is None:
                if verdict.ok:
                    verdict = Verdict(RejectReason.MALFORMED, "not a metric report", verdict.key_id)
                return verdict, 0
            node = self._topology.nodes.get(report.node_id)
            mine = {link_id for link_id, _ in self._probes.get(node.site_id, ())} if node else set()
            rtts: dict[str, float] = {}
            losses: dict[str, float] = {}
            for name, value in report.values.items():
                prefix, _, link_id = name.partition(":")
                figures = rtts if f"{prefix}:" == RTT_PREFIX else losses
                if f"{prefix}:" not in (RTT_PREFIX, LOSS_PREFIX) or link_id not in mine:
                    detail = f"{name} is not a figure of a link node {report.node_id} probes"
                    return Verdict(RejectReason.MALFORMED, detail, verdict.key_id), 0
                figures[link_id] = float(value)
            bad = [v for v in rtts.values() if not 0 <= v < float("inf")]
            bad += [v for v in losses.values() if not 0 <= v <= 1]
            if bad:
                return Verdict(RejectReason.MALFORMED, "figure out of range", verdict.key_id), 0
            for link_id, loss in losses.items():
                if link_id not in rtts:  # every request failed: only the loss is known
                    self._network.observe(link_id, loss_ratio=loss)
            for link_id, rtt_ms in rtts.items():
                self._network.observe_rtt(link_id, rtt_ms, losses.get(link_id))
            return verdict, len(losses.keys() | rtts.keys())
