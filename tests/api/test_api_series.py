"""``GET /v1/series``, compressed answers and conditional reads of ``GET /v1/load``."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import CPU_TASK, Api, make_settings, seed_principals

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from suanwang.api import create_app


@pytest.fixture
def fast(tmp_path: Path) -> Iterator[Api]:
    """A server sampling on every tick of its writer."""
    settings = make_settings(tmp_path, series_period_s=0.01)
    tokens = seed_principals(settings)
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings, tokens)


def _until(api: Api, done: Any, timeout_s: float = 15.0) -> dict[str, Any]:
    """Read the series until ``done(document)`` holds (the writer samples once a second)."""
    deadline = time.monotonic() + timeout_s
    while True:
        document: dict[str, Any] = api.call("alice", "GET", "/v1/series").json()
        if done(document) or time.monotonic() > deadline:
            return document
        time.sleep(0.1)


def test_the_series_counts_arrivals_and_answers_from_an_index_on(fast: Api) -> None:
    for _ in range(3):
        assert fast.submit("alice", CPU_TASK)["state"] == "scheduled"
    document = _until(fast, lambda d: sum(v or 0 for v in d["columns"]["arrivals"]) >= 3)
    assert sum(v or 0 for v in document["columns"]["arrivals"]) == 3
    assert sum(v or 0 for v in document["columns"]["placed"]) == 3
    assert document["from_index"] == 0
    assert document["next"] == len(document["at_s"])
    for values in document["columns"].values():
        assert len(values) == len(document["at_s"])
    assert any(v for v in document["columns"]["util_edge"] + document["columns"]["util_region"])
    # From the next index on: only what was sampled since.
    later = fast.call("alice", "GET", "/v1/series", params={"since": document["next"]}).json()
    assert later["from_index"] == document["next"]
    assert len(later["at_s"]) == later["next"] - document["next"]
    assert sum(v or 0 for v in later["columns"]["arrivals"]) == 0


def test_the_series_names_the_busiest_sites(fast: Api) -> None:
    task = fast.submit("alice", {**CPU_TASK, "cpu_cores": 4.0})
    nodes = fast.call("alice", "GET", "/v1/nodes", params={"limit": 1000}).json()
    site = next(n["site_id"] for n in nodes if n["id"] == task["placement"]["node_id"])

    def busy(document: dict[str, Any]) -> bool:
        return any(v for v in document["sites"].get(site, []))

    deadline = time.monotonic() + 15.0
    while True:
        document = fast.call("alice", "GET", "/v1/series", params={"top": 1}).json()
        if busy(document) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert list(document["sites"]) == [site]
    named = fast.call("alice", "GET", "/v1/series", params={"sites": f"{site},nowhere"}).json()
    assert list(named["sites"]) == [site]


def test_the_series_needs_a_token(api: Api) -> None:
    assert api.call(None, "GET", "/v1/series").status_code == 401
    assert api.call("alice", "GET", "/v1/series", params={"top": 51}).status_code == 422


def test_large_answers_are_compressed_for_clients_that_accept_gzip(api: Api) -> None:
    headers = {"Accept-Encoding": "gzip"}
    load = api.call("alice", "GET", "/v1/load", headers=headers)
    assert load.status_code == 200
    assert load.headers["content-encoding"] == "gzip"
    assert load.json()["node_ids"]  # httpx decoded it
    assert len(load.content) > 1024
    small = api.call(None, "GET", "/health", headers=headers)
    assert "content-encoding" not in small.headers  # under the threshold
    plain = api.call("alice", "GET", "/v1/load", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers


def test_an_unchanged_load_is_not_sent_again(api: Api) -> None:
    first = api.call("alice", "GET", "/v1/load")
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = api.call("alice", "GET", "/v1/load", headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == tag
    api.submit("alice", CPU_TASK)
    changed = api.call("alice", "GET", "/v1/load", headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag
    assert changed.json()["active_placements"] == 1


def test_an_unchanged_task_page_is_not_sent_again(api: Api) -> None:
    api.submit("alice", CPU_TASK)
    params = {"order": "newest", "include_total": "true", "limit": 50}
    first = api.call("alice", "GET", "/v1/tasks", params=params)
    tag = first.headers["etag"]
    again = api.call("alice", "GET", "/v1/tasks", params=params, headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    api.submit("alice", CPU_TASK)
    changed = api.call("alice", "GET", "/v1/tasks", params=params, headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.json()["total"] == 2
