"""Access audit: staff reads of another tenant's tasks and explanations land in the audit log."""

from __future__ import annotations

import time
from typing import Any

from api_support import Api


def _reads(api: Api, after_seq: int = 0) -> list[dict[str, Any]]:
    entries = api.call("admin", "GET", "/v1/audit", params={"limit": 1000}).json()
    return [e for e in entries if e["action"] == "access.read" and e["seq"] > after_seq]


def _settled(api: Api, count: int) -> list[dict[str, Any]]:
    """The access entries once ``count`` of them are committed (bounded wait)."""
    deadline = time.monotonic() + 10.0
    while len(found := _reads(api)) < count:
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found


def test_an_admin_reading_another_tenants_task_is_recorded_once_per_window(api: Api) -> None:
    task = api.submit("alice")
    path = f"/v1/tasks/{task['id']}"
    for _ in range(5):  # a polling portal: one entry, not five
        assert api.call("admin", "GET", path).status_code == 200
    assert api.call("admin", "GET", f"{path}/explain").status_code == 200
    assert api.call("admin", "GET", "/v1/tasks").status_code == 200
    entries = _settled(api, 3)
    assert all(e["who"] == "admin" and e["target"] == "tenant:acme" for e in entries)
    details = sorted(e["detail"].split(" of tenant")[0] for e in entries)
    assert details == [f"explanation:{task['id']}", f"task:{task['id']}", "tasks"]
    assert len(entries) == 3
    assert entries[0]["at_s"] > 0


def test_own_tenant_reads_and_consumers_reads_are_not_recorded(api: Api) -> None:
    task = api.submit("alice")
    assert api.call("alice", "GET", f"/v1/tasks/{task['id']}").status_code == 200
    assert api.call("ops", "GET", "/v1/tasks").status_code == 200  # only its own tenant's
    own = api.submit("admin")
    assert api.call("admin", "GET", f"/v1/tasks/{own['id']}").status_code == 200
    api.submit("alice")  # the writer is FIFO: any entry the reads queued is committed by now
    assert _reads(api) == []


def test_an_operator_reading_a_providers_node_metrics_is_recorded(api: Api) -> None:
    nodes = api.call("ops", "GET", "/v1/nodes").json()
    owned = next(n["id"] for n in nodes if n["owner"] not in ("operator", ""))
    owner = next(n["owner"] for n in nodes if n["id"] == owned)
    assert api.call("ops", "GET", f"/v1/nodes/{owned}/metrics").status_code == 200
    assert api.call("ops", "GET", f"/v1/nodes/{owned}/levels").status_code == 200
    entries = _settled(api, 2)
    assert {e["who"] for e in entries} == {"ops"}
    assert {e["target"] for e in entries} == {f"tenant:{owner}"}
