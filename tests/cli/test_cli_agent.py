"""``suanwang agent``: its options reach the agent's configuration."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from suanwang.cli.main import app
from suanwang.execution import agent as agent_module


class _Agent:
    """Stands in for ``NodeAgent``: keeps the configuration it was made with, runs nothing."""

    made: ClassVar[list[Any]] = []

    def __init__(self, config: Any, keys: Any) -> None:
        self.config = config
        self.stopping = None
        self.completed = self.failed = 0
        _Agent.made.append(config)

    def run(self) -> None:
        return None


def _agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> tuple[int, str]:
    _Agent.made.clear()
    monkeypatch.setattr(agent_module, "NodeAgent", _Agent)
    monkeypatch.setattr(signal, "signal", lambda *_: None)  # keep the test runner's handlers
    args = ["agent", "--node", "edge-1", "--token", "swt_x"]
    args += ["--key-file", str(tmp_path / "edge-1.key"), *extra]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_warm_per_function_reaches_the_agent_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _agent(tmp_path, monkeypatch, "--warm-per-function", "3")
    assert code == 0, out
    assert [c.warm_per_function for c in _Agent.made] == [3]
    code, out = _agent(tmp_path, monkeypatch)
    assert code == 0, out
    assert [c.warm_per_function for c in _Agent.made] == [0]  # every run cold by default


def test_the_wheelhouse_reaches_the_agent_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _agent(tmp_path, monkeypatch, "--wheelhouse", str(tmp_path))
    assert code == 0, out
    assert [c.wheelhouse for c in _Agent.made] == [str(tmp_path)]
    code, out = _agent(tmp_path, monkeypatch, "--wheelhouse", str(tmp_path / "absent"))
    assert code == 2
    assert "--wheelhouse: a folder of wheels or an index URL" in out


def test_a_negative_warm_pool_is_refused_naming_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _agent(tmp_path, monkeypatch, "--warm-per-function", "-1")
    assert code == 2
    assert "--warm-per-function" in out
    assert _Agent.made == []
