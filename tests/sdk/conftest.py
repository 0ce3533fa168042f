"""Fixtures of the SDK tests: a real ``suanwang serve`` on loopback, principals per role."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The API tests' helpers (principals per role, the server process) are shared, not copied.
sys.path.insert(0, str(Path(__file__).parents[1] / "api"))

from api_support import Server, make_settings, seed_principals


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The server's URL and a token per seeded principal (admin, alice, bob, ...)."""
    root = tmp_path_factory.mktemp("sdk")
    tokens = seed_principals(make_settings(root))
    server = Server(root / "data", root / "server.log")
    try:
        server.start()
        yield server.url, tokens
    finally:
        server.stop()
