"""The live fork: a copy of the running plane that nothing done to it leaves.

The plane runs over SQLite on a manual clock (so that no timeout moves a task behind the test's
back), with tasks running on ``metro-edge``. The property: whatever is run in a fork (extra
tasks, failed sites, load factors, horizons, background load or none), every row of every
table of the live database and the live controller's tasks, ledger and marks are the same
afterwards.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanwang.bootstrap import journal_for
from suanwang.control.ports import ManualClock
from suanwang.control.stores import Principal, Role
from suanwang.execution import AgentDispatch
from suanwang.model import TaskSpec, TaskState, Tier
from suanwang.scenario import load_builtin
from suanwang.scheduling import resolve_profile
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.service.fork import LiveFork, arrival_history, fork_live
from suanwang.storage import open_store

ALICE = Principal("alice", "acme", frozenset({Role.CONSUMER}))
START_S = 1_800_000_000.0
SCENARIO = load_builtin("metro-edge")
TERMINALS = sorted(s.id for s in SCENARIO.topology.sites.values() if s.tier is Tier.TERMINAL)
SITES = sorted(SCENARIO.topology.sites)


def _spec(i: int, ingress: str) -> TaskSpec:
    return TaskSpec(
        work_gflop=50.0 + 10.0 * i,
        cpu_cores=1.0 + i % 3,
        ingress_site=ingress,
        latency_budget_ms=5_000.0,
        task_type="video" if i % 2 else "batch",
    )


class Live:
    """A started plane, its database file and its clock."""

    def __init__(self, path: Path) -> None:
        self.path, self.clock = path, ManualClock(START_S)
        self._opened = open_store(f"sqlite:///{path}")
        stores = self._opened.__enter__()
        self.plane = ControlPlane(
            stores,
            journal_for(stores),
            SCENARIO,
            resolve_profile("cats-joint"),
            dispatch=AgentDispatch,
            clock=self.clock,
            agents=AgentPolicy(require_agent=False),
        )
        self.plane.start()

    def close(self) -> None:
        self.plane.stop()
        self._opened.__exit__(None, None, None)

    def database(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, in rowid order."""
        with sqlite3.connect(self.path) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            return {t: db.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}

    def controller(self) -> tuple[Any, ...]:
        """The live controller's tasks, ledger sums and records, and marks (on the writer)."""

        def read(_: object) -> tuple[Any, ...]:
            controller = self.plane.live.controller
            ledger, state = controller.state.reservations, controller.state
            tasks = tuple(controller.task(t) for t in controller.active_ids())
            held = tuple(ledger.held(t) for t in controller.active_ids())
            sums = tuple(
                getattr(ledger, name).tobytes()
                for name in ("cpu_cores", "mem_gib", "accelerators", "link_mbps", "link_flows")
            )
            return tasks, held, sums, state.node_down.tobytes(), state.link_down.tobytes()

        result: tuple[Any, ...] = self.plane.call(read).result(30)
        return result


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    running = Live(tmp_path_factory.mktemp("fork") / "live.db")
    futures = []
    for i in range(40):  # an hour of history, one submission every 90 s
        running.clock.advance(90.0)
        futures.append(running.plane.submit(ALICE, _spec(i, TERMINALS[i % 3]), f"k{i}"))
        futures[-1].result(30)
    yield running
    running.close()


what_ifs = st.fixed_dictionaries(
    {
        "tasks": st.lists(
            st.builds(_spec, st.integers(0, 20), st.sampled_from(TERMINALS)), max_size=6
        ),
        "horizon_s": st.sampled_from([60.0, 600.0, 3600.0]),
        "load_factor": st.sampled_from([0.0, 1.0, 2.5]),
        "fail_sites": st.lists(st.sampled_from(SITES), max_size=3, unique=True),
        "background": st.booleans(),
        "seed": st.integers(0, 1000),
    }
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(runs=st.lists(what_ifs, min_size=1, max_size=3))
def test_nothing_done_to_a_fork_reaches_the_live_plane(
    live: Live, runs: list[dict[str, Any]]
) -> None:
    database, controller = live.database(), live.controller()

    fork = fork_live(live.plane)
    for what_if in runs:
        prediction = fork.run_ahead(**what_if)
        assert prediction.placed + prediction.rejected == len(prediction.per_task)

    assert live.controller() == controller
    assert live.database() == database


def test_a_fork_holds_the_running_tasks_and_forecasts_from_the_history(live: Live) -> None:
    fork = fork_live(live.plane)
    residents = {r.task.id for r in fork.state.residents}
    placed = {
        t.id
        for state in (TaskState.SCHEDULED, TaskState.RUNNING)
        for t in live.plane.tasks.list(state=state, limit=100).tasks
    }
    assert residents == placed
    assert len(residents) > 20
    forecaster = fork.forecaster()
    assert forecaster is not None
    assert set(forecaster.templates) == {
        (kind, site) for kind in ("video", "batch") for site in TERMINALS[:3]
    }
    # With an hour of history the forecast is seasonal naive: the hour's mean rate.
    hourly = sum(forecaster.expected(k, fork.start_s, 3600.0)[0] for k in forecaster.models)
    assert hourly == pytest.approx(40.0, abs=1.0)

    quiet = fork.run_ahead([], 3600.0, background=False)
    busy = fork.run_ahead([], 3600.0, load_factor=3.0)
    assert quiet.background == 0
    assert busy.background > 60  # about 120: three times the last hour's 40


def test_a_fork_at_a_later_time_lets_running_tasks_end_first(live: Live) -> None:
    now = fork_live(live.plane)
    later = fork_live(live.plane, at_s=START_S + 30 * 86_400.0)
    assert later.start_s > now.start_s
    spec = _spec(0, TERMINALS[0])
    assert later.run_ahead([spec], 60.0, background=False).placed == 1
    with pytest.raises(ValueError, match="at_s"):
        fork_live(live.plane, at_s=START_S - 86_400.0)


def test_the_history_is_read_newest_first_and_bounded(live: Live) -> None:
    times, templates, tenants = arrival_history(live.plane.tasks, START_S + 86_400.0, limit=10)
    assert sum(len(t) for t in times.values()) == 10
    newest = max(max(t) for t in times.values())
    assert newest == pytest.approx(START_S + 40 * 90.0)
    assert all(isinstance(spec, TaskSpec) for spec in templates.values())
    assert set(tenants) == set(templates)
    assert all(tenants.values())
    assert np.all(np.diff(sorted(times[next(iter(times))])) > 0)


def test_a_fork_without_a_task_store_has_no_background(live: Live) -> None:
    fork = fork_live(live.plane)
    bare = LiveFork(fork.state, None, fork.start_s)
    assert bare.forecaster() is None
    assert bare.run_ahead([], 600.0).background == 0
