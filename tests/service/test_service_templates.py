"""Templates on a live plane: apply is idempotent, an update applies exactly the difference,
delete releases every replica; the connections become the components' demands.

Three sites of one 2-core node (``write_three_sites``), a manual clock, no agents needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from suanwang.bootstrap import journal_for
from suanwang.cli.localnet import USERS_SITE, write_three_sites
from suanwang.control.ports import ManualClock
from suanwang.control.stores import ConflictError, NotFoundError, Principal, Role
from suanwang.execution import AgentDispatch
from suanwang.model import TaskState
from suanwang.scenario import load_scenario
from suanwang.scenario.template import TemplateDoc, template_from_data
from suanwang.scheduling import required_bandwidth_mbps, resolve_profile
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.service.templates import Applied, Templates
from suanwang.storage import open_store

ALICE = Principal("alice", "acme", frozenset({Role.CONSUMER}))
BOB = Principal("bob", "globex", frozenset({Role.CONSUMER}))
TASK = {"work_gflop": 0.1, "cpu_cores": 0.5}


def shop(**components: dict[str, Any]) -> dict[str, Any]:
    """A template ``shop``: front (2 replicas, from the users) and back (from front)."""
    return {
        "version": 1,
        "name": "shop",
        "components": {
            "front": {"task": TASK, "replicas": 2},
            "back": {"task": TASK, "autoscale": {"min_replicas": 1, "max_replicas": 3}},
            **components,
        },
        "connections": [
            {
                "from": "users",
                "to": "front",
                "ingress_site": USERS_SITE,
                "latency_budget_ms": 400.0,
                "bandwidth_mbps": 20.0,
            },
            {"from": "front", "to": "back", "latency_budget_ms": 300.0, "bandwidth_mbps": 8.0},
        ],
    }


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[ControlPlane]:
    stores = open_store(f"sqlite:///{tmp_path / 'plane.db'}")
    plane = ControlPlane(
        stores,
        journal_for(stores),
        load_scenario(write_three_sites(tmp_path)),
        resolve_profile("cats-joint"),
        dispatch=AgentDispatch,
        clock=ManualClock(1_700_000_000.0),
        agents=AgentPolicy(require_agent=False),
    )
    plane.start()
    yield plane
    plane.stop()
    plane.stores.close()


@pytest.fixture
def templates(plane: ControlPlane) -> Templates:
    return Templates(plane)


def _doc(data: dict[str, Any]) -> TemplateDoc:
    return template_from_data(data, "<test>")


def _apply(
    plane: ControlPlane,
    templates: Templates,
    data: dict[str, Any],
    who: Principal = ALICE,
    dry_run: bool = False,
) -> Applied:
    doc = _doc(data)
    command = lambda batch: templates.apply(batch, who, doc, dry_run=dry_run)  # noqa: E731
    return plane.call(command).result(10)


def _replicas(plane: ControlPlane) -> dict[str, set[str]]:
    views = plane.call(lambda _: plane.deployments.listed(None)).result(10)
    return {v.deployment.name: {r.task_id for r in v.replicas} for v in views}


def _audit(plane: ControlPlane) -> list[tuple[str, str, str]]:
    plane.call(lambda _: None).result(10)  # what was queued so far is committed
    events = plane.stores.audit.list(limit=1000)
    return [(e.action, e.target, e.detail) for e in events]


def test_apply_opens_a_deployment_per_component_with_the_connections_demands(
    plane: ControlPlane, templates: Templates
) -> None:
    applied = _apply(plane, templates, shop())
    assert applied.applied
    assert (applied.diff.added, applied.diff.changed, applied.diff.removed) == (
        ("back", "front"),
        (),
        (),
    )
    assert applied.view is not None
    assert (applied.view.revision, applied.view.desired, applied.view.ready) == (1, 3, 0)
    views = {v.deployment.name: v for v in plane.deployments.listed(None)}
    assert set(views) == {"shop/front", "shop/back"}
    front, back = views["shop/front"].deployment, views["shop/back"].deployment
    assert (front.policy.min_replicas, front.policy.max_replicas) == (2, 2)
    assert (back.policy.min_replicas, back.policy.max_replicas) == (1, 3)
    assert front.template.ingress_site == back.template.ingress_site == USERS_SITE
    assert front.template.latency_budget_ms == 400.0
    assert back.template.latency_budget_ms == 700.0  # the budgets along users -> front -> back
    assert required_bandwidth_mbps(front.template) == pytest.approx(20.0)
    assert required_bandwidth_mbps(back.template) == pytest.approx(8.0)
    assert len(views["shop/front"].replicas) == 2
    assert all(r.node_id is not None for v in views.values() for r in v.replicas)


def test_reapplying_an_unchanged_template_changes_nothing(
    plane: ControlPlane, templates: Templates
) -> None:
    _apply(plane, templates, shop())
    before_replicas, before_audit = _replicas(plane), _audit(plane)
    again = _apply(plane, templates, shop())
    assert not again.applied
    assert again.diff.empty
    assert again.view is not None
    assert again.view.revision == 1
    assert _replicas(plane) == before_replicas
    added = _audit(plane)[len(before_audit) :]
    assert added == [("template.apply", "template:shop", "unchanged: nothing applied")]


def test_an_update_applies_exactly_the_difference(
    plane: ControlPlane, templates: Templates
) -> None:
    _apply(plane, templates, shop())
    before, audit_before = _replicas(plane), len(_audit(plane))
    changed = shop(cache={"task": TASK, "replicas": 1})
    changed["components"]["back"]["autoscale"]["max_replicas"] = 2
    del changed["components"]["front"]
    changed["connections"] = [
        {"from": "users", "to": "back", "ingress_site": USERS_SITE, "latency_budget_ms": 500.0}
    ]

    dry = _apply(plane, templates, changed, dry_run=True)
    assert (dry.diff.added, dry.diff.changed, dry.diff.removed) == (
        ("cache",),
        ("back",),
        ("front",),
    )
    assert not dry.applied
    assert _replicas(plane) == before
    assert len(_audit(plane)) == audit_before  # a dry run writes nothing

    done = _apply(plane, templates, changed)
    assert done.applied
    assert done.diff == dry.diff
    after = _replicas(plane)
    assert set(after) == {"shop/back", "shop/cache"}
    assert before["shop/back"] <= after["shop/back"]  # changed: its replicas carry on
    for task_id in before["shop/front"]:
        task = plane.live.controller.task(task_id)
        assert task is None or task.state is TaskState.CANCELLED
    new = [(a, t) for a, t, _ in _audit(plane)[audit_before:] if a.startswith("deployment.")]
    assert sorted(new) == [
        ("deployment.apply", "deployment:shop/back"),
        ("deployment.apply", "deployment:shop/cache"),
        ("deployment.delete", "deployment:shop/front"),
    ]
    view = plane.call(lambda _: templates.get("shop", "acme")).result(10)
    assert view.revision == 2
    assert [c.component for c in view.components] == ["back", "cache"]
    assert view.document["components"]["back"]["autoscale"]["max_replicas"] == 2


def test_delete_releases_every_replica(plane: ControlPlane, templates: Templates) -> None:
    _apply(plane, templates, shop())
    task_ids = {t for ids in _replicas(plane).values() for t in ids}
    assert len(task_ids) == 3
    cancelled = plane.call(lambda b: templates.delete(b, ALICE, "shop", "acme")).result(10)
    assert cancelled == 3
    assert _replicas(plane) == {}
    for task_id in task_ids:
        task = plane.live.controller.task(task_id) or plane.stores.tasks.get(task_id, None)
        assert task is not None
        assert task.state is TaskState.CANCELLED
    assert plane.live.controller.state.reservations.cpu_cores.sum() == pytest.approx(0.0)
    with pytest.raises(NotFoundError):
        plane.call(lambda _: templates.get("shop", None)).result(10)


def test_another_tenant_can_neither_see_nor_take_the_name(
    plane: ControlPlane, templates: Templates
) -> None:
    _apply(plane, templates, shop())
    assert plane.call(lambda _: templates.listed("globex")).result(10) == []
    with pytest.raises(ConflictError, match="'shop' is taken"):
        _apply(plane, templates, shop(), who=BOB)
    with pytest.raises(NotFoundError):
        plane.call(lambda b: templates.delete(b, BOB, "shop", "globex")).result(10)
    assert set(_replicas(plane)) == {"shop/front", "shop/back"}


def test_a_figure_a_task_cannot_hold_is_named_and_nothing_is_applied(
    plane: ControlPlane, templates: Templates
) -> None:
    bad = shop(cache={"task": TASK, "replicas": 1, "policies": {"residency": ["cn-"]}})
    with pytest.raises(ValueError, match=r"components\.cache: "):
        _apply(plane, templates, bad)
    assert _replicas(plane) == {}
