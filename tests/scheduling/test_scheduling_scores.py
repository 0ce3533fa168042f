"""Score plugins: the direction of each (which node scores best), with raw values by hand.

``score_topology`` (conftest.py) has three 8-core nodes; for the base warm task (4 cores,
10 GFLOP at fp32, no data): near 2 + 250 = 252 ms, mid 20 + 50 = 70 ms, far 60 + 12.5 = 72.5 ms;
far is the cheapest and cleanest, near the dearest and dirtiest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from suanwang.model import Site, TaskClass, TaskSpec, Tier, Topology
from suanwang.scheduling import (
    ClusterState,
    Request,
    Scheduler,
    ScorePlugin,
    scale_scores,
)
from suanwang.scheduling.registry import IN_TREE, build_plugin

NODES = ("near", "mid", "far")
BASE: dict[str, Any] = {"work_gflop": 10.0, "cpu_cores": 4.0, "mem_gib": 1.0, "ingress_site": "U"}


@dataclass(frozen=True)
class Row:
    """A score plugin, a task and background load -> best and worst node (and raw values)."""

    plugin: str
    best: str
    worst: str | None
    task: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    holds: Mapping[str, float] = dataclasses.field(default_factory=dict)
    raw: tuple[float, float, float] | None = None
    """Raw values of near, mid, far, where they are round numbers."""

    @property
    def id(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.task.items())
        return f"{self.plugin}{':' + extra if extra else ''}"


ROWS = [
    Row("nearest", "near", "far", raw=(2.0, 20.0, 60.0)),
    Row("compute-only", "far", "near", raw=(250.0, 50.0, 12.5)),
    Row("end-to-end", "mid", "near", raw=(252.0, 70.0, 72.5)),
    # price x share x hours: 10 x 0.5 x 250 ms, 4 x 0.5 x 50 ms, 2 x 0.5 x 12.5 ms
    Row("cost", "far", "near", raw=(1250 / 3.6e6, 100 / 3.6e6, 12.5 / 3.6e6)),
    # power x share x PUE x seconds x g/kWh: 93.75 J x 800, 9.75 J x 600, 2.75 J x 100
    Row("carbon", "far", "near", raw=(93.75 / 3.6e6 * 800, 9.75 / 3.6e6 * 600, 2.75 / 3.6e6 * 100)),
    # utilisation of the CPUs: near holds 4 of 8 cores, far 2 of 8
    Row("least-loaded", "mid", "near", holds={"near": 4.0, "far": 2.0}, raw=(0.5, 0.0, 0.25)),
    # free share of the cores left after the task: near 0 of 8, mid 4 of 8, far 2 of 8
    Row("best-fit", "near", "mid", holds={"near": 4.0, "far": 2.0}, raw=(0.0, 0.5, 0.25)),
    # |cores share - memory share| after the task: near 0.5 - 8/16, the others 0.5 - 8/64
    Row("balanced-allocation", "near", None, task={"mem_gib": 8.0}, raw=(0.0, 0.375, 0.375)),
    # east-west: hot -> end-to-end; cold -> carbon and cost; warm -> home region, then speed
    Row("east-west", "mid", "near", task={"task_class": TaskClass.HOT}, raw=(252.0, 70.0, 72.5)),
    Row("east-west", "far", "near", task={"task_class": TaskClass.COLD}),
    Row("east-west", "mid", "far", task={"task_class": TaskClass.WARM}),
]


def _state(sw: Any, row: Row) -> ClusterState:
    state = ClusterState(sw.score_topology())
    for node, cores in row.holds.items():
        sw.hold(state, f"background-{node}", node, cores)
    return state


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_score_direction_on_a_cycle(sw: Any, row: Row) -> None:
    state = _state(sw, row)
    plugin = build_plugin(row.plugin, {}, state)
    assert isinstance(plugin, ScorePlugin)
    cycle = sw.cycle_for(state, TaskSpec(**{**BASE, **row.task}))
    raw = np.asarray(plugin.score(cycle), dtype=np.float64)
    if row.raw is not None:
        np.testing.assert_allclose(raw, row.raw, rtol=1e-9)
    scaled = scale_scores(raw, plugin.higher_is_better)
    assert NODES[int(scaled.argmax())] == row.best
    if row.worst is not None:
        assert NODES[int(scaled.argmin())] == row.worst


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_score_direction_through_the_scheduler(sw: Any, row: Row) -> None:
    state = _state(sw, row)
    scheduler = Scheduler(sw.profile(filters=("resource-fit",), scores={row.plugin: 1.0}), state)
    decision = scheduler.schedule(Request("t1", TaskSpec(**{**BASE, **row.task})))
    assert decision.placement is not None
    assert decision.placement.node_id == row.best
    assert decision.score == pytest.approx(100.0)


def test_every_in_tree_score_is_in_the_table() -> None:
    state = ClusterState(Topology([Site("U", Tier.TERMINAL)]))
    scores = {name for name, make in IN_TREE.items() if isinstance(make({}, state), ScorePlugin)}
    assert scores <= {row.plugin for row in ROWS} | {
        "random",
        "round-robin",
        "cats-metric",
        "scarcity",  # stateful: tests/scheduling/test_scheduling_fitness.py
        "link-fit",  # needs paths of several links: tests/scheduling/test_scheduling_fitness.py
        "lease-affinity",  # reads leases: tests/scheduling/test_scheduling_leases.py
        "data-local",  # reads datasets: tests/scheduling/test_scheduling_datasets.py
    }


def test_cats_metric_reads_l2_then_l1_compute_then_the_ledger(sw: Any) -> None:
    topology = sw.score_topology()
    reported = sw.snapshot_excluding(topology, {})
    l1 = np.full((3, len(reported.l1[0])), np.nan)
    l1[0, :] = 4.0  # near: every category -> its L2 counts
    snapshot = dataclasses.replace(
        reported,
        l1=l1,
        l2=np.array([3.0, 9.0, 9.0]),  # mid's and far's L2 carry no L1 data: not used
        age_s=np.array([1.0, 1.0, np.inf]),  # far never reported
    )
    state = ClusterState(topology, snapshot=snapshot)
    sw.hold(state, "background-far", "far", 2.0)
    plugin = build_plugin("cats-metric", {}, state)
    assert isinstance(plugin, ScorePlugin)
    raw = plugin.score(sw.cycle_for(state, TaskSpec(**BASE)))
    # near: L2 3; mid: reported, no L1 at all -> ledger 10 x (1 - 0/8); far: ledger 10 x 6/8
    np.testing.assert_allclose(raw, [3.0, 10.0, 7.5])
    l1 = l1.copy()
    l1[1, 0] = 6.0  # mid now has an L1 compute score but no other category
    state.set_snapshot(dataclasses.replace(snapshot, l1=l1, l2=np.array([3.0, 5.0, 9.0])))
    raw = plugin.score(sw.cycle_for(state, TaskSpec(**BASE)))
    assert raw[1] == pytest.approx(5.0)  # some L1 data: the L2 score


def test_cats_metric_is_neutral_without_measured_state(sw: Any) -> None:
    state = ClusterState(sw.score_topology())
    sw.hold(state, "background-near", "near", 6.0)
    plugin = build_plugin("cats-metric", {}, state)
    assert isinstance(plugin, ScorePlugin)
    raw = plugin.score(sw.cycle_for(state, TaskSpec(**BASE)))
    assert np.ptp(raw) == 0.0


def test_cats_metric_steers_a_profile_away_from_a_poorly_measured_node(sw: Any) -> None:
    topology = sw.score_topology()
    base = sw.snapshot_excluding(topology, {})
    l1 = np.full((3, len(base.l1[0])), 5.0)
    chosen = {}
    for name, l2 in (("equal", [5.0, 5.0, 5.0]), ("mid-poor", [5.0, 0.0, 5.0])):
        snapshot = dataclasses.replace(base, l1=l1, l2=np.array(l2))
        profile = sw.profile(scores={"end-to-end": 1.0, "cats-metric": 1.0})
        scheduler = Scheduler(profile, ClusterState(topology, snapshot=snapshot))
        decision = scheduler.schedule(Request("t1", TaskSpec(**BASE)))
        assert decision.placement is not None
        chosen[name] = decision.placement.node_id
    # end-to-end: mid 70 ms beats far 72.5 ms, until mid's measured score is poor
    assert chosen == {"equal": "mid", "mid-poor": "far"}


def test_measured_load_counts_for_least_loaded(sw: Any) -> None:
    topology = sw.score_topology()
    snapshot = sw.snapshot_excluding(topology, {})
    busy = dataclasses.replace(snapshot, load_ratio=np.array([0.1, 0.9, 0.3]))
    scheduler = Scheduler(
        sw.profile(scores={"least-loaded": 1.0}), ClusterState(topology, snapshot=busy)
    )
    placement = scheduler.schedule(Request("t1", TaskSpec(**BASE))).placement
    assert placement is not None
    assert placement.node_id == "near"


def test_weights_trade_scores_off(sw: Any) -> None:
    # raw nearest: near 2, mid 20, far 60 -> scaled 100, 70, 3.3 (gap over 60);
    # raw compute-only: near 250, mid 50, far 12.5 -> scaled 5, 85, 100 (gap over 250)
    nearest_mid, compute_mid = 100 * (1 - 18 / 60), 100 * (1 - 37.5 / 250)

    def chosen(scores: dict[str, float]) -> tuple[str, float]:
        scheduler = sw.scheduler(sw.score_topology(), scores=scores)
        decision = scheduler.schedule(Request("t1", TaskSpec(**BASE)))
        assert decision.placement is not None
        return decision.placement.node_id, decision.score

    assert chosen({"nearest": 1.0}) == ("near", 100.0)
    assert chosen({"compute-only": 1.0}) == ("far", 100.0)
    node, score = chosen({"nearest": 1.0, "compute-only": 3.0})  # mid 325 beats far 303.3
    assert node == "mid"
    assert score == pytest.approx(nearest_mid + 3 * compute_mid)
    assert chosen({"nearest": 1.0, "compute-only": 10.0})[0] == "far"  # 1,003.3 beats 920
    assert chosen({"nearest": 3.0, "compute-only": 1.0})[0] == "near"  # 305 beats 295


def test_random_is_seeded_and_prefers_the_highest_draw(sw: Any) -> None:
    def choices(seed: int) -> list[str]:
        scheduler = sw.scheduler(
            sw.score_topology(), scores={"random": 1.0}, args={"random": {"seed": seed}}
        )
        out = []
        for k in range(30):
            placement = scheduler.schedule(Request(f"t{k}", TaskSpec(**BASE))).placement
            assert placement is not None
            out.append(placement.node_id)
            scheduler.release(f"t{k}")
        return out

    first = choices(7)
    assert first == choices(7)
    assert first != choices(8)
    assert set(first) == set(NODES)
    draws = np.random.default_rng(7).random(3)  # the first cycle's raw values
    assert first[0] == NODES[int(draws.argmax())]


def test_round_robin_takes_nodes_in_turn(sw: Any) -> None:
    scheduler = sw.scheduler(sw.score_topology(), scores={"round-robin": 1.0})
    picked = []
    for k in range(6):
        placement = scheduler.schedule(Request(f"t{k}", TaskSpec(**BASE))).placement
        assert placement is not None
        picked.append(placement.node_id)
        scheduler.release(f"t{k}")
    assert picked == ["near", "mid", "far", "near", "mid", "far"]


@pytest.mark.parametrize(
    ("raw", "higher_is_better", "expected"),
    [
        # the gap to the best, over max(|high|, |low|, high - low)
        ([1.0, 2.0, 3.0], False, [100.0, 200 / 3, 100 / 3]),
        ([1.0, 2.0, 3.0], True, [100 / 3, 200 / 3, 100.0]),
        ([5.0, 5.0], False, [100.0, 100.0]),
        ([1.0, np.inf, 3.0], False, [100.0, 0.0, 100 / 3]),
        ([1.0, np.inf, 3.0], True, [100 / 3, 0.0, 100.0]),
        ([np.inf, np.inf], False, [0.0, 0.0]),
        ([np.nan, 2.0, 4.0], False, [0.0, 100.0, 50.0]),
        ([100.0, 101.0], False, [100.0, 100 * (1 - 1 / 101)]),  # 1 % apart, 1 point apart
        ([0.0, 0.0], True, [100.0, 100.0]),
    ],
)
def test_scale_scores(raw: list[float], higher_is_better: bool, expected: list[float]) -> None:
    np.testing.assert_allclose(scale_scores(np.array(raw), higher_is_better), expected)
