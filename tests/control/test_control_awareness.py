"""The aggregator: verified ingestion, update policies, staleness with an injected clock."""

import numpy as np
import pytest

from suanwang.control.awareness import Aggregator
from suanwang.control.netmetrics import NetworkMetricAgent
from suanwang.control.ports import Clock, ManualClock, SystemClock
from suanwang.measure import (
    CATEGORIES,
    MetricCategory,
    StalenessPolicy,
    UpdateDecision,
    UpdateMode,
    UpdatePolicy,
)
from suanwang.model import Link, Node, Site, Tier, Topology
from suanwang.security import (
    KeyPair,
    KeyRing,
    MetricReport,
    NodeRegistration,
    RejectReason,
    Role,
    Verifier,
    sign_registration,
    sign_report,
)

T0 = 1_700_000_000.0
TOPOLOGY = Topology(
    sites=[Site("a", Tier.EDGE), Site("b", Tier.REGION)],
    nodes=[Node("n1", "a", cpu_cores=8, mem_gib=32), Node("n2", "b", cpu_cores=16, mem_gib=64)],
    links=[Link("ab", "a", "b", bandwidth_mbps=1000, latency_ms=8)],
)


class World:
    def __init__(self, policy=None, staleness=None):
        self.clock = ManualClock(T0)
        self.provider = KeyPair.generate(Role.PROVIDER)
        self.agents = {n: KeyPair.generate(Role.AGENT) for n in ("n1", "n2")}
        keyring = KeyRing()
        keyring.trust_provider(self.provider.public_key)
        self.aggregator = Aggregator.from_topology(
            TOPOLOGY,
            Verifier(keyring, max_age_s=1e9),
            self.clock,
            policy=policy,
            staleness=staleness or StalenessPolicy(30.0, 120.0, 0.5),
        )
        for node_id, agent in self.agents.items():
            registration = NodeRegistration(node_id, agent.public_bytes)
            envelope = sign_registration(self.provider, registration, self.clock.now_s())
            assert self.aggregator.register(envelope).ok

    def report(self, node_id, **values):
        report = MetricReport(node_id, values, self.clock.now_s())
        return sign_report(self.agents[node_id], report)

    def send(self, node_id, **values):
        return self.aggregator.ingest(self.report(node_id, **values))


def test_clocks_follow_the_port():
    assert isinstance(SystemClock(), Clock)
    assert isinstance(ManualClock(), Clock)
    clock = ManualClock(5.0)
    assert clock.advance(2.5) == 7.5 == clock.now_s()
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1.0)


def test_verified_reports_fill_the_snapshot():
    world = World()
    outcome = world.send("n1", cpu_free_cores=6.0, mem_free_gib=20.0, load_ratio=0.25, rtt_ms=4.0)
    assert outcome.verdict.ok
    assert outcome.decision is UpdateDecision.APPLY
    snapshot = world.aggregator.snapshot()
    assert snapshot.node_ids == ("n1", "n2")
    i = snapshot.index["n1"]
    assert snapshot.cpu_free_cores[i] == 6.0
    assert snapshot.mem_free_gib[i] == 20.0
    assert snapshot.load_ratio[i] == 0.25
    assert snapshot.cpu_capacity_cores.tolist() == [8.0, 16.0]
    assert 0 < snapshot.l2[i] <= 10
    assert not np.isnan(snapshot.l1_of(MetricCategory.COMMUNICATION)[i])
    assert np.isnan(snapshot.l1_of(MetricCategory.SERVICE)[i])
    assert snapshot.metric("rtt_ms")[i] == 4.0
    assert snapshot.usable.tolist() == [True, False]  # n2 never reported
    assert snapshot.age_s[1] == np.inf
    assert snapshot.l2[1] == 0.0
    assert snapshot.row("n1")["l2"] == snapshot.l2[i]
    with pytest.raises(ValueError, match="read-only"):
        snapshot.l2[0] = 1.0
    with pytest.raises(KeyError):
        snapshot.metric("nope")
    assert world.aggregator.latest("n1")["load_ratio"] == 0.25


