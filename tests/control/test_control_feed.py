"""The state feed: snapshot, hour and dampened link latency reach a ClusterState per tick."""

from __future__ import annotations

import numpy as np
import pytest

from suanwang.control.awareness import Aggregator
from suanwang.control.feed import LatencyDamping, StateFeed, utc_offsets_h
from suanwang.control.netmetrics import NetworkMetricAgent
from suanwang.control.ports import ManualClock
from suanwang.measure import StalenessPolicy
from suanwang.model import GeoPosition, Link, Node, Precision, Site, TaskSpec, Tier, Topology
from suanwang.scheduling import ClusterState, Request, Scheduler, resolve_profile
from suanwang.security import KeyRing, MetricReport, Verifier

# 2023-11-14 22:13:20 UTC
T0 = 1_700_000_000.0
HOUR_T0 = 22

# u - a - c and u - b - c; a is in the east (UTC+8 by longitude), the others have no position
TOPOLOGY = Topology(
    sites=[
        Site("u", Tier.TERMINAL),
        Site("a", Tier.EDGE, geo=GeoPosition(30.0, 120.0)),
        Site("b", Tier.EDGE, geo=GeoPosition(40.0, -75.0)),
        Site("c", Tier.REGION),
    ],
    nodes=[
        Node("na", "a", cpu_cores=4, mem_gib=16),
        Node("nb", "b", cpu_cores=4, mem_gib=16),
        Node("nc", "c", cpu_cores=16, mem_gib=64, cpu_peak_gflops={Precision.FP32: 100.0}),
    ],
    links=[
        Link("ua", "u", "a", bandwidth_mbps=1000, latency_ms=1),
        Link("ub", "u", "b", bandwidth_mbps=1000, latency_ms=2),
        Link("ac", "a", "c", bandwidth_mbps=1000, latency_ms=5),
        Link("bc", "b", "c", bandwidth_mbps=1000, latency_ms=5),
    ],
)
DAMPING = LatencyDamping(threshold_ratio=0.2, threshold_ms=1.0, hold_down_s=5.0, max_age_s=60.0)


class Rig:
    def __init__(self, **feed_options: object) -> None:
        self.clock = ManualClock(T0)
        self.aggregator = Aggregator.from_topology(
            TOPOLOGY,
            Verifier(KeyRing()),
            self.clock,
            staleness=StalenessPolicy(30.0, 120.0, 0.5),
        )
        self.network = NetworkMetricAgent(TOPOLOGY.arrays, self.clock)
        self.state = ClusterState(TOPOLOGY)
        self.feed = StateFeed(
            self.aggregator,
            self.clock,
            network=self.network,
            damping=DAMPING,
            **feed_options,  # type: ignore[arg-type]
        )

    def report(self, node_id: str, **values: float) -> None:
        self.aggregator.apply(MetricReport(node_id, values, self.clock.now_s()))

    def tick(self, advance_s: float = 0.0) -> None:
        self.clock.advance(advance_s)
        self.feed.tick(self.state)

    def placed_path(self) -> tuple[str, ...]:
        profile = resolve_profile("cats-joint")
        scheduler = Scheduler(profile, self.state)
        spec = TaskSpec(work_gflop=1.0, cpu_cores=8.0, ingress_site="u")  # only nc fits
        decision = scheduler.schedule(Request(f"t{self.clock.now_s()}", spec))
        assert decision.placement is not None
        scheduler.release(decision.placement.task_id)
        return decision.placement.segments


def test_the_snapshot_reaches_the_state() -> None:
    rig = Rig()
    rig.report("na", load_ratio=0.75, cpu_free_cores=1.0)
    tick = rig.feed.tick(rig.state)
    snapshot = rig.state.snapshot
    assert snapshot is not None
    assert snapshot.load_ratio.tolist() == [0.75, 0.0, 0.0]  # nb, nc never reported: no load
    assert rig.state.cpu_utilisation()[0] == 0.75
    assert rig.state.free_cpu_cores()[0] == pytest.approx(1.1)  # measured, with its slack
    assert rig.state.free_cpu_cores()[1:].tolist() == [4.0, 16.0]
    assert rig.state.usable().all()
    assert (tick.reported, tick.stale, tick.excluded) == (1, 0, 0)


