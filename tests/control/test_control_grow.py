"""A topology that grows at runtime: the ledger, the aggregator and the link figures carry over."""

from __future__ import annotations

import pytest

from suanwang.control.awareness import Aggregator
from suanwang.control.netmetrics import NetworkMetricAgent
from suanwang.control.ports import ManualClock
from suanwang.model import Link, Node, Site, Tier, Topology
from suanwang.scheduling.reservations import Reservation, Reservations
from suanwang.security import KeyPair, KeyRing, MetricReport, Role, Verifier, sign_report

T0 = 1_700_000_000.0
OLD = Topology(
    sites=[Site("a", Tier.EDGE), Site("b", Tier.REGION)],
    nodes=[Node("n1", "a", cpu_cores=8, mem_gib=32), Node("n2", "b", cpu_cores=16, mem_gib=64)],
    links=[Link("ab", "a", "b", bandwidth_mbps=1000, latency_ms=8)],
)
NEW = OLD.updated(
    Site("c", Tier.EDGE),
    Node("n3", "c", cpu_cores=4, mem_gib=8),
    Link("ac", "a", "c", bandwidth_mbps=100, latency_ms=2),
)
OTHER = Topology(sites=[Site("a", Tier.EDGE)], nodes=[Node("n2", "a", cpu_cores=1, mem_gib=1)])


def test_the_ledger_carries_every_hold_and_flow_to_a_grown_topology() -> None:
    ledger = Reservations(OLD.arrays)
    ledger.reserve(Reservation("t1", 1, 4.0, 16.0, links=(0,), bandwidth_mbps=200.0))
    ledger.input_moving("t1")
    carried = ledger.carried_to(NEW.arrays)
    assert carried.held("t1") == ledger.held("t1")
    assert carried.cpu_cores.tolist() == [0.0, 4.0, 0.0]
    assert carried.link_mbps.tolist() == [200.0, 0.0]
    assert carried.link_flows.tolist() == [1.0, 0.0]
    assert carried.release("t1") is not None
    assert carried.cpu_cores.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="does not extend"):
        ledger.carried_to(OTHER.arrays)


def test_the_aggregator_keeps_its_values_and_the_new_node_starts_unreported() -> None:
    clock = ManualClock(T0)
    agent = KeyPair.generate(Role.AGENT)
    keyring = KeyRing()
    keyring.bind_agent(agent.public_bytes, "n1")
    aggregator = Aggregator.from_topology(OLD, Verifier(keyring, max_age_s=1e9), clock)
    report = MetricReport("n1", {"load_ratio": 0.25}, clock.now_s())
    assert aggregator.ingest(sign_report(agent, report)).verdict.ok
    grown = aggregator.grown(NEW)
    assert grown.node_ids == ("n1", "n2", "n3")
    assert grown.verifier is aggregator.verifier
    assert grown.latest("n1")["load_ratio"] == 0.25
    assert grown.latest("n3") == {}
    assert grown.snapshot().cpu_capacity_cores.tolist() == [8.0, 16.0, 4.0]
    with pytest.raises(ValueError, match="does not extend"):
        aggregator.grown(OTHER)


def test_link_figures_measured_before_the_growth_are_kept() -> None:
    agent = NetworkMetricAgent(OLD.arrays, ManualClock(T0))
    agent.observe("ab", latency_ms=3.0)
    grown = agent.grown(NEW.arrays).metrics()
    assert grown.latency_ms.tolist() == [3.0, 2.0]
    assert grown.measured.tolist() == [True, False]
    with pytest.raises(ValueError, match="does not extend"):
        agent.grown(OTHER.arrays)
