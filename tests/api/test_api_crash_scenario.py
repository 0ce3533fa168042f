"""Crash safety of a scenario load: a real server SIGKILLed at random points of an upload.

Each round submits tasks on the live scenario, uploads the other of two generated scenarios
with ``cancel_active``, kills the server after a random delay (from before the request is read
to after it is answered), and restarts it. After every restart the state is whole: either the
old scenario with this round's tasks still active and no new ``scenario.load`` entry, or the
new scenario with those tasks cancelled and its entry in the audit log; never a mix, and no
staged file is left behind.
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

from suanwang.scenario.generate import generate_scenario
from suanwang.scenario.io import dumps_scenario

ROUNDS = 20
TASKS_PER_ROUND = 3
NODES = 1500
"""Scenario size: large enough that an upload spans parse, build, staging and commit."""
MAX_BODY_BYTES = 8 << 20
TASK = {"work_gflop": 5.0, "cpu_cores": 1.0, "mem_gib": 0.5, "ingress_site": "terminal-0"}
ACTIVE = {"pending", "scheduled", "running"}


def _scenario_text(name: str, seed: int) -> str:
    return dumps_scenario(generate_scenario(NODES, seed=seed, name=name), "json")


def _loads(client: httpx.Client) -> list[dict[str, Any]]:
    """Every ``scenario.load`` audit entry, oldest first."""
    out: list[dict[str, Any]] = []
    after: int | None = None
    for _ in range(10_000):
        params: dict[str, Any] = {"limit": 1000} | ({} if after is None else {"after_seq": after})
        page = client.get("/v1/audit", params=params).json()
        out += [e for e in page if e["action"] == "scenario.load"]
        if len(page) < 1000:
            return out
        after = page[-1]["seq"]
    raise AssertionError("the audit log did not end")


class Upload:
    """One scenario upload in a thread; ``status`` is None when no answer came."""

    def __init__(self, client: httpx.Client, text: str) -> None:
        self.status: int | None = None
        self._client, self._text = client, text
        self.sent = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        body = {"text": self._text, "format": "json", "cancel_active": True}
        self.sent.set()
        try:
            self.status = self._client.post("/v1/scenarios/live", json=body).status_code
        except httpx.HTTPError:
            self.status = None


@pytest.mark.timeout(600)
def test_a_killed_scenario_upload_leaves_the_old_state_or_the_new_one_never_half(
    tmp_path: Path,
) -> None:
    server = Server(tmp_path / "data", tmp_path / "server.log")
    server.args = ["--max-body-bytes", str(MAX_BODY_BYTES)]
    token = seed_principals(make_settings(tmp_path))["admin"]
    texts = {"gen-a": _scenario_text("gen-a", 1), "gen-b": _scenario_text("gen-b", 2)}
    rng = random.Random(14)
    outcomes: Counter[str] = Counter()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        server.start()
        with httpx.Client(base_url=server.url, headers=headers, timeout=30.0) as client:
            started_s = time.perf_counter()
            first = client.post(
                "/v1/scenarios/live", json={"text": texts["gen-a"], "format": "json"}
            )
            upload_s = time.perf_counter() - started_s
            assert first.status_code == 200, first.text
        live = "gen-a"
        for round_no in range(ROUNDS):
            new = "gen-b" if live == "gen-a" else "gen-a"
            with httpx.Client(base_url=server.url, headers=headers, timeout=30.0) as client:
                loads_before = len(_loads(client))
                tasks = [
                    client.post("/v1/tasks", json=TASK).json()["id"] for _ in range(TASKS_PER_ROUND)
                ]
                upload = Upload(client, texts[new])
                upload.thread.start()
                upload.sent.wait(10)
                # From before the server reads the body to after it answers.
                timer = threading.Timer(rng.uniform(0.0, 1.5 * upload_s), server.kill)
                timer.start()
                timer.join(30)
                upload.thread.join(60)
            server.start()
            with httpx.Client(base_url=server.url, headers=headers, timeout=30.0) as client:
                now_live = client.get("/v1/scenarios").json()["live"]
                loads = _loads(client)
                states = [client.get(f"/v1/tasks/{t}").json() for t in tasks]
            assert not list(server.data_dir.glob("*.staged")), round_no
            if now_live == new:
                outcomes["new"] += 1
                assert len(loads) == loads_before + 1, round_no
                assert loads[-1]["target"] == f"scenario:{new}"
                for task in states:
                    assert task["state"] == "cancelled", (round_no, task["history"])
                    assert task["reason"] == f"the live topology was replaced by {new}"
            else:
                outcomes["old"] += 1
                assert now_live == live, round_no
                assert upload.status != 200, f"round {round_no}: an answered load was lost"
                assert len(loads) == loads_before, round_no
                assert all(task["state"] in ACTIVE for task in states), round_no
            live = now_live
    finally:
        server.stop()
    assert sum(outcomes.values()) == ROUNDS
    print(f"kill rounds: {dict(outcomes)}")
