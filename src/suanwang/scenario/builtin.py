"""Built-in scenarios shipped as package data (``suanwang/scenarios/*.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from suanwang.model import Scenario
from suanwang.scenario.errors import ScenarioError
from suanwang.scenario.io import load_scenario, loads_scenario

_PACKAGE_DIR = "scenarios"


@dataclass(frozen=True, slots=True)
class BuiltinInfo:
    """Name and description of a built-in scenario, read without loading the whole scenario."""

    name: str
    description: str


def _files() -> dict[str, resources.abc.Traversable]:
    folder = resources.files("suanwang").joinpath(_PACKAGE_DIR)
    return {
        entry.name.removesuffix(".yaml"): entry
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    }


def builtin_names() -> list[str]:
    """Names of the built-in scenarios, sorted."""
    return sorted(_files())


def builtin_info() -> list[BuiltinInfo]:
    """Name and first description line of every built-in scenario."""
    infos = []
    for name, entry in sorted(_files().items()):
        # Only the head of the file is needed; every built-in states its description first.
        head = entry.read_text(encoding="utf-8").split("\nsites:", 1)[0]
        data = yaml.safe_load(head) or {}
        description = str(data.get("description", "")).strip().splitlines()
        infos.append(BuiltinInfo(name, description[0] if description else ""))
    return infos


def builtin_text(name: str) -> str:
    """The YAML text of built-in scenario ``name``.

    Raises:
        ScenarioError: no built-in has that name.
    """
    files = _files()
    if name not in files:
        raise ScenarioError(
            f"no built-in scenario of this name; built-ins: {', '.join(sorted(files))}",
            source=name,
        )
    return files[name].read_text(encoding="utf-8")


def load_builtin(name: str) -> Scenario:
    """Load built-in scenario ``name``.

    Raises:
        ScenarioError: no built-in has that name (or the shipped file is broken).
    """
    return loads_scenario(builtin_text(name), "yaml", source=f"{name}.yaml (built-in)")


def resolve_scenario(name_or_path: str) -> Scenario:
    """A scenario from a file path, or else from the built-in of that name.

    Raises:
        ScenarioError: neither a readable scenario file nor a built-in name.
    """
    path = Path(name_or_path)
    if path.suffix.lower() in {".yaml", ".yml", ".json"} or path.exists():
        return load_scenario(path)
    if name_or_path in _files():
        return load_builtin(name_or_path)
    raise ScenarioError(
        "neither a scenario file nor a built-in scenario; built-ins: " + ", ".join(builtin_names()),
        source=name_or_path,
    )
