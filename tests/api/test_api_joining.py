"""Enrolment and attestation routes: refusals with their reasons, no answer without a challenge."""

from __future__ import annotations

import base64
import time

from api_support import PROVIDER_NODE, Api

from suanwang.security import KeyPair, Role
from suanwang.storage import open_store


def _key() -> str:
    return base64.b64encode(KeyPair.generate(Role.AGENT).public_bytes).decode()


def _token(api: Api, node: str = PROVIDER_NODE) -> str:
    made = api.call("admin", "POST", "/v1/enrol-tokens", json={"node_id": node, "tenant": "acme"})
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


def test_an_expired_token_is_refused_as_expired(api: Api) -> None:
    with open_store(api.settings.resolved_database_url()) as stores:
        assert stores.trust is not None
        now_s = time.time()
        issued = stores.trust.create_enrol_token(PROVIDER_NODE, "acme", now_s - 1.0, now_s - 60)
    body = {"enrol_token": issued.plaintext, "node_id": PROVIDER_NODE, "public_key": _key()}
    refused = api.call(None, "POST", "/v1/enrol", json=body)
    assert refused.status_code == 410
    assert refused.json()["reason"] == "expired"


def test_a_token_for_another_node_or_an_unknown_node_is_refused(api: Api) -> None:
    token = _token(api)
    body = {"enrol_token": token, "node_id": "edge-futian-mec-2", "public_key": _key()}
    other = api.call(None, "POST", "/v1/enrol", json=body)
    assert other.status_code == 403
    assert other.json()["reason"] == "other-node"
    missing = api.call(None, "POST", "/v1/enrol", json=body | {"node_id": "nowhere"})
    assert missing.status_code == 404
    bad_key = api.call(None, "POST", "/v1/enrol", json=body | {"public_key": "AAAA"})
    assert bad_key.status_code == 422


def test_an_enrolled_agent_is_challenged_and_answers_only_open_challenges(api: Api) -> None:
    body = {"enrol_token": _token(api), "node_id": PROVIDER_NODE, "public_key": _key()}
    enrolled = api.call(None, "POST", "/v1/enrol", json=body)
    assert enrolled.status_code == 201, enrolled.text
    headers = {"Authorization": f"Bearer {enrolled.json()['token']}"}
    answer = {"challenge_id": "nope", "row_checksums": [], "measured_gflops": 1.0}
    path = f"/v1/agents/{PROVIDER_NODE}/attestation"
    assert api.client.post(path, json=answer, headers=headers).status_code == 404
    trust = api.call("ops", "GET", f"/v1/nodes/{PROVIDER_NODE}/trust").json()
    assert trust["trust"] == "unverified"
    assert trust["claimed_gflops"] > 0
    assert trust["measured_gflops"] is None
    asked = api.call("admin", "POST", f"/v1/nodes/{PROVIDER_NODE}/attest")
    assert asked.status_code == 202
