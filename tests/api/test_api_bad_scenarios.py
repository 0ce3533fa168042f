"""Every kind of bad scenario uploaded as the live one: a 4xx problem, within 5 s and 500 MB.

The kinds are the scenario tests' table (``tests/scenario/bad_scenarios.py``); those with no
text an upload could carry (directories, bytes that are not UTF-8) are left out.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from api_support import Api, make_settings, seed_principals
from fastapi.testclient import TestClient

from suanwang.api import create_app

LIMIT_S = 5.0
LIMIT_BYTES = 500 * 1024 * 1024


def _table() -> ModuleType:
    path = Path(__file__).parents[1] / "scenario" / "bad_scenarios.py"
    spec = importlib.util.spec_from_file_location("bad_scenarios", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


TABLE = _table()
UPLOADS = [bad for bad in TABLE.BAD if not bad.file_only]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    # One app for the whole table: each kind is refused before anything changes.
    settings = make_settings(tmp_path_factory.mktemp("bad-scenarios"))
    tokens = seed_principals(settings)
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings, tokens)


@pytest.mark.parametrize("bad", UPLOADS, ids=[bad.kind for bad in UPLOADS])
def test_each_kind_is_a_4xx_problem_quickly(api: Api, bad: Any) -> None:
    body = {"text": bad.content.decode("utf-8"), "format": bad.fmt}
    tracemalloc.start()
    started = time.perf_counter()
    try:
        response = api.call("admin", "POST", "/v1/scenarios/live", json=body)
        elapsed_s = time.perf_counter() - started
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert elapsed_s < LIMIT_S
    assert peak_bytes < LIMIT_BYTES
    if response.status_code == 422 and bad.kind != "empty":
        assert bad.needle in response.json()["detail"] or bad.kind.startswith("yaml-flow")


def test_the_live_scenario_is_unchanged_after_the_table(api: Api) -> None:
    live = api.call("admin", "GET", "/v1/scenarios").json()["live"]
    assert live != "t"
