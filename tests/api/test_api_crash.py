"""Crash safety: a real server killed with SIGKILL while tasks pour in, then restarted.

Every task acknowledged with a 2xx must be stored exactly once after the restart; a submission
whose answer was lost is retried with its idempotency key and must not create a second task;
unfinished tasks are taken over by the restarted controller.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
from api_support import CPU_TASK, Server, make_settings, seed_principals

CLIENTS = 6
ACKS_BEFORE_KILL = 150
ROUNDS = 2


class Load:
    """Clients submitting keyed tasks until the server dies under them."""

    def __init__(self, url: str, token: str, prefix: str) -> None:
        self.url, self.token, self.prefix = url, token, prefix
        self.acked: dict[str, str] = {}  # idempotency key -> task id
        self.unknown: list[str] = []  # keys whose answer never came
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def run(self, client_no: int) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=10.0) as client:
            for i in range(100_000):
                if self._stop.is_set():
                    return
                key = f"{self.prefix}-{client_no}-{i}"
                try:
                    response = client.post(
                        "/v1/tasks", json=CPU_TASK, headers={"Idempotency-Key": key}
                    )
                except httpx.HTTPError:
                    with self._lock:
                        self.unknown.append(key)
                    return
                assert response.status_code == 201, response.text
                with self._lock:
                    self.acked[key] = response.json()["id"]

    def until_killed(self, server: Server, acks: int, timeout_s: float = 60.0) -> None:
        threads = [threading.Thread(target=self.run, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout_s
        while len(self.acked) < acks and time.monotonic() < deadline:
            time.sleep(0.005)
        server.kill()  # mid-stream: requests are in flight and in an open batch
        self._stop.set()
        for thread in threads:
            thread.join(30)
        assert len(self.acked) >= acks


def _keys(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT idempotency_key, COUNT(*) FROM tasks GROUP BY idempotency_key"
        ).fetchall()
    return dict(rows)


@pytest.mark.timeout(180)
def test_every_acknowledged_task_survives_sigkill_exactly_once(server: Server) -> None:
    settings = make_settings(server.data_dir.parent)
    token = seed_principals(settings)["alice"]
    acked: dict[str, str] = {}
    unknown: list[str] = []
    for round_no in range(ROUNDS):
        server.start()
        load = Load(server.url, token, f"r{round_no}")
        load.until_killed(server, ACKS_BEFORE_KILL)
        acked |= load.acked
        unknown += load.unknown
    server.start()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10.0) as client:
        # Acknowledged tasks are there, with the id the client was given.
        for key, task_id in acked.items():
            task = client.get(f"/v1/tasks/{task_id}").json()
            assert task["id"] == task_id, key
        # A lost answer is retried: one task per key, whether or not it was stored before.
        for key in unknown:
            retried = client.post("/v1/tasks", json=CPU_TASK, headers={"Idempotency-Key": key})
            assert retried.status_code in (200, 201)
        ids: list[str] = []
        cursor = None
        for _ in range(1000):
            params = {"limit": 1000} | ({"cursor": cursor} if cursor else {})
            page = client.get("/v1/tasks", params=params).json()
            ids += [t["id"] for t in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        resumed = client.get(f"/v1/tasks/{next(iter(acked.values()))}").json()
    assert len(ids) == len(set(ids))
    assert set(acked.values()) <= set(ids)
    counts = _keys(settings.data_dir / "suanwang.db")
    assert all(count == 1 for count in counts.values())
    assert set(counts) == set(acked) | set(unknown)
    # The restarted controller took the scheduled tasks over and placed them again.
    reasons = [step["reason"] for step in resumed["history"]]
    assert "controller restarted" in reasons
    assert resumed["state"] == "scheduled"
