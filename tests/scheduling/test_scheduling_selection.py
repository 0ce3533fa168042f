"""Selection after scoring: session affinity and hysteresis (CATS: no flapping between instances).

Two identical 100-core nodes x and y share edge site S (2 ms from U); z stands at a region
20 ms away and is ten times slower. A 1-core, 1 GFLOP warm task (share 1/100, 0.4 efficiency)
takes 4 + 25 = 29 ms on x or y, 40 + 250 = 290 ms on z. Selection is what is tested, not the
estimates, so the profile scores with ``loaded-time``, a score of this module that grows smoothly
with the load of a node: the end-to-end time plus 25 x rho / (1 - rho), rho = k/100 with k cores
already held there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from suanwang.model import Link, Node, Precision, Site, TaskSpec, Tier, Topology
from suanwang.scheduling import ClusterState, Cycle, Request, Scheduler
from suanwang.scheduling.framework import FloatArray
from suanwang.scheduling.registry import plugin_factories


class LoadedTime:
    """End-to-end time plus an M/M/1-like term in the node's load (lower is better)."""

    name = "loaded-time"
    higher_is_better: ClassVar[bool] = False

    def score(self, cycle: Cycle) -> FloatArray:
        rho = np.minimum(cycle.utilisation(), 0.95)
        return np.asarray(cycle.total_ms() + cycle.compute_ms() * rho / (1.0 - rho))


def _factories() -> dict[str, Any]:
    def make(args: Mapping[str, Any], state: ClusterState) -> LoadedTime:
        return LoadedTime()

    return {**plugin_factories(), "loaded-time": make}


def _topology(with_z: bool = True) -> Topology:
    def node(node_id: str, site: str, fp32: float) -> Node:
        return Node(
            node_id, site, cpu_cores=100, mem_gib=400.0, cpu_peak_gflops={Precision.FP32: fp32}
        )

    nodes = [node("x", "S", 10_000.0), node("y", "S", 10_000.0)]
    sites = [Site("U", Tier.TERMINAL), Site("S", Tier.EDGE)]
    links = [Link("u-s", "U", "S", bandwidth_mbps=10_000.0, latency_ms=2.0)]
    if with_z:
        nodes.append(node("z", "Z", 1_000.0))
        sites.append(Site("Z", Tier.REGION))
        links.append(Link("u-z", "U", "Z", bandwidth_mbps=10_000.0, latency_ms=20.0))
    return Topology(sites, nodes, links=links)


def _spec(key: str | None = None, task_type: str = "tt") -> TaskSpec:
    return TaskSpec(1.0, cpu_cores=1.0, mem_gib=1.0, ingress_site="U", affinity_key=key,
                    task_type=task_type)  # fmt: skip


def _scheduler(sw: Any, state: ClusterState, **kw: Any) -> Scheduler:
    kw.setdefault("hysteresis", 0.0)
    profile = sw.profile(filters=("resource-fit",), scores={"loaded-time": 1.0}, **kw)
    return Scheduler(profile, state, factories=_factories())


def _node(scheduler: Scheduler, task_id: str, spec: TaskSpec, release: bool = False) -> str:
    placement = scheduler.schedule(Request(task_id, spec)).placement
    assert placement is not None
    if release:
        scheduler.release(task_id)
    return placement.node_id


def test_same_affinity_key_keeps_its_node_while_it_passes(sw: Any) -> None:
    state = ClusterState(_topology())
    scheduler = _scheduler(sw, state, affinity=True)
    assert _node(scheduler, "r1", _spec("k")) == "x"  # a tie: the first node
    assert _node(scheduler, "r2", _spec("k")) == "x"  # y is now better, the session stays
    assert _node(scheduler, "r3", _spec(None, "other")) == "y"  # without a key: the best
    sw.hold(state, "background", "x", 98.0)  # x is full: resource-fit turns it away
    assert _node(scheduler, "r4", _spec("k")) == "y"  # the session moves ...
    state.reservations.release("background")
    assert _node(scheduler, "r5", _spec("k")) == "y"  # ... and stays where it moved
    assert _node(scheduler, "r6", _spec("j")) == "x"  # another session: x (2 held) ties y (2)


def test_affinity_off_follows_the_scores(sw: Any) -> None:
    scheduler = _scheduler(sw, ClusterState(_topology()), affinity=False)
    assert _node(scheduler, "r1", _spec("k")) == "x"
    assert _node(scheduler, "r2", _spec("k", "other")) == "y"


def test_hysteresis_keeps_near_equal_and_yields_to_clearly_better(sw: Any) -> None:
    state = ClusterState(_topology())
    sticky = _scheduler(sw, state, hysteresis=0.05, affinity=False)
    plain = _scheduler(sw, state, hysteresis=0.0, affinity=False)
    assert _node(sticky, "r1", _spec(), release=True) == "x"

    # 2 cores held on x: 29.51 ms against y's 29 ms, scaled 99.8 against 100 (z: 0)
    sw.hold(state, "bg-small", "x", 2.0)
    assert _node(plain, "c1", _spec(), release=True) == "y"  # no hysteresis: y
    assert _node(sticky, "r2", _spec(), release=True) == "x"  # within 5 points: the flow stays
    assert _node(sticky, "r3", _spec(task_type="other"), release=True) == "y"  # another flow

    # 60 cores held on x: 66.5 ms, scaled 85.6: clearly worse, the flow moves to y
    sw.hold(state, "bg-large", "x", 58.0)
    assert _node(sticky, "r4", _spec(), release=True) == "y"

    # x free again: x and y tie, the first would win; the flow does not flap back
    state.reservations.release("bg-small")
    state.reservations.release("bg-large")
    fresh = _scheduler(sw, state, hysteresis=0.0, affinity=False)  # no history for the flow
    assert _node(fresh, "c2", _spec(), release=True) == "x"
    assert _node(sticky, "r5", _spec(), release=True) == "y"


def test_hysteresis_does_not_hold_a_node_that_no_longer_passes(sw: Any) -> None:
    state = ClusterState(_topology())
    sticky = _scheduler(sw, state, hysteresis=0.5, affinity=False)
    assert _node(sticky, "r1", _spec(), release=True) == "x"
    sw.hold(state, "full", "x", 100.0)
    assert _node(sticky, "r2", _spec(), release=True) == "y"


def test_hysteresis_with_two_near_equal_candidates(sw: Any) -> None:
    state = ClusterState(_topology(with_z=False))
    sticky = _scheduler(sw, state, hysteresis=0.05, affinity=False)
    assert _node(sticky, "r1", _spec(), release=True) == "x"
    sw.hold(state, "bg-small", "x", 2.0)  # 29.51 ms on x against 29 ms on y
    assert _node(sticky, "r2", _spec(), release=True) == "x"
