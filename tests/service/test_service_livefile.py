"""The live scenario file across crashes: staged loads finished or dropped, bad files set aside.

Each crash is reproduced as the files and the database it leaves (the SIGKILL rounds of a real
server are in ``tests/api/test_api_crash_scenario.py``), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from suanwang.bootstrap import Settings, build_plane
from suanwang.bootstrap.build import LIVE_SCENARIO_FILE
from suanwang.control.stores import Principal, Role
from suanwang.model import Scenario, Task, TaskSpec, TaskState
from suanwang.scenario import ScenarioError, load_builtin
from suanwang.service import ControlPlane
from suanwang.service.livefile import LiveScenarioFile

ADMIN = Principal("admin", "operator", frozenset({Role.ADMIN}))
ALICE = Principal("alice", "acme", frozenset({Role.CONSUMER}))
SPEC = TaskSpec(work_gflop=5.0, ingress_site="term-futian")
WAIT_S = 30


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""
    return Settings(data_dir=tmp_path / "data", database_url=url, scenario="metro-edge")


@pytest.fixture
def running(settings: Settings) -> Iterator[list[ControlPlane]]:
    """Planes started by a test (a list: a restart adds one), each stopped at the end."""
    planes: list[ControlPlane] = []
    yield planes
    for plane in planes:
        plane.stop()
        plane.stores.close()


def _start(settings: Settings, planes: list[ControlPlane]) -> ControlPlane:
    plane = build_plane(settings).plane
    planes.append(plane)
    plane.start()
    return plane


def _crash(plane: ControlPlane) -> None:
    """Stop the writer without anything a crash would not have done (files stay as they are)."""
    plane.stop()
    plane.stores.close()


def _submit(plane: ControlPlane, count: int = 3) -> list[Task]:
    return [plane.submit(ALICE, SPEC).result(WAIT_S).task for _ in range(count)]


def _actions(plane: ControlPlane) -> list[str]:
    return [e.action for e in plane.stores.audit.list(1000)]


def test_a_load_staged_but_not_committed_is_dropped(
    settings: Settings, running: list[ControlPlane]
) -> None:
    first = _start(settings, running)
    tasks = _submit(first)
    # The crash came after staging and before the commit.
    staged = LiveScenarioFile(settings.data_dir / LIVE_SCENARIO_FILE).stage(load_builtin("campus"))
    _crash(first)
    second = _start(settings, running)
    assert second.live.scenario.name == "metro-edge"
    assert not staged.path.exists()
    for task in tasks:
        stored = second.tasks.get(task.id)
        assert stored is not None
        assert stored.state is not TaskState.CANCELLED
        assert not any("replaced" in step.reason for step in stored.history)
    assert "scenario.load" not in _actions(second)
    assert "scenario.recover" in _actions(second)


def test_a_load_committed_but_not_renamed_is_finished(
    settings: Settings, running: list[ControlPlane]
) -> None:
    first = _start(settings, running)
    tasks = _submit(first)
    live_file = settings.data_dir / LIVE_SCENARIO_FILE
    loaded = first.load_scenario(ADMIN, load_builtin("campus"), cancel_active=True)
    assert loaded.result(WAIT_S) == len(tasks)
    _crash(first)
    # Put the files back as they were between the load's commit and its rename: the staged
    # file beside, no live file yet (the configured scenario was served).
    entry = next(e for e in first.stores.audit.list(1000) if e.target == "scenario:campus")
    load_id = entry.detail.split()[1]
    staged = live_file.with_name(f"{live_file.name}.{load_id}.staged")
    shutil.move(live_file, staged)
    second = _start(settings, running)
    assert second.live.scenario.name == "campus"
    assert not staged.exists()
    for task in tasks:
        stored = second.tasks.get(task.id)
        assert stored is not None
        assert stored.state is TaskState.CANCELLED
    assert LiveScenarioFile(live_file).read().name == "campus"  # type: ignore[union-attr]


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b'{"version": 1}', b""])
def test_an_unreadable_live_file_falls_back_to_the_configured_scenario(
    settings: Settings, running: list[ControlPlane], content: bytes
) -> None:
    settings.data_dir.mkdir(parents=True)
    live_file = settings.data_dir / LIVE_SCENARIO_FILE
    live_file.write_bytes(content)
    plane = _start(settings, running)
    assert plane.live.scenario.name == "metro-edge"
    assert not live_file.exists()
    assert len(list(settings.data_dir.glob(f"{LIVE_SCENARIO_FILE}.bad-*"))) == 1
    recovered = [e for e in plane.stores.audit.list(1000) if e.action == "scenario.recover"]
    assert "moved aside" in recovered[0].detail


def _unbuildable(scenario: Scenario) -> Scenario:
    """A scenario whose first node claims 10**400 cores (past what any array holds)."""
    topology = scenario.topology
    node = next(iter(topology.nodes.values()))
    topology = topology.updated(dataclasses.replace(node, cpu_cores=10**400))
    return dataclasses.replace(scenario, topology=topology)


def test_a_scenario_that_cannot_be_built_changes_nothing(
    settings: Settings, running: list[ControlPlane]
) -> None:
    plane = _start(settings, running)
    assert (
        plane.load_scenario(ADMIN, load_builtin("campus"), cancel_active=True).result(WAIT_S) == 0
    )
    live_file = settings.data_dir / LIVE_SCENARIO_FILE
    before = live_file.read_bytes()
    tasks = _submit(plane)
    try:
        bad = _unbuildable(load_builtin("east-west"))
    except (ValueError, TypeError):
        pytest.skip("the model refuses such a node itself")
    with pytest.raises(ScenarioError, match="cannot make the scenario live"):
        plane.load_scenario(ADMIN, bad, cancel_active=True)
    assert plane.live.scenario.name == "campus"
    assert live_file.read_bytes() == before
    assert not list(settings.data_dir.glob("*.staged"))
    for task in tasks:
        stored = plane.tasks.get(task.id)
        assert stored is not None
        assert stored.state is not TaskState.CANCELLED
    # And the next start serves what was live.
    _crash(plane)
    assert _start(settings, running).live.scenario.name == "campus"
