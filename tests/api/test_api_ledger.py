"""GET /v1/ledger/head and the proofs: the audit trail checkpointed by the server's sync thread."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

from api_support import Api, make_settings, seed_principals
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from suanwang.api import create_app
from suanwang.control.ledgerstore import SignedHead
from suanwang.ledger import merkle
from suanwang.ledger.heads import head_signed_by

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _head(api: Api, at_least: int) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        response = api.call("admin", "GET", "/v1/ledger/head")
        if response.status_code == 200 and response.json()["tree_size"] >= at_least:
            body: dict[str, object] = response.json()
            return body
        time.sleep(0.05)
    raise AssertionError("no head of that size")


def test_head_inclusion_and_consistency(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ledger_sync_s=0.05)
    tokens = seed_principals(settings)
    with TestClient(create_app(settings)) as client:
        api = Api(client, settings, tokens)
        assert api.call("alice", "GET", "/v1/ledger/head").status_code == 403
        assert api.call("admin", "POST", "/v1/principals/bob/tokens").status_code == 201
        first = _head(api, 1)
        old = int(str(first["tree_size"]))
        created = api.call("admin", "POST", "/v1/principals/alice/tokens")
        assert created.status_code == 201
        head = _head(api, old + 1)
        size = int(str(head["tree_size"]))
        signed = SignedHead(
            size,
            bytes.fromhex(str(head["root_hash"])),
            int(str(head["timestamp_ms"])),
            str(head["key_id"]),
            bytes.fromhex(str(head["signature"])),
        )
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(str(head["public_key"])))
        assert head_signed_by(signed, key)
        proof = api.call("admin", "GET", "/v1/ledger/proofs/inclusion", params={"seq": 1}).json()
        assert merkle.verify_inclusion(
            proof["leaf_index"],
            proof["head"]["tree_size"],
            bytes.fromhex(proof["leaf_hash"]),
            [bytes.fromhex(p) for p in proof["audit_path"]],
            bytes.fromhex(proof["head"]["root_hash"]),
        )
        missing = api.call("admin", "GET", "/v1/ledger/proofs/inclusion", params={"seq": 10**9})
        assert missing.status_code == 404
        answer = api.call(
            "admin", "GET", "/v1/ledger/proofs/consistency", params={"old": old, "new": size}
        ).json()
        assert merkle.verify_consistency(
            old,
            size,
            bytes.fromhex(str(first["root_hash"])),
            signed.root,
            [bytes.fromhex(p) for p in answer["proof"]],
        )
        bad = api.call("admin", "GET", "/v1/ledger/proofs/consistency", params={"old": size + 5})
        assert bad.status_code == 422
