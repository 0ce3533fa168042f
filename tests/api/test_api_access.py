"""Zero-trust access: tokens on every route, roles per route, tenants kept apart."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from api_support import PROVIDER_NODE, Api, make_settings, seed_principals

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from suanwang.api import create_app
from suanwang.control.stores import Principal, Role

ADMIN, OPS, CONSUMER, PROVIDER, AGENT = "admin", "ops", "alice", "prov", "agent"
EVERYONE = {ADMIN, OPS, CONSUMER, PROVIDER, AGENT}
PEOPLE = EVERYONE - {AGENT}
STAFF = {ADMIN, OPS}
SUBMITTERS = {ADMIN, OPS, CONSUMER}
N = PROVIDER_NODE
D = "0" * 64  # a digest: the path pattern admits it, so role checks answer before a 404

# Every route with the principals it admits ({} for none but /health, which needs no token).
ROUTES: list[tuple[str, str, set[str]]] = [
    ("POST", "/v1/tasks", SUBMITTERS),
    ("GET", "/v1/tasks", PEOPLE),
    ("GET", "/v1/tasks/x", PEOPLE),
    ("POST", "/v1/tasks/x/cancel", SUBMITTERS),
    ("GET", "/v1/tasks/x/explain", PEOPLE),
    ("POST", "/v1/tasks/x/report", {AGENT}),
    ("GET", "/v1/placements", PEOPLE),
    ("GET", "/v1/sites", PEOPLE),
    ("GET", "/v1/sites/x", PEOPLE),
    ("GET", "/v1/nodes", PEOPLE),
    ("GET", f"/v1/nodes/{N}", PEOPLE),
    ("GET", f"/v1/nodes/{N}/metrics", {ADMIN, OPS, PROVIDER}),
    ("GET", f"/v1/nodes/{N}/levels", {ADMIN, OPS, PROVIDER}),
    ("POST", f"/v1/nodes/{N}/down", {ADMIN, OPS, PROVIDER}),
    ("POST", f"/v1/nodes/{N}/up", {ADMIN, OPS, PROVIDER}),
    ("POST", f"/v1/nodes/{N}/drain", {ADMIN, OPS, PROVIDER}),
    ("POST", "/v1/sites", {ADMIN, OPS, PROVIDER}),
    ("POST", "/v1/nodes", {ADMIN, OPS, PROVIDER}),
    ("POST", "/v1/links", {ADMIN, OPS, PROVIDER}),
    ("POST", "/v1/services", {ADMIN, OPS, PROVIDER}),
    ("POST", f"/v1/nodes/{N}/retire", {ADMIN, OPS, PROVIDER}),
    ("GET", "/v1/topology/changes", STAFF),
    ("GET", "/v1/links", PEOPLE),
    ("GET", "/v1/links/x", PEOPLE),
    ("GET", "/v1/load", PEOPLE),
    ("GET", "/v1/series", PEOPLE),
    ("POST", "/v1/links/x/down", STAFF),
    ("POST", "/v1/links/x/up", STAFF),
    ("GET", "/v1/services", PEOPLE),
    ("GET", "/v1/services/x", PEOPLE),
    ("PUT", f"/v1/agents/{N}/key", {AGENT}),
    ("POST", f"/v1/agents/{N}/pull", {AGENT}),
    ("POST", f"/v1/agents/{N}/metrics", {AGENT}),
    ("PUT", f"/v1/agents/{N}/echo", {AGENT}),
    ("GET", f"/v1/agents/{N}/peers", {AGENT}),
    ("POST", f"/v1/agents/{N}/rtt", {AGENT}),
    ("POST", f"/v1/agents/{N}/attestation", {AGENT}),
    ("POST", "/v1/enrol-tokens", {ADMIN}),
    ("GET", f"/v1/nodes/{N}/trust", STAFF),
    ("POST", f"/v1/nodes/{N}/attest", {ADMIN}),
    ("GET", "/v1/scenarios", PEOPLE),
    ("GET", "/v1/catalogue/types", PEOPLE),
    ("POST", "/v1/scenarios/live", STAFF),
    ("POST", "/v1/twin-runs", SUBMITTERS),
    ("GET", "/v1/twin-runs", SUBMITTERS),
    ("GET", "/v1/twin-runs/x", SUBMITTERS),
    ("GET", "/v1/twin-runs/x/files/y", SUBMITTERS),
    ("GET", "/v1/whoami", EVERYONE),
    ("POST", "/v1/principals", {ADMIN}),
    ("GET", "/v1/principals", {ADMIN}),
    ("POST", "/v1/principals/x/tokens", {ADMIN}),
    ("DELETE", "/v1/tokens/x", {ADMIN}),
    ("GET", "/v1/audit", {ADMIN}),
    ("GET", "/v1/ledger/head", {ADMIN}),
    ("GET", "/v1/ledger/proofs/inclusion", {ADMIN}),
    ("GET", "/v1/ledger/proofs/consistency", {ADMIN}),
    ("GET", "/v1/geo/outlines", PEOPLE),
    ("POST", "/v1/objects", SUBMITTERS),
    ("GET", "/v1/objects", PEOPLE),
    ("GET", f"/v1/objects/{D}", PEOPLE),
    ("DELETE", f"/v1/objects/{D}", SUBMITTERS),
    ("POST", "/v1/artefacts", SUBMITTERS),
    ("GET", f"/v1/artefacts/{D}", PEOPLE),
    ("GET", "/v1/tasks/x/result", PEOPLE),
    ("GET", "/v1/tasks/x/logs", PEOPLE),
    ("POST", f"/v1/agents/{N}/runs", {AGENT}),
    ("PUT", f"/v1/agents/{N}/runs/x/logs", {AGENT}),
    ("GET", f"/v1/agents/{N}/runs/x/objects/{D}", {AGENT}),
    ("POST", f"/v1/agents/{N}/runs/x/result", {AGENT}),
    ("POST", "/v1/deployments", SUBMITTERS),
    ("GET", "/v1/deployments", PEOPLE),
    ("GET", "/v1/deployments/x", PEOPLE),
    ("DELETE", "/v1/deployments/x", SUBMITTERS),
    ("POST", "/v1/twin/fork", STAFF),
    ("POST", "/v1/market/offers", {ADMIN, OPS, PROVIDER}),
    ("GET", "/v1/market/offers", PEOPLE),
    ("POST", "/v1/market/orders", SUBMITTERS),
    ("GET", "/v1/market/leases", PEOPLE),
    ("DELETE", "/v1/market/leases/x", SUBMITTERS),
    ("POST", "/v1/market/deposits", STAFF),
    ("POST", "/v1/market/periods/x/close", STAFF),
    ("GET", "/v1/market/bills/x", PEOPLE),
    ("GET", "/v1/market/payouts", {ADMIN, OPS, PROVIDER}),
    ("GET", "/v1/market/events", PEOPLE),
    ("GET", "/v1/market/usage", PEOPLE),
    ("GET", "/v1/market/invoices", PEOPLE),
    ("POST", "/v1/intents", SUBMITTERS),
    ("GET", "/v1/intents", PEOPLE),
    ("GET", "/v1/intents/x", PEOPLE),
    ("DELETE", "/v1/intents/x", SUBMITTERS),
    ("POST", "/v1/templates", SUBMITTERS),
    ("GET", "/v1/templates", PEOPLE),
    ("GET", "/v1/templates/x", PEOPLE),
    ("DELETE", "/v1/templates/x", SUBMITTERS),
    ("POST", "/v1/graphs", SUBMITTERS),
    ("GET", "/v1/graphs", PEOPLE),
    ("GET", "/v1/graphs/x", PEOPLE),
    ("DELETE", "/v1/graphs/x", SUBMITTERS),
    ("GET", "/metrics", STAFF),
]
# A body no route accepts (every input model forbids unknown fields): admitted callers get a
# 4xx from validation, so the matrix changes nothing.
BODY = {"not_a_field": 1}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Api:
    settings = make_settings(tmp_path_factory.mktemp("access"))
    tokens = seed_principals(settings)
    client = TestClient(create_app(settings))
    client.__enter__()
    api = Api(client, settings, tokens)
    api.add_principal(
        Principal("agent", "acme-compute", frozenset({Role.AGENT}), frozenset({N}), "k" * 32)
    )
    yield api
    client.__exit__(None, None, None)


def test_the_matrix_covers_every_route(shared: Api) -> None:
    document = shared.client.get("/openapi.json").json()
    declared = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    # /health and the enrolment (whose credential is the one-time token) need no bearer token.
    templated = {(m, _template(p)) for m, p, _ in ROUTES} | {("GET", "/health")}
    templated |= {("POST", "/v1/enrol")}
    assert declared == templated


def _template(path: str) -> str:
    parts = path.split("/")
    return "/".join(
        "{" + _param_after(parts[i - 1]) + "}" if part in ("x", "y", N, D) else part
        for i, part in enumerate(parts)
    )


# The name of a path parameter, by the segment before it.
PARAMS = {
    "tasks": "task_id",
    "sites": "site_id",
    "nodes": "node_id",
    "links": "link_id",
    "services": "service_id",
    "agents": "node_id",
    "twin-runs": "run_id",
    "runs": "run_id",
    "principals": "principal_id",
    "tokens": "token_id",
    "files": "name",
    "objects": "digest",
    "artefacts": "digest",
    "deployments": "name",
    "leases": "lease_id",
    "periods": "period",
    "bills": "period",
    "intents": "intent_id",
    "templates": "name",
    "graphs": "run_id",
}


def _param_after(segment: str) -> str:
    assert segment in PARAMS, segment
    return PARAMS[segment]


@pytest.mark.parametrize(("method", "path", "_admitted"), ROUTES)
def test_no_token_or_a_bad_one_is_401(
    shared: Api, method: str, path: str, _admitted: set[str]
) -> None:
    for headers in ({}, {"Authorization": "Bearer swt_nope"}, {"Authorization": "Basic eDp5"}):
        response = shared.client.request(method, path, headers=headers, json=BODY)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path", "admitted"), ROUTES)
def test_roles_per_route(shared: Api, method: str, path: str, admitted: set[str]) -> None:
    for who in sorted(EVERYONE):
        status = shared.call(who, method, path, json=BODY).status_code
        if who in admitted:
            assert status not in (401, 403), (who, status)
        else:
            assert status == 403, (who, status)


def test_health_needs_no_token(shared: Api) -> None:
    assert shared.client.get("/health").json()["status"] == "ok"


def test_tenants_never_see_each_others_tasks(api: Api) -> None:
    task = api.submit("alice")
    path = f"/v1/tasks/{task['id']}"
    for who in ("bob", "ops", "prov"):
        assert api.call(who, "GET", path).status_code == 404
        assert api.call(who, "GET", f"{path}/explain").status_code == 404
        assert api.call(who, "GET", "/v1/tasks").json()["items"] == []
        assert api.call(who, "GET", "/v1/placements").json() == []
    assert api.call("bob", "POST", f"{path}/cancel").status_code == 404
    assert api.call("bob", "GET", "/v1/tasks", params={"tenant": "acme"}).status_code == 403
    assert api.call("alice", "GET", path).json()["state"] == "scheduled"  # untouched
    assert api.call("admin", "GET", path).status_code == 200
    listed = api.call("admin", "GET", "/v1/tasks", params={"tenant": "acme"}).json()["items"]
    assert [t["id"] for t in listed] == [task["id"]]
    assert api.call("admin", "GET", "/v1/tasks", params={"tenant": "globex"}).json()["items"] == []


def test_providers_act_for_their_own_nodes_only(api: Api) -> None:
    mine = api.call("prov", "POST", f"/v1/nodes/{N}/down", json={"reason": "maintenance"})
    assert mine.status_code == 200
    assert mine.json()["state"] == "down"
    assert api.call("alice", "GET", f"/v1/nodes/{N}").json()["state"] == "down"
    other = api.call("prov", "POST", "/v1/nodes/edge-futian-mec-2/down", json={})
    assert other.status_code == 403
    assert api.call("prov", "GET", "/v1/nodes/edge-futian-mec-2/metrics").status_code == 403
    assert api.call("prov", "POST", f"/v1/nodes/{N}/up").json()["state"] == "up"


def test_a_revoked_token_stops_working(api: Api) -> None:
    issued = api.call("admin", "POST", "/v1/principals/alice/tokens").json()
    headers = {"Authorization": f"Bearer {issued['token']}"}
    assert api.client.get("/v1/whoami", headers=headers).json()["id"] == "alice"
    assert api.call("admin", "DELETE", f"/v1/tokens/{issued['token_id']}").status_code == 204
    assert api.client.get("/v1/whoami", headers=headers).status_code == 401
    assert api.call("admin", "DELETE", f"/v1/tokens/{issued['token_id']}").status_code == 404


def test_revoking_through_the_server_beats_its_token_cache(tmp_path: Path) -> None:
    settings = make_settings(tmp_path).model_copy(update={"token_cache_s": 3600.0})
    tokens = seed_principals(settings)
    with TestClient(create_app(settings)) as client:
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        issued = client.post("/v1/principals/bob/tokens", headers=admin).json()
        bob = {"Authorization": f"Bearer {issued['token']}"}
        assert client.get("/v1/whoami", headers=bob).status_code == 200  # now cached
        client.delete(f"/v1/tokens/{issued['token_id']}", headers=admin)
        assert client.get("/v1/whoami", headers=bob).status_code == 401


def test_the_first_start_prints_an_admin_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(make_settings(tmp_path))
    with TestClient(app) as client:
        token = app.state.first_token.plaintext
        me = client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["roles"] == ["admin"]
    assert token in capsys.readouterr().err
    # A second start finds the admin and prints nothing.
    app = create_app(make_settings(tmp_path))
    with TestClient(app):
        assert app.state.first_token is None
