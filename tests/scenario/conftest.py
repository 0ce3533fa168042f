"""Shared fixtures for scenario tests."""

from pathlib import Path
from typing import Any

import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def tiny_path() -> Path:
    """Path of the smallest scenario that uses every section."""
    return FIXTURES / "tiny.yaml"


@pytest.fixture
def tiny_data(tiny_path: Path) -> dict[str, Any]:
    """The tiny scenario as plain data, free to mutate."""
    data: dict[str, Any] = yaml.safe_load(tiny_path.read_text(encoding="utf-8"))
    return data
