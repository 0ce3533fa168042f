"""The twin's state feed: the hour reaches the scheduling state through the live StateFeed."""

from __future__ import annotations

import numpy as np

from suanwang.scenario import load_builtin
from suanwang.scheduling import ClusterState
from suanwang.twin import TwinConfig
from suanwang.twin.feed import TwinClock, twin_feed
from suanwang.twin.loop import EventLoop
from suanwang.twin.run import Twin


def test_the_clock_reads_the_start_hour_plus_simulated_time() -> None:
    loop = EventLoop()
    clock = TwinClock(loop, 20.5)
    assert clock.now_s() == 20.5 * 3600
    loop.run(90.0)
    assert clock.now_s() == 20.5 * 3600 + 90.0


def test_each_tick_gives_every_node_the_scenario_hour_and_no_measured_load() -> None:
    topology = load_builtin("campus").topology
    loop = EventLoop()
    state = ClusterState(topology)
    feed = twin_feed(topology, loop, 20.0)
    feed.tick(state)
    assert state.hour_of_day == 20
    assert state.node_hour is None  # the scenario's hours are local to every site
    loop.run(5 * 3600.0)
    tick = feed.tick(state)
    assert state.hour_of_day == tick.hour_utc == 1
    assert tick.reported == 0  # no agents in the twin: every node neutral, the ledger decides
    np.testing.assert_array_equal(state.free_cpu_cores(), topology.arrays.node_cpu_cores)


def test_a_twin_run_moves_its_hour_at_the_hour() -> None:
    config = TwinConfig(duration_s=120.0, start_hour=23.99, seed=1)
    twin = Twin(load_builtin("cats-arvr"), config)
    assert twin.state.hour_of_day == 23
    twin.run()
    assert twin.feed.last is not None
    assert twin.feed.last.hour_utc == 0
    assert twin.state.hour_of_day == 0
