"""Fixtures of the API tests (helpers in ``api_support``)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import Api, Server, make_settings, seed_principals

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note on httpx
    from fastapi.testclient import TestClient

from suanwang.api import create_app


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(tmp_path)
    tokens = seed_principals(settings)
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings, tokens)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    process = Server(tmp_path / "data", tmp_path / "server.log")
    yield process
    process.stop()
