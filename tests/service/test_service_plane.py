"""The control plane's single writer: group commit, failed commits, restarts, queue expiry."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, wait
from pathlib import Path

import pytest

from suanwang.bootstrap import Settings, build_plane, journal_for
from suanwang.control.ports import ManualClock
from suanwang.control.stores import (
    AuditEvent,
    ConflictError,
    Principal,
    Role,
    StoreUnavailableError,
    TaskJournal,
)
from suanwang.execution import AgentDispatch
from suanwang.model import Task, TaskSpec, TaskState
from suanwang.scenario import load_builtin
from suanwang.scheduling import resolve_profile
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.storage import Stores

ALICE = Principal("alice", "acme", frozenset({Role.CONSUMER}))
SPEC = TaskSpec(work_gflop=5.0, ingress_site="term-futian")


class Flaky:
    """A journal that counts its writes and fails the next ones when told to."""

    def __init__(self, inner: TaskJournal) -> None:
        self.inner, self.writes = inner, 0
        self.lock = threading.Lock()
        self.fail_with: Exception | None = None

    def find(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Task]:
        return self.inner.find(keys)

    def write(
        self,
        added: list[tuple[Task, str | None]],
        updated: list[tuple[Task, Task]],
        audit: list[AuditEvent],
    ) -> None:
        with self.lock:
            self.writes += 1
            if self.fail_with is not None:
                raise self.fail_with
        self.inner.write(added, updated, audit)


def _plane(stores: Stores, journal: TaskJournal, clock: ManualClock | None = None) -> ControlPlane:
    scenario = load_builtin("metro-edge")
    # Nodes without agents stand in as capacity: these tests are about the plane, not agents.
    simulated = AgentPolicy(require_agent=False)
    profile = resolve_profile("cats-joint")
    return ControlPlane(
        stores,
        journal,
        scenario,
        profile,
        dispatch=AgentDispatch,
        clock=clock,
        agents=simulated,
    )


def test_concurrent_submissions_share_one_commit(stores: Stores) -> None:
    journal = Flaky(journal_for(stores))
    plane = _plane(stores, journal)
    # Queued before the writer starts, so they all wait for its first batch.
    futures = [plane.submit(ALICE, SPEC, f"k{i}") for i in range(200)]
    plane.start()
    try:
        wait(futures, timeout=60)
        assert journal.writes == 1
        ids = {f.result().task.id for f in futures}
        assert len(ids) == 200
        assert len(stores.audit.list(limit=1000)) == 200
        assert stores.tasks.list(limit=1000).tasks[0].state is TaskState.SCHEDULED
    finally:
        plane.stop()


def test_repeated_keys_in_one_batch_make_one_task(stores: Stores) -> None:
    plane = _plane(stores, journal_for(stores))
    futures = [plane.submit(ALICE, SPEC, "same") for _ in range(5)]
    plane.start()
    try:
        results = [f.result(30) for f in futures]
        assert [r.created for r in results] == [True, False, False, False, False]
        assert len({r.task.id for r in results}) == 1
        other = plane.submit(ALICE, TaskSpec(work_gflop=9.0), "same")
        with pytest.raises(ConflictError):
            other.result(30)
    finally:
        plane.stop()
    assert len(stores.tasks.list().tasks) == 1


def test_a_failed_commit_withdraws_the_new_tasks(stores: Stores) -> None:
    journal = Flaky(journal_for(stores))
    plane = _plane(stores, journal)
    plane.start()
    try:
        kept = plane.submit(ALICE, SPEC).result(30).task
        journal.fail_with = StoreUnavailableError("disk on fire")
        lost: Future[object] = plane.submit(ALICE, SPEC)
        cancel: Future[object] = plane.cancel(ALICE, kept.id, "acme")
        for future in (lost, cancel):
            with pytest.raises(StoreUnavailableError):
                future.result(30)
        # Never acknowledged, so never placed: the capacity it took is free again.
        assert plane.live.controller.active == 0
        journal.fail_with = None
        plane.submit(ALICE, SPEC).result(30)
    finally:
        plane.stop()
    stored = stores.tasks.list().tasks
    assert len(stored) == 2
    # The cancellation made while the database was away is written with the next commit.
    assert stores.tasks.get(kept.id).state is TaskState.CANCELLED  # type: ignore[union-attr]


def test_a_restart_resumes_unfinished_tasks(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, require_agent=False)
    first = build_plane(settings).plane
    first.start()
    submitted = [first.submit(ALICE, SPEC).result(30).task for _ in range(3)]
    first.stop()
    first.stores.close()
    second = build_plane(settings).plane
    try:
        assert second.start() == 3
        for task in submitted:
            resumed = second.tasks.get(task.id)
            assert resumed is not None
            assert [s.reason for s in resumed.history][2] == "controller restarted"
            assert resumed.state is TaskState.SCHEDULED
        assert second.live.controller.active == 3
    finally:
        second.stop()
        second.stores.close()


def test_queued_tasks_expire_and_the_rejection_is_stored(stores: Stores) -> None:
    clock = ManualClock(1000.0)
    plane = _plane(stores, journal_for(stores), clock)
    plane.start()
    try:
        nodes = plane.live.scenario.topology.nodes.values()
        most = max(node.cpu_cores for node in nodes)
        # Only the largest nodes fit one each; one more task must wait.
        big = TaskSpec(work_gflop=5.0, cpu_cores=most, ingress_site="term-futian", deadline_s=5.0)
        for _ in range(1 + sum(1 for node in nodes if node.cpu_cores == most)):
            task = plane.submit(ALICE, big).result(30).task
        assert task.state is TaskState.PENDING
        clock.advance(10.0)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            plane.record(ALICE, "test.tick", "x").result(30)  # lets the writer run its tick
            stored = stores.tasks.get(task.id)
            if stored is not None and stored.state is TaskState.REJECTED:
                break
            time.sleep(0.2)
        assert stored is not None
        assert stored.state is TaskState.REJECTED
        assert "patience" in stored.history[-1].reason
    finally:
        plane.stop()


def test_a_stopped_plane_refuses_work(stores: Stores) -> None:
    plane = _plane(stores, journal_for(stores))
    plane.start()
    plane.stop()
    with pytest.raises(StoreUnavailableError):
        plane.submit(ALICE, SPEC).result(5)
