"""The avoid-sites filter: every profile keeps a run off the sites it avoids."""

from __future__ import annotations

import pytest

from suanwang.model import TaskSpec
from suanwang.scenario import load_builtin
from suanwang.scheduling import ClusterState, Code, Request, Scheduler, resolve_profile


def _site_of(scheduler: Scheduler, node_id: str) -> str:
    arrays = scheduler.state.arrays
    return arrays.vertex_ids[int(arrays.node_vertex[arrays.node_ids.index(node_id)])]


@pytest.mark.parametrize("profile", ["cats-joint", "nearest", "random"])
def test_a_run_never_lands_on_an_avoided_site(profile: str) -> None:
    topology = load_builtin("campus").topology
    scheduler = Scheduler(resolve_profile(profile), ClusterState(topology))
    spec = TaskSpec(work_gflop=1.0, ingress_site="bldg-library")
    first = scheduler.schedule(Request("a", spec))
    assert first.placement is not None
    taken = _site_of(scheduler, first.placement.node_id)
    second = scheduler.schedule(
        Request("b", TaskSpec(1.0, ingress_site="bldg-library", avoid_sites=(taken,)))
    )
    assert second.placement is not None
    assert _site_of(scheduler, second.placement.node_id) != taken


def test_avoiding_every_site_is_unresolvable_and_named() -> None:
    topology = load_builtin("campus").topology
    scheduler = Scheduler(resolve_profile("cats-joint"), ClusterState(topology))
    every = tuple(topology.sites)
    decision = scheduler.schedule(
        Request("a", TaskSpec(1.0, ingress_site="bldg-library", avoid_sites=every))
    )
    assert decision.placement is None
    assert decision.status.code is Code.UNRESOLVABLE
    assert "avoid-sites" in decision.status.reason or "replica" in decision.status.reason


def test_avoid_sites_holds_site_ids() -> None:
    with pytest.raises(ValueError, match="avoid_sites"):
        TaskSpec(1.0, avoid_sites=("",))


def test_avoid_sites_survive_the_store_codec() -> None:
    from suanwang.storage.codec import spec_from_json, spec_to_json

    spec = TaskSpec(1.0, avoid_sites=("edge-north", "cloud"), long_running=True)
    assert spec_from_json(spec_to_json(spec)) == spec
