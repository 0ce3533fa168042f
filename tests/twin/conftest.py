"""Shared fixtures of the twin tests."""

from __future__ import annotations

import pytest

from suanwang.model import Scenario
from suanwang.scenario import load_builtin


@pytest.fixture(scope="session")
def east_west_small() -> Scenario:
    """The built-in east-west scenario (3,640 nodes), loaded once."""
    return load_builtin("east-west")
