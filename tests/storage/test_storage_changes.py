"""The TopologyChangeStore contract (runtime topology changes), run against every adapter."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from suanwang.control.changes import (
    ChangeKind,
    StaleTopologyError,
    TopologyChange,
    TopologyChangeStore,
)
from suanwang.control.stores import AuditEvent
from suanwang.storage import Stores

NOW_S = 1_700_000_000.0
NODE: dict[str, Any] = {"id": "edge-9", "site": "edge-a", "cpu_cores": 8, "mem_gib": 16.5}


def _changes(stores: Stores) -> TopologyChangeStore:
    assert stores.topology is not None
    return stores.topology


def _event(action: str, target: str, at_s: float = NOW_S) -> AuditEvent:
    return AuditEvent("acme-admin", action, target, "registered", at_s)


def test_every_adapter_implements_the_port(stores: Stores) -> None:
    assert isinstance(stores.topology, TopologyChangeStore)


def test_changes_get_consecutive_versions_and_their_audit_entries(stores: Stores) -> None:
    store = _changes(stores)
    assert store.version() == 0
    assert store.changes() == []
    site = {"id": "edge-a", "tier": "edge", "region": "cn-east"}
    first = store.append(ChangeKind.SITE, "edge-a", site, _event("site.register", "site:edge-a"), 0)
    second = store.append(
        ChangeKind.NODE, "edge-9", NODE, _event("node.register", "node:edge-9", NOW_S + 1), 1
    )
    assert first == TopologyChange(1, ChangeKind.SITE, "edge-a", site, "acme-admin", NOW_S)
    assert second.version == 2
    assert store.version() == 2
    assert store.changes() == [first, second]
    assert store.changes(after_version=1) == [second]
    assert store.changes(after_version=2) == []
    audit = [(e.action, e.target) for e in stores.audit.list()]
    assert audit == [("site.register", "site:edge-a"), ("node.register", "node:edge-9")]


def test_floats_and_nesting_read_back_equal(stores: Stores) -> None:
    body = {"id": "n", "site": "s", "cpu_cores": 4, "mem_gib": 0.1 + 0.2, "tags": ["a", "b"]}
    body["accelerators"] = [{"kind": "gpu", "count": 2, "mem_gib": 80.0}]
    store = _changes(stores)
    store.append(ChangeKind.NODE, "n", body, _event("node.register", "node:n"), 0)
    assert store.changes()[0].body == body


def test_a_stale_version_is_refused_and_writes_nothing(stores: Stores) -> None:
    store = _changes(stores)
    store.append(ChangeKind.NODE, "edge-9", NODE, _event("node.register", "node:edge-9"), 0)
    for stale in (0, 2, 7):
        with pytest.raises(StaleTopologyError, match="version 1"):
            store.append(
                ChangeKind.RETIRE, "edge-9", {}, _event("node.retire", "node:edge-9"), stale
            )
    assert store.version() == 1
    assert [e.action for e in stores.audit.list()] == ["node.register"]


def test_a_body_that_is_not_json_writes_nothing(stores: Stores) -> None:
    store = _changes(stores)
    with pytest.raises(ValueError, match="float"):
        store.append(
            ChangeKind.NODE, "n", {"mem_gib": float("nan")}, _event("node.register", "node:n"), 0
        )
    assert store.version() == 0
    assert stores.audit.list() == []


def test_of_concurrent_writers_of_one_version_exactly_one_commits(stores: Stores) -> None:
    store = _changes(stores)
    won: list[int] = []
    lost: list[str] = []
    barrier = threading.Barrier(4)

    def write(i: int) -> None:
        barrier.wait()
        try:
            change = store.append(
                ChangeKind.NODE,
                f"n-{i}",
                {"id": f"n-{i}"},
                _event("node.register", f"node:n-{i}"),
                0,
            )
            won.append(change.version)
        except StaleTopologyError as error:
            lost.append(str(error))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert won == [1]
    assert len(lost) == 3
    assert store.version() == 1
    assert len(stores.audit.list()) == 1


def test_changes_survive_a_reopen(open_stores: Any) -> None:
    with open_stores() as first:
        if first.engine is None:
            pytest.skip("the in-memory stores keep nothing")
        _changes(first).append(
            ChangeKind.NODE, "edge-9", NODE, _event("node.register", "node:edge-9"), 0
        )
    with open_stores() as second:
        assert [c.record_id for c in _changes(second).changes()] == ["edge-9"]
        assert _changes(second).version() == 1