def test_free_capacity_is_derived_from_load_when_missing():
    world = World()
    world.send("n2", load_ratio=0.75)
    snapshot = world.aggregator.snapshot()
    assert snapshot.cpu_free_cores[1] == pytest.approx(4.0)
    world.send("n1", cpu_free_cores=2.0)
    world.clock.advance(11)
    world.send("n1", cpu_free_cores=2.0)
    assert world.aggregator.snapshot().load_ratio[0] == pytest.approx(0.75)


def test_rejected_reports_do_not_touch_state():
    world = World()
    intruder = KeyPair.generate(Role.AGENT)
    forged = sign_report(intruder, MetricReport("n1", {"load_ratio": 0.0}, T0))
    assert world.aggregator.ingest(forged).verdict.reason is RejectReason.UNKNOWN_KEY
    wrong_node = sign_report(world.agents["n1"], MetricReport("n2", {"load_ratio": 0.0}, T0))
    assert world.aggregator.ingest(wrong_node).verdict.reason is RejectReason.NODE_NOT_BOUND
    envelope = world.report("n1", load_ratio=0.5)
    summary = world.aggregator.ingest_many([envelope, envelope, b"junk"])
    assert summary.received == 3
    assert summary.accepted == 1
    assert summary.rejected == {RejectReason.REPLAY: 1, RejectReason.MALFORMED: 1}
    assert summary.decisions == {UpdateDecision.APPLY: 1}
    snapshot = world.aggregator.snapshot()
    assert snapshot.excluded.tolist() == [False, True]


def test_registration_for_an_unknown_node_is_refused():
    world = World()
    stranger = KeyPair.generate(Role.AGENT)
    registration = NodeRegistration("n9", stranger.public_bytes, cpu_cores=4)
    envelope = sign_registration(world.provider, registration, T0)
    assert world.aggregator.register(envelope).reason is RejectReason.NODE_NOT_BOUND
    assert world.aggregator.verifier.keyring.agent(stranger.key_id) is None


def test_silent_node_is_penalised_then_excluded():
    world = World()
    world.send("n1", cpu_free_cores=8.0, load_ratio=0.0)
    world.send("n2", cpu_free_cores=8.0, load_ratio=0.0)
    fresh = world.aggregator.snapshot()
    assert not fresh.stale.any()
    assert fresh.usable.all()
    world.clock.advance(75.0)  # n2 keeps reporting, n1 goes silent
    world.send("n2", cpu_free_cores=8.0, load_ratio=0.0)
    stale = world.aggregator.snapshot()
    assert stale.stale.tolist() == [True, False]
    assert stale.excluded.tolist() == [False, False]
    assert stale.staleness_factor[0] == pytest.approx(0.75)
    assert stale.l2[0] == pytest.approx(0.75 * fresh.l2[0])
    assert stale.l1[0, CATEGORIES.index(MetricCategory.COMPUTE)] == pytest.approx(
        0.75 * fresh.l1[0, CATEGORIES.index(MetricCategory.COMPUTE)]
    )
    assert world.aggregator.age_s("n1") == 75.0
    world.clock.advance(50.0)
    world.send("n2", cpu_free_cores=8.0, load_ratio=0.0)
    gone = world.aggregator.snapshot()
    assert gone.excluded.tolist() == [True, False]
    assert gone.l2[0] == 0.0
    assert gone.cpu_free_cores[0] == 0.0
    assert gone.load_ratio[0] == 1.0
    world.send("n1", cpu_free_cores=8.0, load_ratio=0.0)  # it comes back
    assert world.aggregator.snapshot().usable.all()


def test_interval_policy_applies_at_most_once_per_interval():
    world = World(UpdatePolicy(UpdateMode.INTERVAL, interval_s=10.0))
    assert world.send("n1", load_ratio=0.1).decision is UpdateDecision.APPLY
    world.clock.advance(5)
    assert world.send("n1", load_ratio=0.9).decision is UpdateDecision.SKIP
    snapshot = world.aggregator.snapshot()
    assert snapshot.load_ratio[0] == 0.1
    assert snapshot.age_s[0] == 0.0  # a skipped report still proves the node alive
    world.clock.advance(5)
    assert world.send("n1", load_ratio=0.9).decision is UpdateDecision.APPLY
    assert world.aggregator.snapshot().load_ratio[0] == 0.9


