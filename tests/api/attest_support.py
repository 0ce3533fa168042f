"""A node's agent played over HTTP: enrolled with a one-time token, heartbeats signed with its
key, challenges answered right or wrong. Works on a ``TestClient`` and on an ``httpx.Client``
to a server process alike (both are httpx clients)."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import httpx

from suanwang.measure.challenge import answer
from suanwang.security import KeyPair, MetricReport, Role, sign_report

CHALLENGE_WAIT_S = 30.0
"""Longest a played agent beats before the challenge it waits for comes."""


@dataclass(frozen=True)
class PlayedAgent:
    """An enrolled agent: its node, bearer token and key."""

    node_id: str
    token: str
    keys: KeyPair

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def enrol(client: httpx.Client, admin: dict[str, str], node_id: str) -> PlayedAgent:
    """Issue an enrolment token as the admin and enrol a fresh key for ``node_id``."""
    made = client.post(
        "/v1/enrol-tokens", json={"node_id": node_id, "tenant": "acme-compute"}, headers=admin
    )
    assert made.status_code == 201, made.text
    keys = KeyPair.generate(Role.AGENT)
    body = {
        "enrol_token": made.json()["token"],
        "node_id": node_id,
        "public_key": base64.b64encode(keys.public_bytes).decode(),
    }
    enrolled = client.post("/v1/enrol", json=body)
    assert enrolled.status_code == 201, enrolled.text
    return PlayedAgent(node_id, str(enrolled.json()["token"]), keys)


def beat(client: httpx.Client, agent: PlayedAgent) -> dict[str, Any] | None:
    """One signed heartbeat; the challenge its answer carries, if any."""
    report = MetricReport(agent.node_id, {"load_ratio": 0.0, "cpu_free_cores": 1.0}, time.time())
    wire = sign_report(agent.keys, report).to_wire().decode()
    sent = client.post(
        f"/v1/agents/{agent.node_id}/metrics", json={"envelope": wire}, headers=agent.headers
    )
    assert sent.status_code == 200, sent.text
    challenge: dict[str, Any] | None = sent.json()["challenge"]
    return challenge


def next_challenge(client: httpx.Client, agent: PlayedAgent) -> dict[str, Any]:
    """Heartbeats until one's answer carries a challenge (bounded in time)."""
    deadline = time.monotonic() + CHALLENGE_WAIT_S
    while (challenge := beat(client, agent)) is None:
        assert time.monotonic() < deadline, f"no challenge for {agent.node_id}"
        time.sleep(0.1)
    return challenge


def respond(
    client: httpx.Client, agent: PlayedAgent, measured_gflops: float, *, right: bool
) -> dict[str, Any]:
    """Answer the next challenge with the true checksums (``right``) or made-up ones."""
    challenge = next_challenge(client, agent)
    size = int(challenge["size"])
    checks = list(answer(int(challenge["seed"]), size).row_checksums) if right else [1.0] * size
    body = {
        "challenge_id": challenge["id"],
        "row_checksums": checks,
        "measured_gflops": measured_gflops,
    }
    judged = client.post(
        f"/v1/agents/{agent.node_id}/attestation", json=body, headers=agent.headers
    )
    assert judged.status_code == 200, judged.text
    verdict: dict[str, Any] = judged.json()
    return verdict


def quarantine(client: httpx.Client, admin: dict[str, str], node_id: str) -> str:
    """Enrol an agent for the node and answer its challenge wrong; the verdict's reason."""
    agent = enrol(client, admin, node_id)
    verdict = respond(client, agent, 1.0, right=False)
    assert verdict["verdict"] == "wrong-result", verdict
    return str(verdict["reason"])


def attest(
    client: httpx.Client, admin: dict[str, str], node_id: str, measured_gflops: float, rounds: int
) -> PlayedAgent:
    """Enrol an agent for the node and answer ``rounds`` challenges right, an admin asking for
    each one after the first (the next periodic one is minutes away)."""
    agent = enrol(client, admin, node_id)
    for round_ in range(rounds):
        if round_:
            asked = client.post(f"/v1/nodes/{node_id}/attest", headers=admin)
            assert asked.status_code == 202, asked.text
        verdict = respond(client, agent, measured_gflops, right=True)
        assert verdict["verdict"] == "consistent", verdict
    return agent