def test_a_silent_node_is_penalised_then_excluded() -> None:
    rig = Rig()
    rig.report("na", load_ratio=0.0)
    rig.tick(60.0)
    snapshot = rig.state.snapshot
    assert snapshot is not None
    assert snapshot.stale[0]
    assert 0.5 < snapshot.staleness_factor[0] < 1.0
    assert rig.state.usable()[0]
    rig.tick(60.0)
    assert rig.feed.last is not None
    assert rig.feed.last.excluded == 1
    assert rig.state.usable().tolist() == [False, True, True]
    rig.report("na", load_ratio=0.0)  # heard again
    rig.tick()
    assert rig.state.usable().all()


def test_unreported_nodes_can_be_excluded_instead() -> None:
    rig = Rig(exclude_unreported=True)
    rig.report("nc", load_ratio=0.1)
    rig.tick()
    assert rig.state.usable().tolist() == [False, False, True]


def test_the_hour_moves_with_the_clock_and_each_site_has_its_own() -> None:
    assert utc_offsets_h(TOPOLOGY).tolist() == [8, -5, 0]
    rig = Rig()
    rig.tick()
    assert rig.state.hour_of_day == HOUR_T0
    assert rig.state.node_hour is not None
    assert rig.state.node_hour.tolist() == [(HOUR_T0 + 8) % 24, HOUR_T0 - 5, HOUR_T0]
    rig.tick(3 * 3600.0)
    assert rig.state.hour_of_day == (HOUR_T0 + 3) % 24
    assert rig.state.node_hour.tolist() == [(HOUR_T0 + 11) % 24, HOUR_T0 - 2, 1]
    utc_only = Rig(local_hours=False)
    utc_only.tick()
    assert utc_only.state.node_hour is None


def test_a_measured_latency_is_routed_on_only_after_the_hold_down() -> None:
    rig = Rig()
    rig.tick()
    assert rig.placed_path() == ("ua", "ac")
    rig.network.observe_rtt("ac", 40.0)  # 20 ms one way instead of 5
    rig.tick()
    assert rig.state.latency_version == 0  # moved, but not yet for the hold-down
    rig.tick(4.0)
    assert rig.state.latency_version == 0
    rig.network.observe_rtt("ac", 41.0)
    rig.tick(1.0)
    assert rig.state.latency_version == 1
    assert rig.state.link_latency_ms().tolist() == [1.0, 2.0, 20.5, 5.0]
    assert rig.placed_path() == ("ub", "bc")
    assert rig.feed.last is not None
    assert (rig.feed.last.links_measured, rig.feed.last.links_changed) == (1, 1)


def test_small_changes_and_flapping_are_not_applied() -> None:
    rig = Rig()
    rig.network.observe_rtt("ac", 11.6)  # 5.8 ms: more than 1 ms, but under 20 %
    rig.network.observe_rtt("ua", 3.6)  # 1.8 ms: 80 %, but under 1 ms
    for _ in range(3):
        rig.tick(10.0)
    assert rig.state.latency_version == 0
    for step in range(6):  # 20 ms, then back to 5, every 3 s: never held for 5 s
        rig.network.observe_rtt("ac", 40.0 if step % 2 == 0 else 10.0)
        rig.tick(3.0)
    assert rig.state.latency_version == 0


def test_an_old_measurement_gives_way_to_the_configured_figure() -> None:
    rig = Rig()
    rig.network.observe_rtt("ac", 40.0)
    rig.tick()
    rig.tick(5.0)
    assert rig.state.link_latency_ms()[2] == 20.0
    rig.tick(60.0)  # older than max_age_s: configured again, after its own hold-down
    rig.tick(5.0)
    assert rig.state.link_latency_ms()[2] == 5.0
    assert rig.state.latency_version == 2
    assert rig.placed_path() == ("ua", "ac")


def test_a_snapshot_must_line_up_with_the_topology() -> None:
    rig = Rig()
    other = Topology(sites=[Site("x", Tier.EDGE)], nodes=[Node("nx", "x", cpu_cores=1, mem_gib=1)])
    with pytest.raises(ValueError, match="nodes differ"):
        rig.feed.tick(ClusterState(other))


def test_damping_figures_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        LatencyDamping(hold_down_s=-1.0)
    assert np.isfinite(DAMPING.max_age_s)
