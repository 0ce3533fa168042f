"""The AgentKeyStore contract, run against every adapter (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy.exc import SQLAlchemyError

from suanwang.control.stores import AgentKeyBinding, AgentKeyStore, AuditEvent, ReportMark
from suanwang.storage import Stores

KEY = bytes(range(32))
BINDING = AgentKeyBinding("kid-1", "edge-1", "agent-edge-1", KEY, 1_700_000_000.25)


def test_every_adapter_implements_the_port(stores: Stores) -> None:
    assert isinstance(stores.agents, AgentKeyStore)


def test_a_binding_reads_back_equal_after_a_restart(
    open_stores: Callable[[], Stores],
) -> None:
    open_stores().agents.bind(BINDING)
    assert open_stores().agents.bindings() == [BINDING]


def test_binding_a_key_again_replaces_it(stores: Stores) -> None:
    stores.agents.bind(BINDING)
    moved = AgentKeyBinding("kid-1", "edge-2", "agent-edge-1", KEY, BINDING.bound_at_s + 5)
    stores.agents.bind(moved)
    other = AgentKeyBinding("kid-0", "edge-3", "agent-edge-3", bytes(32), 1.0)
    stores.agents.bind(other)
    assert stores.agents.bindings() == [other, moved]  # ordered by key id


def test_a_binding_and_its_audit_entry_are_stored_together(stores: Stores) -> None:
    event = AuditEvent("agent-edge-1", "agent.key", "node:edge-1", "kid-1", 5.0)
    stores.agents.bind(BINDING, event)
    assert stores.agents.bindings() == [BINDING]
    [entry] = stores.audit.list()
    assert (entry.who, entry.action, entry.target, entry.detail, entry.at_s) == (
        "agent-edge-1",
        "agent.key",
        "node:edge-1",
        "kid-1",
        5.0,
    )


def test_a_failed_audit_entry_leaves_no_binding(stores: Stores) -> None:
    if stores.engine is None:
        pytest.skip("the in-memory store has no transaction to fail")
    broken = AuditEvent(None, "agent.key", "node:edge-1", "kid-1", 5.0)  # type: ignore[arg-type]
    with pytest.raises(SQLAlchemyError):
        stores.agents.bind(BINDING, broken)
    assert stores.agents.bindings() == []
    assert stores.audit.list() == []


def test_unbind_forgets_the_binding_and_its_mark(stores: Stores) -> None:
    stores.agents.bind(BINDING)
    stores.agents.save_marks([ReportMark("kid-1", 10.0, "n1")])
    assert stores.agents.unbind("kid-1")
    assert not stores.agents.unbind("kid-1")
    assert stores.agents.bindings() == []
    assert stores.agents.marks() == {}


def test_marks_only_move_forward_and_survive_a_restart(
    open_stores: Callable[[], Stores],
) -> None:
    agents = open_stores().agents
    agents.save_marks([ReportMark("a", 10.0, "n1"), ReportMark("b", 3.0, "m1")])
    agents.save_marks([ReportMark("a", 9.0, "old"), ReportMark("b", 4.5, "m2")])
    agents.save_marks([ReportMark("a", 12.0, "n2"), ReportMark("a", 11.0, "n3")])  # one batch
    agents.save_marks([])
    assert open_stores().agents.marks() == {
        "a": ReportMark("a", 12.0, "n2"),
        "b": ReportMark("b", 4.5, "m2"),
    }


def test_concurrent_writers_leave_the_newest_mark(stores: Stores) -> None:
    def write(offset: int) -> None:
        for i in range(20):
            stores.agents.save_marks([ReportMark("k", float(offset + 4 * i), f"n{offset}-{i}")])

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert stores.agents.marks()["k"] == ReportMark("k", 79.0, "n3-19")
