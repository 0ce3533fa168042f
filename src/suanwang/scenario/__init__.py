"""Scenario files: the format, its validation, conversion to the model, built-ins and importers.

A scenario holds a topology, a service catalogue, a workload, failures and energy profiles. Read
one with ``load_scenario(path)`` or ``load_builtin(name)``; write one with ``dump_scenario``.
Every reader raises ``ScenarioError`` (one line: file, line, field path, value) on bad input.
"""

from suanwang.scenario.builtin import (
    BuiltinInfo,
    builtin_info,
    builtin_names,
    builtin_text,
    load_builtin,
    resolve_scenario,
)
from suanwang.scenario.errors import ScenarioError, format_path
from suanwang.scenario.io import (
    dump_scenario,
    dumps_scenario,
    format_of,
    load_scenario,
    loads_scenario,
    scenario_from_data,
)
from suanwang.scenario.schema import FORMAT_VERSION, ScenarioDoc

__all__ = [
    "FORMAT_VERSION",
    "BuiltinInfo",
    "ScenarioDoc",
    "ScenarioError",
    "builtin_info",
    "builtin_names",
    "builtin_text",
    "dump_scenario",
    "dumps_scenario",
    "format_of",
    "format_path",
    "load_builtin",
    "load_scenario",
    "loads_scenario",
    "resolve_scenario",
    "scenario_from_data",
]
