"""Round-trip time over loopback HTTP (127.0.0.1 only, bounded in count and time)."""

import math
import socket

import pytest

from suanwang.control.netmetrics import NetworkMetricAgent
from suanwang.control.ports import ManualClock
from suanwang.execution.netprobe import LOOPBACK, EchoServer, RttStats, measure_rtt, probe_link
from suanwang.model import Link, Site, Tier, Topology


def test_rtt_over_loopback() -> None:
    with EchoServer() as server:
        assert server.host == LOOPBACK
        stats = measure_rtt(server.host, server.port, count=20, timeout_s=2.0, budget_s=10.0)
    assert len(stats.samples_ms) == 20
    assert stats.failed == 0
    assert 0 < stats.min_ms <= stats.median_ms <= stats.max_ms < 2000
    assert stats.loss_ratio == 0.0


def test_unreachable_peer_counts_as_loss() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]
    stats = measure_rtt(LOOPBACK, port, count=3, timeout_s=0.5, budget_s=5.0)
    assert stats.samples_ms == ()
    assert stats.failed == 3
    assert stats.loss_ratio == 1.0
    assert math.isinf(stats.median_ms)


def test_count_is_bounded() -> None:
    with pytest.raises(ValueError, match="count"):
        measure_rtt(LOOPBACK, 1, count=0)
    with pytest.raises(ValueError, match="count"):
        measure_rtt(LOOPBACK, 1, count=10_000)
    assert RttStats(()).loss_ratio == 0.0


def test_probe_feeds_the_network_metric_agent() -> None:
    topology = Topology(
        sites=[Site("a", Tier.EDGE), Site("b", Tier.EDGE)],
        links=[Link("ab", "a", "b", bandwidth_mbps=100, latency_ms=50)],
    )
    agent = NetworkMetricAgent(topology.arrays, ManualClock(0.0))
    with EchoServer() as server:
        stats = probe_link(agent, "ab", server.host, server.port, count=5)
    metrics = agent.metrics()
    assert metrics.measured[0]
    assert metrics.latency_ms[0] == pytest.approx(stats.median_ms / 2)
    assert metrics.latency_ms[0] < 50


def test_a_slow_echo_server_really_raises_the_measured_rtt() -> None:
    from suanwang.execution.netprobe import probe_peers, rtt_report

    with EchoServer() as fast, EchoServer(delay_s=0.02) as slow:
        measured = probe_peers(
            [("fast", fast.host, fast.port), ("slow", slow.host, slow.port)], count=3
        )
    by_link = {item.link_id: item.stats for item in measured}
    assert by_link["slow"].min_ms >= 20.0
    assert by_link["fast"].median_ms < by_link["slow"].median_ms
    report = rtt_report("n1", measured, 5.0)
    assert report.values["rtt_ms:slow"] == by_link["slow"].median_ms
    assert report.values["loss_ratio:fast"] == 0.0
    with pytest.raises(ValueError, match="delay_s"):
        EchoServer(delay_s=-1.0)


def test_a_link_whose_every_probe_failed_reports_its_loss_only() -> None:
    from suanwang.execution.netprobe import probe_peers, rtt_report

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]
    report = rtt_report("n1", probe_peers([("gone", LOOPBACK, port)], count=2, timeout_s=0.5), 1.0)
    assert report.values == {"loss_ratio:gone": 1.0}
