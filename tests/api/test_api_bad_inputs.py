"""A table of bad API bodies, parameters and signed reports: each answers a 4xx problem.

Never a 5xx, never a traceback, within ``ANSWER_S`` and ``PEAK_BYTES`` of heap each. Signed
reports are signed correctly by the agent's bound key unless the case is about the signature,
so that what is refused is the content itself (NaN and huge numbers, wrong types, replays).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from api_support import CPU_TASK, Api

from suanwang.control.stores import Principal, Role
from suanwang.scenario import load_builtin
from suanwang.scenario.io import dumps_scenario
from suanwang.security import KeyPair
from suanwang.security import Role as KeyRole

ANSWER_S = 5.0
PEAK_BYTES = 500 * 2**20
NODE = "edge-futian-mec-2"
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Bad:
    """One bad request: who sends it, where, and the body (JSON value or raw text)."""

    who: str
    method: str
    path: str
    json: Any = None
    raw: str | None = None
    params: dict[str, str] | None = None


def _task(**fields: Any) -> dict[str, Any]:
    return {**CPU_TASK, **fields}


def _raw_task(field: str, literal: str) -> str:
    """A task body whose ``field`` is the JSON literal ``literal`` (NaN, 1e400, 10**400...)."""
    return json.dumps(CPU_TASK)[:-1] + f', "{field}": {literal}}}'


def _huge_scenario() -> str:
    data = json.loads(dumps_scenario(load_builtin("campus"), "json"))
    data["nodes"][0]["cpu_cores"] = 10**400
    return json.dumps(data)


TASKS, LIVE, TWIN = "/v1/tasks", "/v1/scenarios/live", "/v1/twin-runs"
AGENT = f"/v1/agents/{NODE}"
API_CASES: dict[str, Bad] = {
    "work_gflop as a string": Bad("alice", "POST", TASKS, _task(work_gflop="1")),
    "work_gflop as true": Bad("alice", "POST", TASKS, _task(work_gflop=True)),
    "work_gflop 1e400": Bad("alice", "POST", TASKS, raw=_raw_task("work_gflop", "1e400")),
    "work_gflop 10**400": Bad("alice", "POST", TASKS, raw=_raw_task("work_gflop", "1" + "0" * 400)),
    "work_gflop NaN": Bad("alice", "POST", TASKS, raw=_raw_task("work_gflop", "NaN")),
    "work_gflop -Infinity": Bad("alice", "POST", TASKS, raw=_raw_task("work_gflop", "-Infinity")),
    "work_gflop negative": Bad("alice", "POST", TASKS, _task(work_gflop=-1.0)),
    "cpu_cores as a string": Bad("alice", "POST", TASKS, _task(cpu_cores="2")),
    "mem_gib as false": Bad("alice", "POST", TASKS, _task(mem_gib=False)),
    "long_running as 1": Bad("alice", "POST", TASKS, _task(long_running=1)),
    "long_running as a string": Bad("alice", "POST", TASKS, _task(long_running="true")),
    "min_trust_level as a string": Bad("alice", "POST", TASKS, _task(min_trust_level="1")),
    "min_trust_level as a float": Bad("alice", "POST", TASKS, _task(min_trust_level=1.5)),
    "accelerator count as a float": Bad(
        "alice", "POST", TASKS, _task(accelerator={"kind": "gpu", "count": 1.0})
    ),
    "accelerator count as true": Bad(
        "alice", "POST", TASKS, _task(accelerator={"kind": "gpu", "count": True})
    ),
    "latency budget zero": Bad("alice", "POST", TASKS, _task(latency_budget_ms=0)),
    "unknown task class": Bad("alice", "POST", TASKS, _task(task_class="lukewarm")),
    "residency item a number": Bad("alice", "POST", TASKS, _task(residency=[86])),
    "unknown field": Bad("alice", "POST", TASKS, _task(colour="blue")),
    "body not JSON": Bad("alice", "POST", TASKS, raw="{work_gflop: 5"),
    "body a JSON array": Bad("alice", "POST", TASKS, [CPU_TASK]),
    "scenario from two sources": Bad(
        "admin", "POST", LIVE, {"builtin": "campus", "text": "name: x"}
    ),
    "scenario from no source": Bad("admin", "POST", LIVE, {}),
    "cancel_active as a string": Bad(
        "admin", "POST", LIVE, {"builtin": "campus", "cancel_active": "yes"}
    ),
    "scenario format unknown": Bad("admin", "POST", LIVE, {"text": "x: 1", "format": "xml"}),
    "scenario unknown builtin": Bad("admin", "POST", LIVE, {"builtin": "atlantis"}),
    "scenario with 10**400 cores": Bad(
        "admin", "POST", LIVE, {"text": _huge_scenario(), "format": "json"}
    ),
    "scenario text not a scenario": Bad("admin", "POST", LIVE, {"text": "[1, 2", "format": "json"}),
    "twin duration as a string": Bad("alice", "POST", TWIN, {"duration_s": "60"}),
    "twin max_tasks as a float": Bad("alice", "POST", TWIN, {"max_tasks": 1.5}),
    "twin seed negative": Bad("alice", "POST", TWIN, {"seed": -1}),
    "pull limit as a string": Bad("agent", "POST", f"{AGENT}/pull", {"limit": "5"}),
    "echo port as a string": Bad("agent", "PUT", f"{AGENT}/echo", {"host": "::1", "port": "80"}),
    "echo port out of range": Bad("agent", "PUT", f"{AGENT}/echo", {"host": "::1", "port": 70000}),
    "agent key not base64": Bad("agent", "PUT", f"{AGENT}/key", {"public_key": "!!"}),
    "page limit zero": Bad("alice", "GET", TASKS, params={"limit": "0"}),
    "page limit not a number": Bad("alice", "GET", TASKS, params={"limit": "abc"}),
    "audit after_seq negative": Bad("admin", "GET", "/v1/audit", params={"after_seq": "-1"}),
    "audit since_s NaN": Bad("admin", "GET", "/v1/audit", params={"since_s": "nan"}),
}


def _body(keys: KeyPair, *, ts: str, value: str = "0.25", node: str = NODE, v: str = "1") -> bytes:
    """A metrics body with the given JSON literals, bytes as a signer might send them."""
    nonce = secrets.token_hex(16)
    payload = f'{{"node_id":"{node}","values":{{"load_ratio":{value}}}}}'
    text = f'{{"kid":"{keys.key_id}","kind":"metrics","nonce":"{nonce}","payload":{payload}'
    return f'{text},"ts":{ts},"v":{v}}}'.encode()


def _wire(keys: KeyPair, body: bytes) -> str:
    return (base64.b64encode(keys.sign(body)) + b"." + body).decode()


def _now() -> str:
    return repr(time.time())


Report = Callable[[KeyPair], str]
REPORT_CASES: dict[str, tuple[Report, str]] = {
    "ts NaN": (lambda k: _wire(k, _body(k, ts="NaN")), "malformed"),
    "ts Infinity": (lambda k: _wire(k, _body(k, ts="Infinity")), "malformed"),
    "ts 1e400": (lambda k: _wire(k, _body(k, ts="1e400")), "malformed"),
    "ts 10**400": (lambda k: _wire(k, _body(k, ts="1" + "0" * 400)), "malformed"),
    "ts true": (lambda k: _wire(k, _body(k, ts="true")), "malformed"),
    "ts a string": (lambda k: _wire(k, _body(k, ts='"now"')), "malformed"),
    "ts negative": (lambda k: _wire(k, _body(k, ts="-1")), "malformed"),
    "ts an hour old": (lambda k: _wire(k, _body(k, ts=repr(time.time() - 3600))), "expired"),
    "ts an hour ahead": (lambda k: _wire(k, _body(k, ts=repr(time.time() + 3600))), "future"),
    "value NaN": (lambda k: _wire(k, _body(k, ts=_now(), value="NaN")), "malformed"),
    "value -Infinity": (lambda k: _wire(k, _body(k, ts=_now(), value="-Infinity")), "malformed"),
    "value 1e400": (lambda k: _wire(k, _body(k, ts=_now(), value="1e400")), "malformed"),
    "value 10**400": (lambda k: _wire(k, _body(k, ts=_now(), value="9" * 400)), "malformed"),
    "value a string": (lambda k: _wire(k, _body(k, ts=_now(), value='"1"')), "malformed"),
    "value true": (lambda k: _wire(k, _body(k, ts=_now(), value="true")), "malformed"),
    "version 2": (lambda k: _wire(k, _body(k, ts=_now(), v="2")), "malformed"),
    "version true": (lambda k: _wire(k, _body(k, ts=_now(), v="true")), "malformed"),
    "another node": (lambda k: _wire(k, _body(k, ts=_now(), node="core-sz-1")), "node-not-bound"),
    "tampered body": (
        lambda k: _wire(k, _body(k, ts=_now())).replace("0.25", "0.99"),
        "bad-signature",
    ),
    "signed by a stranger": (
        lambda k: _wire(stranger := KeyPair.generate(KeyRole.AGENT), _body(stranger, ts=_now())),
        "unknown-key",
    ),
    "no signature separator": (lambda k: "x", "malformed"),
    "signature not base64": (lambda k: "!!!." + _body(k, ts=_now()).decode(), "malformed"),
    "deeply nested payload": (
        lambda k: _wire(k, _body(k, ts=_now(), value="[" * 5000 + "]" * 5000)),
        "malformed",
    ),
}


@pytest.fixture
def agent(api: Api) -> KeyPair:
    """An agent principal ``agent`` for ``NODE`` with its key bound."""
    keys = KeyPair.generate(KeyRole.AGENT)
    principal = Principal(
        "agent", "acme-compute", frozenset({Role.AGENT}), frozenset({NODE}), keys.key_id
    )
    api.add_principal(principal)
    key = base64.b64encode(keys.public_bytes).decode()
    assert api.call("agent", "PUT", f"{AGENT}/key", json={"public_key": key}).status_code == 200
    return keys


def _timed(api: Api, bad: Bad) -> tuple[Any, float]:
    kwargs: dict[str, Any] = {"params": bad.params}
    if bad.raw is not None:
        kwargs |= {"content": bad.raw, "headers": {"Content-Type": "application/json"}}
    elif bad.json is not None:
        kwargs["json"] = bad.json
    tracemalloc.start()
    started_s = time.perf_counter()
    try:
        response = api.call(bad.who, bad.method, bad.path, **kwargs)
        took_s = time.perf_counter() - started_s
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The server runs in this process (TestClient): its heap peak for the request is traced.
    assert peak_bytes < PEAK_BYTES, f"{peak_bytes / 2**20:.0f} MiB for one bad request"
    return response, took_s


def _is_problem(response: Any) -> None:
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert problem["status"] == response.status_code
    assert "Traceback" not in problem["detail"]
    assert "\n" not in problem["detail"]


def test_the_table_is_large_enough() -> None:
    assert len(API_CASES) + len(REPORT_CASES) + 1 >= 60  # +1: the replay below


@pytest.mark.parametrize("name", sorted(API_CASES))
def test_a_bad_request_answers_a_4xx_problem(api: Api, agent: KeyPair, name: str) -> None:
    response, took_s = _timed(api, API_CASES[name])
    _is_problem(response)
    assert took_s < ANSWER_S


def test_a_strict_field_is_named_in_the_problem(api: Api) -> None:
    response = api.call("alice", "POST", TASKS, json=_task(work_gflop="1"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "body.work_gflop"


def test_a_refused_scenario_leaves_the_live_one(api: Api) -> None:
    _is_problem(_timed(api, API_CASES["scenario with 10**400 cores"])[0])
    assert api.call("alice", "GET", "/v1/scenarios").json()["live"] == "metro-edge"
    assert not list(api.settings.data_dir.glob("live-scenario.json*"))


def _post_report(api: Api, wire: str) -> tuple[Any, float]:
    bad = Bad("agent", "POST", f"{AGENT}/metrics", {"envelope": wire})
    return _timed(api, bad)


@pytest.mark.parametrize("name", sorted(REPORT_CASES))
def test_a_bad_signed_report_answers_a_4xx_problem_with_its_reason(
    api: Api, agent: KeyPair, name: str
) -> None:
    make, reason = REPORT_CASES[name]
    response, took_s = _post_report(api, make(agent))
    _is_problem(response)
    assert response.json()["reason"] == reason
    assert took_s < ANSWER_S


def test_a_replayed_report_is_refused_as_a_replay(api: Api, agent: KeyPair) -> None:
    wire = _wire(agent, _body(agent, ts=_now()))
    assert _post_report(api, wire)[0].status_code == 200
    response, took_s = _post_report(api, wire)
    _is_problem(response)
    assert response.json()["reason"] == "replay"
    assert took_s < ANSWER_S


def _refusals(api: Api) -> list[dict[str, Any]]:
    entries = api.call("admin", "GET", "/v1/audit", params={"limit": "1000"}).json()
    return [e for e in entries if e["action"] == "report.refused"]


def test_refused_reports_are_audited_once_per_reason_in_a_window(api: Api, agent: KeyPair) -> None:
    tampered = REPORT_CASES["tampered body"][0]
    for _ in range(50):  # a flood of one kind
        assert _post_report(api, tampered(agent))[0].status_code == 403
    stranger = REPORT_CASES["signed by a stranger"][0]
    unknown = _post_report(api, stranger(agent))[0]
    assert unknown.json()["reason"] == "unknown-key"
    _post_report(api, REPORT_CASES["ts NaN"][0](agent))
    entries = _refusals(api)
    reasons = [e["detail"].split(":")[0] for e in entries]
    assert sorted(reasons) == ["bad-signature", "malformed", "unknown-key"]
    assert all(e["who"] == "agent" for e in entries)
