"""Deployments on a live plane: a replica the scheduler rejects is not resubmitted every tick.

Three sites of one 2-core node (``write_three_sites``), a manual clock, no agents needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from suanwang.bootstrap import journal_for
from suanwang.cli.localnet import USERS_SITE, write_three_sites
from suanwang.control.autoscale import ScalePolicy
from suanwang.control.ports import ManualClock
from suanwang.control.stores import Principal, Role
from suanwang.execution import AgentDispatch
from suanwang.model import TaskSpec
from suanwang.scenario import load_scenario
from suanwang.scheduling import resolve_profile
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.service.deployments import RETRY_MAX_S, Deployment, DeploymentView
from suanwang.service.worker import Batch
from suanwang.storage import open_store

ALICE = Principal("alice", "acme", frozenset({Role.CONSUMER}))
FITS = TaskSpec(work_gflop=1.0, cpu_cores=0.5, ingress_site=USERS_SITE)
TOO_BIG = TaskSpec(work_gflop=1.0, cpu_cores=64.0, ingress_site=USERS_SITE)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


@pytest.fixture
def plane(tmp_path: Path, clock: ManualClock) -> Iterator[ControlPlane]:
    stores = open_store(f"sqlite:///{tmp_path / 'plane.db'}")
    plane = ControlPlane(
        stores,
        journal_for(stores),
        load_scenario(write_three_sites(tmp_path)),
        resolve_profile("cats-joint"),
        dispatch=AgentDispatch,
        clock=clock,
        agents=AgentPolicy(require_agent=False),
    )
    plane.start()
    yield plane
    plane.stop()
    plane.stores.close()


def _apply(plane: ControlPlane, template: TaskSpec) -> DeploymentView:
    deployment = Deployment("web", "acme", template, ScalePolicy(1, 2))
    return plane.call(lambda batch: plane.deployments.apply(batch, ALICE, deployment)).result(10)


def _tick(plane: ControlPlane) -> DeploymentView:
    def run(batch: Batch) -> DeploymentView:
        plane.deployments.tick(batch)
        return plane.deployments.get("web", None)

    return plane.call(run).result(10)


def _submissions(plane: ControlPlane) -> int:
    plane.call(lambda _: None).result(10)  # the audit entries queued so far are committed
    events = plane.stores.audit.list(limit=1000)
    return sum(1 for e in events if e.action == "task.submit" and e.who == "deployment:web")


def test_a_rejected_replica_waits_longer_after_each_refusal(
    plane: ControlPlane, clock: ManualClock
) -> None:
    view = _apply(plane, TOO_BIG)
    assert view.replicas == ()
    assert view.events[-1].startswith("replica rejected: ")
    assert view.events[-1].endswith("next try in 1 s")
    assert _submissions(plane) == 1
    for _ in range(5):  # ticks at the same time: nothing asked again
        _tick(plane)
    assert _submissions(plane) == 1
    clock.advance(1.0)
    assert _tick(plane).events[-1].endswith("next try in 2 s")
    clock.advance(1.0)
    _tick(plane)
    assert _submissions(plane) == 2  # still waiting
    clock.advance(1.0)
    assert _tick(plane).events[-1].endswith("next try in 4 s")
    assert _submissions(plane) == 3
    for _ in range(8):
        clock.advance(RETRY_MAX_S)
        view = _tick(plane)
    assert view.events[-1].endswith(f"next try in {RETRY_MAX_S:g} s")
    assert _submissions(plane) == 11


def test_an_update_tries_at_once_and_a_placed_replica_ends_the_refusals(
    plane: ControlPlane,
) -> None:
    _apply(plane, TOO_BIG)
    view = _apply(plane, FITS)  # no time passed: the new template is tried all the same
    assert len(view.replicas) == 1
    assert view.replicas[0].node_id is not None
    assert _submissions(plane) == 2