def test_threshold_policy_applies_big_changes_at_once():
    world = World(UpdatePolicy(UpdateMode.THRESHOLD, interval_s=60.0, threshold_ratio=0.2))
    world.send("n1", load_ratio=0.5)
    world.clock.advance(1)
    assert world.send("n1", load_ratio=0.55).decision is UpdateDecision.SKIP
    assert world.send("n1", load_ratio=0.8).decision is UpdateDecision.APPLY
    assert world.aggregator.snapshot().load_ratio[0] == 0.8


def test_dampened_policy_holds_flapping_values_until_the_hold_down_ends():
    world = World(UpdatePolicy(UpdateMode.DAMPENED, interval_s=60.0, hold_down_s=5.0))
    world.send("n1", load_ratio=0.2)
    world.clock.advance(1)
    assert world.send("n1", load_ratio=0.9).decision is UpdateDecision.HOLD
    world.clock.advance(1)
    assert world.send("n1", load_ratio=0.7).decision is UpdateDecision.HOLD
    assert world.aggregator.snapshot().load_ratio[0] == 0.2  # still held back
    world.clock.advance(3)
    assert world.aggregator.snapshot().load_ratio[0] == 0.7  # newest held value, once
    world.clock.advance(1)
    assert world.send("n1", load_ratio=0.2).decision is UpdateDecision.HOLD
    assert world.send("n1", load_ratio=0.7).decision is UpdateDecision.SKIP  # back: drop held
    world.clock.advance(10)
    assert world.aggregator.snapshot().load_ratio[0] == 0.7


def test_network_metric_agent_starts_from_the_topology_and_takes_measurements():
    clock = ManualClock(T0)
    agent = NetworkMetricAgent(TOPOLOGY.arrays, clock)
    configured = agent.metrics()
    assert configured.latency_ms.tolist() == [8.0]
    assert not configured.measured.any()
    assert configured.records("ab", T0)[0].source == "nominal"
    clock.advance(1)
    agent.observe_rtt("ab", 6.0)
    agent.observe("ab", loss_ratio=0.01)
    measured = agent.metrics()
    assert measured.latency_ms[0] == 3.0
    assert measured.loss_ratio[0] == 0.01
    assert measured.bandwidth_mbps[0] == 1000.0
    assert measured.measured[0]
    assert measured.measured_at_s[0] == T0 + 1
    assert configured.latency_ms[0] == 8.0  # earlier copies do not change
    assert measured.records("ab", T0)[0].source == "directly-measured"
    with pytest.raises(ValueError, match="negative"):
        agent.observe("ab", latency_ms=-1.0)
    with pytest.raises(KeyError):
        agent.observe("zz", latency_ms=1.0)


def test_snapshot_scores_follow_the_one_configuration():
    from suanwang.measure import AggregationSpec, MetricConfig, l1_scores, l2_scores

    config = MetricConfig(score_aggregation=AggregationSpec("min"))
    clock = ManualClock(T0)
    keyring = KeyRing()
    aggregator = Aggregator(["x"], Verifier(keyring), clock, config=config)
    report = MetricReport("x", {"load_ratio": 0.1, "rtt_ms": 80.0}, T0)
    assert aggregator.apply(report) is UpdateDecision.APPLY
    snapshot = aggregator.snapshot()
    expected_l1 = l1_scores(snapshot.metric_types, snapshot.metrics, config)
    np.testing.assert_allclose(snapshot.l1, expected_l1)
    np.testing.assert_allclose(snapshot.l2, l2_scores(expected_l1, config))
    assert snapshot.l2[0] == pytest.approx(np.nanmin(expected_l1[0]))


def test_snapshot_refuses_misshapen_arrays():
    from suanwang.measure import Snapshot

    world = World()
    snapshot = world.aggregator.snapshot()
    fields = {name: getattr(snapshot, name) for name in Snapshot.__slots__}
    fields["l2"] = np.zeros(3)
    with pytest.raises(ValueError, match="shape"):
        Snapshot(**fields)
