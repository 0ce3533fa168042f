"""Crash safety of a registration: a real server SIGKILLed at random points of ``POST /v1/nodes``.

Each round starts the server on one SQLite data folder, registers a new node and kills the
process after a delay drawn from a seeded RNG (from before the request is read to after it is
answered). The store is then opened directly: the node is either wholly registered (its change
row with the next version and its ``node.register`` audit entry) or absent (neither), never
half; versions have no gap; the next start serves exactly the registered nodes; and the
caller's retry of the same record succeeds without registering it twice.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import Server, make_settings, seed_principals

from suanwang.storage import open_store

ROUNDS = 20
SITE = {"id": "edge-crash", "tier": "edge", "region": "cn-south"}
LINK = {"a": "term-futian", "b": "edge-crash", "bandwidth_mbps": 1000, "latency_ms": 1}


def _node(round_no: int) -> dict[str, Any]:
    return {"id": f"crash-{round_no}", "site": "edge-crash", "cpu_cores": 8, "mem_gib": 32}


class Registration:
    """One ``POST /v1/nodes`` in a thread; ``status`` is None when no answer came."""

    def __init__(self, client: httpx.Client, body: dict[str, Any]) -> None:
        self.status: int | None = None
        self._client, self._body = client, body
        self.sent = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        self.sent.set()
        try:
            self.status = self._client.post("/v1/nodes", json=self._body).status_code
        except httpx.HTTPError:
            self.status = None


def _stored(url: str, node_id: str) -> tuple[list[int], bool, bool]:
    """Versions stored, and whether ``node_id`` has its change row and its audit entry."""
    with open_store(url) as stores:
        assert stores.topology is not None
        changes = stores.topology.changes()
        row = any(c.record_id == node_id for c in changes)
        audit = [e for e in stores.audit.list(limit=1000) if e.target == f"node:{node_id}"]
        return [c.version for c in changes], row, any(e.action == "node.register" for e in audit)


@pytest.mark.timeout(300)
def test_a_killed_registration_leaves_the_node_whole_or_absent_never_half(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    url = settings.resolved_database_url()
    server = Server(tmp_path / "data", tmp_path / "server.log")
    token = seed_principals(settings)["admin"]
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(16)
    outcomes: Counter[str] = Counter()
    registered: set[str] = set()
    try:
        server.start()
        with httpx.Client(base_url=server.url, headers=headers, timeout=30.0) as client:
            assert client.post("/v1/sites", json=SITE).status_code == 201
            assert client.post("/v1/links", json=LINK).status_code == 201
            started_s = time.perf_counter()
            warm = client.post("/v1/nodes", json=_node(-1))
            request_s = time.perf_counter() - started_s
            assert warm.status_code == 201, warm.text
        registered.add("crash--1")
        for round_no in range(ROUNDS):
            node_id = f"crash-{round_no}"
            with httpx.Client(base_url=server.url, headers=headers, timeout=30.0) as client:
                registration = Registration(client, _node(round_no))
                registration.thread.start()
                registration.sent.wait(10)
                timer = threading.Timer(rng.uniform(0.0, 2.0 * request_s), server.kill)
                timer.start()
                timer.join(30)
                registration.thread.join(30)
            versions, row, audited = _stored(url, node_id)
            assert versions == list(range(1, len(versions) + 1)), (round_no, versions)
            assert row == audited, f"round {round_no}: row {row}, audit entry {audited}"
            if row:
                outcomes["whole"] += 1
                registered.add(node_id)
            else:
                outcomes["absent"] += 1
                assert registration.status != 201, f"round {round_no}: an answered one was lost"
            assert len(versions) == 2 + len(registered), round_no  # site, link, nodes
            server.start()
            with httpx.Client(base_url=server.url, headers=headers, timeout=30.0) as client:
                served = {
                    n["id"] for n in client.get("/v1/nodes", params={"limit": 100_000}).json()
                }
                assert {n for n in served if n.startswith("crash-")} == registered, round_no
                # The caller retries: the same record answers the stored change or makes it.
                retried = client.post("/v1/nodes", json=_node(round_no))
                assert retried.status_code == 201, (round_no, retried.text)
            registered.add(node_id)
            assert len(_stored(url, node_id)[0]) == 2 + len(registered), round_no
    finally:
        server.stop()
    assert sum(outcomes.values()) == ROUNDS
    print(f"kill rounds: {dict(outcomes)}")
