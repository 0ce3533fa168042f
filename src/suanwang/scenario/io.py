"""Reading and writing scenario files (YAML or JSON, format version 1).

Every way in ends in ``ScenarioError``, one line naming file, line (where known), field path,
value and what was expected; nothing else escapes for bad input.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from suanwang.model import Scenario
from suanwang.scenario.convert import doc_to_scenario
from suanwang.scenario.dump import scenario_to_data
from suanwang.scenario.errors import ScenarioError
from suanwang.scenario.schema import ScenarioDoc

Format = Literal["yaml", "json"]
_SUFFIXES: dict[str, Format] = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YamlDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_INDENT_JSON_UP_TO_NODES = 5000


def format_of(path: str | Path) -> Format:
    """The file format a path's suffix names.

    Raises:
        ScenarioError: the suffix is not .yaml, .yml or .json.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise ScenarioError(
            "unknown file type; expected a .yaml, .yml or .json file", source=str(path)
        )
    return _SUFFIXES[suffix]


def load_scenario(path: str | Path) -> Scenario:
    """Read, validate and convert the scenario file at ``path``.

    Raises:
        ScenarioError: the file is missing or unreadable, or its content is not a valid scenario.
    """
    fmt = format_of(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ScenarioError(f"cannot read the file: {reason}", source=str(path)) from error
    return loads_scenario(text, fmt, source=str(path))


def loads_scenario(text: str, fmt: Format, source: str = "<string>") -> Scenario:
    """Validate and convert scenario ``text`` in format ``fmt``; ``source`` names it in errors.

    Raises:
        ScenarioError: the text does not parse or is not a valid scenario.
    """
    if fmt == "json":
        try:
            doc = ScenarioDoc.model_validate_json(text)
        except ValidationError as error:
            data = _parse(text, fmt, source)
            raise _from_validation(error, data, text, fmt, source) from None
    else:
        data = _parse(text, fmt, source)
        doc = _validate(data, text, fmt, source)
    try:
        return doc_to_scenario(doc)
    except ScenarioError as error:
        raise error.located(source, _line_of(text, fmt, error.path)) from None


def scenario_from_data(data: Any, source: str = "<data>") -> Scenario:
    """Validate and convert already-parsed scenario data (importers, generators, tests).

    Raises:
        ScenarioError: the data is not a valid scenario.
    """
    doc = _validate(data, None, None, source)
    try:
        return doc_to_scenario(doc)
    except ScenarioError as error:
        raise error.located(source, None) from None


def dumps_scenario(scenario: Scenario, fmt: Format = "yaml") -> str:
    """The scenario as text in format version 1; loading it gives an equal scenario.

    Raises:
        ValueError: a site uses a named energy profile missing from ``energy_profiles`` (it
            could not be written without losing its name).
    """
    data = scenario_to_data(scenario)
    if fmt == "json":
        # Any indent makes the json module fall back to its pure-Python encoder (about 6x
        # slower), so large scenarios are written compact.
        small = len(scenario.topology.nodes) <= _INDENT_JSON_UP_TO_NODES
        return json.dumps(data, indent=1 if small else None, ensure_ascii=False) + "\n"
    text: str = yaml.dump(data, Dumper=_YamlDumper, sort_keys=False, allow_unicode=True, width=100)
    return text


def dump_scenario(scenario: Scenario, path: str | Path) -> None:
    """Write the scenario to ``path`` in the format its suffix names (atomically)."""
    target = Path(path)
    text = dumps_scenario(scenario, format_of(target))
    partial = target.with_name(target.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)


def _parse(text: str, fmt: Format, source: str) -> Any:
    try:
        if fmt == "json":
            return json.loads(text)
        return yaml.load(text, Loader=_YamlLoader)  # a safe loader
    except json.JSONDecodeError as error:
        raise ScenarioError(
            f"not valid JSON: {error.msg}", source=source, line=error.lineno
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        line = None if mark is None else mark.line + 1
        raise ScenarioError(f"not valid YAML: {problem}", source=source, line=line) from None


def _validate(data: Any, text: str | None, fmt: Format | None, source: str) -> ScenarioDoc:
    if not isinstance(data, dict):
        raise ScenarioError(
            "expected a mapping with 'version: 1' at the top of the file",
            source=source,
            value=type(data).__name__ if data is not None else "an empty document",
        )
    try:
        return ScenarioDoc.model_validate(data)
    except ValidationError as error:
        raise _from_validation(error, data, text, fmt, source) from None


def _from_validation(
    error: ValidationError, data: Any, text: str | None, fmt: Format | None, source: str
) -> ScenarioError:
    """The first problem pydantic found, as a located ScenarioError (version problems first)."""
    problems = sorted(error.errors(), key=lambda e: e["loc"][:1] != ("version",))
    first = problems[0]
    path = _data_path(data, first["loc"])
    kind = first["type"]
    if kind == "missing":
        message, value = "required field is missing", None
    elif kind == "extra_forbidden":
        message, value = "unknown field (check its spelling against the schema)", None
    else:
        message = first["msg"].replace("Input should be", "should be")
        value = first.get("input")
    line = None if text is None or fmt is None else _line_of(text, fmt, path)
    kwargs: dict[str, Any] = {} if value is None else {"value": value}
    return ScenarioError(
        message, path=path, source=source, line=line, more=len(problems) - 1, **kwargs
    )


def _data_path(data: Any, loc: Sequence[int | str]) -> tuple[str | int, ...]:
    """A pydantic location as a path through ``data``, without union and tag markers."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if _has(node, part):
            node = node[part]
            path.append(part)
        elif i == len(loc) - 1 and isinstance(node, dict):
            path.append(part)  # a missing field: named, though absent from the data
    return tuple(path)


def _has(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _line_of(text: str, fmt: Format, path: Sequence[str | int]) -> int | None:
    """1-based line of the field at ``path`` in YAML ``text`` (None for JSON or if not found)."""
    if fmt != "yaml":
        return None
    try:
        node = yaml.compose(text, Loader=_YamlLoader)
    except yaml.YAMLError:
        return None
    line = None if node is None else node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            match = next((kv for kv in node.value if kv[0].value == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
