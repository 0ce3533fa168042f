"""Tokens with an expiry: refused with 401 and a reason once expired, never cached past it."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

from api_support import Api, make_settings, seed_principals

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from suanwang.api import create_app
from suanwang.storage import open_store


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_expired_token_is_refused_with_the_reason(api: Api) -> None:
    with open_store(api.settings.resolved_database_url()) as stores:
        expired = stores.principals.create_token("alice", expires_at_s=time.time() - 1.0)
        live = stores.principals.create_token("alice", expires_at_s=time.time() + 3600.0)
    refused = api.client.get("/v1/whoami", headers=_bearer(expired.plaintext))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["detail"].startswith(f"the bearer token {expired.token_id} expired at ")
    assert api.client.get("/v1/whoami", headers=_bearer(live.plaintext)).json()["id"] == "alice"


def test_a_revoked_and_an_unknown_token_say_so(api: Api) -> None:
    issued = api.call("admin", "POST", "/v1/principals/bob/tokens").json()
    api.call("admin", "DELETE", f"/v1/tokens/{issued['token_id']}")
    revoked = api.client.get("/v1/whoami", headers=_bearer(issued["token"])).json()
    assert revoked["detail"] == f"the bearer token {issued['token_id']} was revoked"
    unknown = api.client.get("/v1/whoami", headers=_bearer("swt_never-issued")).json()
    assert unknown["detail"] == "the bearer token is not valid"


def test_the_token_cache_never_outlives_an_expiry(tmp_path: Path) -> None:
    settings = make_settings(tmp_path).model_copy(update={"token_cache_s": 3600.0})
    seed_principals(settings)
    ttl_s = 1.0
    with open_store(settings.resolved_database_url()) as stores:
        short = stores.principals.create_token("bob", expires_at_s=time.time() + ttl_s)
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/whoami", headers=_bearer(short.plaintext)).status_code == 200
        # Bounded wait for the expiry itself (the thing under test is wall-clock time).
        deadline = time.monotonic() + ttl_s + 5.0
        status = 200
        while status == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
            status = client.get("/v1/whoami", headers=_bearer(short.plaintext)).status_code
        assert status == 401
        assert time.monotonic() < deadline
