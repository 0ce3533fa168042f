"""Reading and writing scenario files (YAML or JSON, format version 1).

Every way in ends in ``ScenarioError``, one line naming file, line (where known), field path,
value and what was expected; nothing else escapes for bad input.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from suanwang.model import Scenario
from suanwang.scenario.convert import doc_to_scenario
from suanwang.scenario.dump import scenario_to_data
from suanwang.scenario.errors import ScenarioError
from suanwang.scenario.limits import ScenarioLimits, default_limits
from suanwang.scenario.parse import Format, Parsed, parse_text
from suanwang.scenario.schema import ScenarioDoc
from suanwang.scenario.validate import validate_doc

_SUFFIXES: dict[str, Format] = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
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


def load_scenario(path: str | Path, limits: ScenarioLimits | None = None) -> Scenario:
    """Read, validate and convert the scenario file at ``path`` within ``limits``.

    ``limits`` defaults to the ``SUANWANG_SCENARIO_*`` settings.

    Raises:
        ScenarioError: the file is missing, unreadable, too large or not UTF-8 text, or its
            content is not a valid scenario.
    """
    fmt = format_of(path)
    bounds = limits or default_limits()
    text = read_text(path, bounds.max_bytes)
    return loads_scenario(text, fmt, source=str(path), limits=bounds)


def read_text(path: str | Path, max_bytes: int) -> str:
    """The UTF-8 text of the regular file at ``path``, refused past ``max_bytes``.

    Raises:
        ScenarioError: the file is missing or unreadable, not a regular file (a directory, a
            device, a pipe), larger than ``max_bytes``, binary or not UTF-8.
    """
    source = str(path)
    try:
        # O_NONBLOCK: a named pipe must not hang the reader (it is refused below); regular
        # files ignore the flag.
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ScenarioError("cannot read the file: not a regular file", source=source)
            # Refused unread when the size says so; else read one byte past the limit, as the
            # file may grow between the stat and the read.
            raw = b"" if info.st_size > max_bytes else file.read(max_bytes + 1)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ScenarioError(f"cannot read the file: {reason}", source=source) from None
    if info.st_size > max_bytes or len(raw) > max_bytes:
        raise ScenarioError(
            f"larger than the limit of {max_bytes:,} bytes (setting SUANWANG_SCENARIO_MAX_BYTES)",
            source=source,
        )
    if b"\0" in raw:
        raise ScenarioError(
            "a binary file, not YAML or JSON text (it holds NUL bytes)", source=source
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ScenarioError(
            f"not UTF-8 text: byte 0x{raw[error.start]:02x} at offset {error.start}",
            source=source,
            line=line,
        ) from None


def loads_scenario(
    text: str, fmt: Format, source: str = "<string>", limits: ScenarioLimits | None = None
) -> Scenario:
    """Validate and convert scenario ``text`` in format ``fmt``; ``source`` names it in errors.

    The text is parsed once, within ``limits`` (default: the ``SUANWANG_SCENARIO_*``
    settings); the lines of fields come from that one parse.

    Raises:
        ScenarioError: the text is too large, does not parse or is not a valid scenario.
    """
    parsed = parse_text(text, fmt, source, limits or default_limits())
    doc = _validate(parsed, source)
    try:
        return doc_to_scenario(doc)
    except ScenarioError as error:
        raise error.located(source, parsed.line_of(error.path)) from None


def scenario_from_data(data: Any, source: str = "<data>") -> Scenario:
    """Validate and convert already-parsed scenario data (importers, generators, tests).

    Raises:
        ScenarioError: the data is not a valid scenario.
    """
    doc = _validate(Parsed(data), source)
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
    """Write the scenario to ``path`` in the format its suffix names (atomically).

    Raises:
        ScenarioError: the suffix names no format, or the file cannot be written (nothing is
            left behind then).
    """
    target = Path(path)
    text = dumps_scenario(scenario, format_of(target))
    partial = target.with_name(target.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        reason = error.strerror or type(error).__name__
        raise ScenarioError(f"cannot write the file: {reason}", source=str(target)) from None


def _validate(parsed: Parsed, source: str) -> ScenarioDoc:
    return validate_doc(ScenarioDoc, parsed, source, "file")
