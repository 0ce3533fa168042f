"""The agent's report spool: durable, in order, resent until answered, bounded."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from suanwang.execution.spool import Reports, ReportSpool


class Server:
    """A control plane stand-in that ends each run once, as the real one does.

    A report on a run it already ended is refused (409); ``down`` makes every request fail
    as a refused connection does.
    """

    def __init__(self) -> None:
        self.down = False
        self.status: int | None = None  # answer every report with this, when set
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.ended: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        run_id = request.url.path.split("/")[3]
        body = json.loads(request.content)
        self.received.append((run_id, body))
        if self.status is not None:
            return httpx.Response(self.status, json={"detail": "no"})
        if run_id in self.ended:
            return httpx.Response(409, json={"detail": f"task {run_id} was already reported"})
        self.ended.append(run_id)
        return httpx.Response(200, json={"id": run_id})

    def client(self) -> httpx.Client:
        return httpx.Client(base_url="http://plane", transport=httpx.MockTransport(self.handle))


def test_a_report_is_on_disk_before_it_is_sent_and_survives_a_restart(tmp_path: Path) -> None:
    folder = tmp_path / "agent.key.spool"
    server = Server()
    server.down = True
    with server.client() as client:
        reports = Reports("n1", ReportSpool(folder))
        reports.finished(client, "t1", ok=True, reason="done", measured_ms=12.5)
        reports.finished(client, "t2", ok=False, reason="failed: boom")
    assert len(list(folder.glob("*.json"))) == 2
    assert reports.completed == reports.failed == 0  # nothing counts as reported yet

    again = ReportSpool(folder)  # the agent started again
    assert [(e.run_id, e.body["ok"]) for e in again.pending()] == [("t1", True), ("t2", False)]
    server.down = False
    restarted = Reports("n1", again)
    with server.client() as client:
        assert restarted.deliver(client)
    assert [run for run, _ in server.received] == ["t1", "t2"]  # in the order they ended
    first = server.received[0][1]
    assert first == {
        "node_id": "n1",
        "event": "finished",
        "ok": True,
        "reason": "done",
        "measured_compute_ms": 12.5,
    }
    assert (restarted.completed, restarted.failed) == (1, 1)
    assert list(folder.iterdir()) == []
    assert ReportSpool(folder).pending() == []


def test_a_crash_between_sending_and_deleting_resends_the_report_once(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    server = Server()
    spool = ReportSpool(folder)
    entry = spool.add("t1", {"event": "finished", "ok": True, "reason": "done"})
    assert entry is not None
    with server.client() as client:
        # The control plane took it, and the agent died before it deleted the file.
        assert Reports("n1", spool).event(client, entry.run_id, entry.body)
        reports = Reports("n1", ReportSpool(folder))
        assert reports.deliver(client)  # sent once more, refused as already ended
        assert not reports.deliver(client)  # and never again
    assert [run for run, _ in server.received] == ["t1", "t1"]
    assert server.ended == ["t1"]
    assert reports.completed == 0  # the second answer was a refusal: counted nowhere twice
    assert list(folder.iterdir()) == []


def test_delivery_stops_at_the_first_report_it_cannot_send_and_keeps_the_order(
    tmp_path: Path,
) -> None:
    server = Server()
    reports = Reports("n1", ReportSpool(tmp_path / "spool"))
    with server.client() as client:
        reports.finished(client, "t1", ok=True, reason="a")
        server.down = True
        reports.finished(client, "t2", ok=True, reason="b")
        reports.finished(client, "t3", ok=True, reason="c")
        assert [e.run_id for e in reports.spool.pending()] == ["t2", "t3"]
        server.status = 503  # back, but not ready: still kept
        server.down = False
        assert not reports.deliver(client)
        assert len(reports.spool) == 2
        server.status = None
        assert reports.deliver(client)
    assert [run for run, _ in server.received] == ["t1", "t2", "t2", "t3"]
    assert server.ended == ["t1", "t2", "t3"]
    assert reports.completed == 3


def test_a_report_refused_as_malformed_does_not_hold_up_the_others(tmp_path: Path) -> None:
    server = Server()
    reports = Reports("n1", ReportSpool(tmp_path / "spool"))
    server.status = 422
    with server.client() as client:
        reports.finished(client, "t1", ok=True, reason="a")
        assert len(reports.spool) == 0
        server.status = None
        reports.finished(client, "t2", ok=True, reason="b")
    assert server.ended == ["t2"]


def test_the_spool_is_bounded_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server = Server()
    server.down = True
    spool = ReportSpool(tmp_path / "spool", cap=2)
    reports = Reports("n1", spool)
    with caplog.at_level(logging.ERROR, "suanwang.agent"), server.client() as client:
        for run_id in ("t1", "t2", "t3"):
            reports.finished(client, run_id, ok=True, reason="done")
    assert [e.run_id for e in spool.pending()] == ["t1", "t2"]
    assert spool.dropped == 1
    assert "report spool full (2 reports unsent): the report on run t3 is dropped" in caplog.text
    assert len(list((tmp_path / "spool").glob("*.json"))) == 2
    with pytest.raises(ValueError, match="spool cap: 0"):
        ReportSpool(None, cap=0)


def test_a_write_cut_short_by_a_crash_is_not_a_report(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    spool = ReportSpool(folder)
    spool.add("t1", {"event": "finished", "ok": True, "reason": "done"})
    (folder / "000000000002.tmp").write_bytes(b'{"run_id": "t2", "bo')  # never renamed
    (folder / "000000000003.json").write_bytes(b"not json")  # a damaged file
    again = ReportSpool(folder)
    assert [e.run_id for e in again.pending()] == ["t1"]
    assert sorted(p.name for p in folder.iterdir()) == ["000000000001.json"]
    later = again.add("t4", {"event": "finished", "ok": True, "reason": "done"})
    assert later is not None
    assert later.seq == 2


def test_without_a_folder_reports_wait_in_memory(tmp_path: Path) -> None:
    server = Server()
    server.down = True
    reports = Reports("n1", ReportSpool(None))
    with server.client() as client:
        reports.finished(client, "t1", ok=True, reason="done")
        assert len(reports.spool) == 1
        server.down = False
        assert reports.deliver(client)
    assert server.ended == ["t1"]
    assert list(tmp_path.iterdir()) == []
