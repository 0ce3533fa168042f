"""Scenario text to plain data, in one bounded parse that remembers where each field was.

YAML is composed once into nodes (libyaml when present); before a single value is built the
node graph is checked: nesting depth, duplicate keys, and how far aliases would expand it, so a
"billion laughs" file is refused at the cost of its few hundred written nodes. The values are
then built from the same nodes while the line of every key and list item is noted, which is how
errors found later (by the schema or the conversion) name a line without a second parse.

JSON goes through the standard library's C parser, with duplicate keys noted by a hook; its
errors name no line (the C parser keeps no positions), except syntax errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from suanwang.scenario.errors import ScenarioError
from suanwang.scenario.limits import ScenarioLimits

Format = Literal["yaml", "json"]
_CLoader = getattr(yaml, "CSafeLoader", None)
_BaseLoader: type[yaml.SafeLoader] = _CLoader if _CLoader is not None else yaml.SafeLoader
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class Parsed:
    """A parsed document and the lines its fields came from.

    Attributes:
        data: The document as plain data (dicts, lists, scalars).
        root_line: 1-based line where the document starts (None for JSON).
        lines: ``id(container)`` -> (the container, its key -> line or its item lines); the
            container is held so that its id stays its own.
    """

    data: Any
    root_line: int | None = None
    lines: dict[int, tuple[object, dict[Any, int] | tuple[int, ...]]] = field(default_factory=dict)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """1-based line of the field at ``path`` (the deepest part found); None where unknown."""
        line, node = self.root_line, self.data
        for part in path:
            entry = self.lines.get(id(node))
            if entry is None:
                break
            known = entry[1]
            if isinstance(known, dict):
                found = part in known
            else:
                found = isinstance(part, int) and 0 <= part < len(known)
            if not found:
                break
            line, node = known[part], node[part]  # type: ignore[index]
        return line


def parse_text(text: str, fmt: Format, source: str, limits: ScenarioLimits) -> Parsed:
    """Parse scenario ``text`` within ``limits``; ``source`` names it in errors.

    Raises:
        ScenarioError: the text is too large, does not parse, nests too deeply, repeats a key
            or expands too far through aliases.
    """
    if len(text) > limits.max_bytes:
        raise ScenarioError(
            f"larger than the limit of {limits.max_bytes:,} bytes "
            "(setting SUANWANG_SCENARIO_MAX_BYTES)",
            source=source,
        )
    if fmt != "json" and len(text) > limits.max_yaml_bytes:
        raise ScenarioError(
            f"a YAML text larger than the limit of {limits.max_yaml_bytes:,} bytes "
            "(setting SUANWANG_SCENARIO_MAX_YAML_BYTES); write large scenarios as JSON",
            source=source,
        )
    try:
        return (
            _parse_json(text, source, limits)
            if fmt == "json"
            else _parse_yaml(text, source, limits)
        )
    except RecursionError:
        # Only the pure-Python YAML composer recurses; the C parsers refuse deep nesting
        # themselves (JSON) or report it as a YAML error (libyaml).
        raise ScenarioError(_too_deep(limits), source=source) from None
    except ValueError as error:
        if isinstance(error, ScenarioError):
            raise
        # int() refuses literals of more than 4,300 digits (CPython's guard against quadratic
        # conversion); nothing else in the parsers raises a bare ValueError.
        reason = str(error).split(";")[0]
        raise ScenarioError(f"a value cannot be read: {reason}", source=source) from None


def _too_deep(limits: ScenarioLimits) -> str:
    return f"nested deeper than the limit of {limits.max_depth} levels of mappings and lists"


# ---- JSON -------------------------------------------------------------------------------------


def _parse_json(text: str, source: str, limits: ScenarioLimits) -> Parsed:
    repeated: dict[int, tuple[dict[str, Any], str]] = {}

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        mapping = dict(pairs)
        if len(mapping) != len(pairs):
            repeated[id(mapping)] = (mapping, _first_repeated(key for key, _ in pairs))
        return mapping

    try:
        data = json.loads(text, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as error:
        raise ScenarioError(
            f"not valid JSON: {error.msg}", source=source, line=error.lineno
        ) from None
    except RecursionError:
        raise ScenarioError(_too_deep(limits), source=source) from None
    for container, depth in _walk_data(data):
        if depth > limits.max_depth:
            path = _path_to(data, container)
            raise ScenarioError(_too_deep(limits), source=source, path=path)
        if id(container) in repeated:
            key = repeated[id(container)][1]
            raise _repeated_key(key, (*_path_to(data, container), key), source, None)
    return Parsed(data)


def _walk_data(data: Any) -> Iterator[tuple[Any, int]]:
    """Every dict and list in ``data`` with its depth (JSON has no aliases, so a tree).

    Paths are not built here (they would cost a tuple per container); ``_path_to`` finds the
    one an error needs.
    """
    stack: list[tuple[Any, int]] = [(data, 1)] if _nested(data) else []
    while stack:
        node, depth = stack.pop()
        yield node, depth
        values = node.values() if type(node) is dict else node
        stack.extend((v, depth + 1) for v in values if type(v) is dict or type(v) is list)


def _path_to(data: Any, target: Any) -> tuple[str | int, ...]:
    """The path from ``data`` to the container ``target`` (by identity); run on errors only."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        items = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((v, (*path, k)) for k, v in items if _nested(v))
    return ()


def _first_repeated(keys: Iterator[str]) -> str:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            return key
        seen.add(key)
    raise AssertionError("called only on keys with a repeat")


def _nested(value: Any) -> bool:
    return isinstance(value, dict | list)


def _repeated_key(
    key: object, path: Sequence[str | int], source: str, line: int | None
) -> ScenarioError:
    return ScenarioError(
        "key given twice in one mapping (the file would silently keep only the last)",
        path=path,
        source=source,
        line=line,
        value=key,
    )


# ---- YAML -------------------------------------------------------------------------------------


class _LineLoader(_BaseLoader):  # type: ignore[misc,valid-type]  # C or Python safe loader
    """The safe loader, noting the line of every key and list item it builds."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.lines: dict[int, tuple[object, dict[Any, int] | tuple[int, ...]]] = {}

    def construct_yaml_seq(self, node: yaml.SequenceNode) -> Iterator[list[Any]]:
        data: list[Any] = []
        yield data
        data.extend(self.construct_sequence(node))
        self.lines[id(data)] = (data, tuple(item.start_mark.line + 1 for item in node.value))

    def construct_yaml_map(self, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
        data: dict[Any, Any] = {}
        yield data
        data.update(self.construct_mapping(node))
        # construct_mapping flattened merge keys into node.value; its keys are built already.
        keys = {self.construct_object(k): k.start_mark.line + 1 for k, _ in node.value}
        self.lines[id(data)] = (data, keys)


_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_yaml_seq)
_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_yaml_map)


def _parse_yaml(text: str, source: str, limits: ScenarioLimits) -> Parsed:
    loader = _LineLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return Parsed(None)
        _check_nodes(root, source, limits)
        data = loader.construct_document(root)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        line = None if mark is None else mark.line + 1
        raise ScenarioError(f"not valid YAML: {problem}", source=source, line=line) from None
    finally:
        loader.dispose()
    return Parsed(data, root.start_mark.line + 1, loader.lines)


def _check_nodes(root: yaml.Node, source: str, limits: ScenarioLimits) -> None:
    """Refuse deep nesting, repeated keys and far-expanding aliases, before anything is built.

    Each distinct node is visited once, so the cost is that of the text, whatever its aliases.
    """
    visited: set[int] = set()
    aliased = False
    stack: list[tuple[yaml.Node, tuple[str | int, ...], int]] = [(root, (), 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            continue
        if depth > limits.max_depth:
            raise ScenarioError(
                _too_deep(limits), source=source, path=path, line=node.start_mark.line + 1
            )
        if id(node) in visited:
            aliased = True  # a second way into one collection: an alias
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[tuple[str, str]] = set()
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                    if (key_node.tag, key_node.value) in keys:
                        line = key_node.start_mark.line + 1
                        raise _repeated_key(key_node.value, (*path, key_node.value), source, line)
                    keys.add((key_node.tag, key_node.value))
                elif not isinstance(key_node, yaml.ScalarNode):
                    stack.append((key_node, path, depth + 1))
                if not isinstance(value_node, yaml.ScalarNode):
                    stack.append((value_node, (*path, str(key_node.value)), depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(
                (item, (*path, i), depth + 1)
                for i, item in enumerate(node.value)
                if not isinstance(item, yaml.ScalarNode)
            )
    if aliased:
        _check_expansion(root, source, limits)


def _check_expansion(root: yaml.Node, source: str, limits: ScenarioLimits) -> None:
    """Refuse alias cycles, and aliases that add more than the limit's values or depth.

    Sizes (values once expanded) and heights are computed bottom-up, once per distinct node.
    Sizes are capped just past any size that could pass (a node takes at least one character
    of the text), so they stay small numbers however far a file would expand.
    """
    cap = root.end_mark.index + limits.max_alias_nodes + 1
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if isinstance(node, yaml.ScalarNode):
            size[key], height[key] = 1, 0
            continue
        if key in size and not children_done:
            continue
        children = _children(node)
        if not children_done:
            if key in open_nodes:
                continue  # pushed twice before its first completion; done by then
            open_nodes.add(key)
            stack.append((node, True))
            for child in children:
                if id(child) in open_nodes and id(child) not in size:
                    raise ScenarioError(
                        "an alias refers to a value that contains the alias",
                        source=source,
                        line=child.start_mark.line + 1,
                    )
                stack.append((child, False))
            continue
        size[key] = min(cap, 1 + sum(size.get(id(c), 1) for c in children))
        height[key] = 1 + max((height.get(id(c), 0) for c in children), default=0)
    if size[id(root)] - len(size) > limits.max_alias_nodes:
        raise ScenarioError(
            f"aliases expand the document by more than the limit of {limits.max_alias_nodes:,} "
            "values (setting SUANWANG_SCENARIO_MAX_ALIAS_NODES)",
            source=source,
        )
    if height[id(root)] > limits.max_depth:
        raise ScenarioError(_too_deep(limits) + " once aliases are expanded", source=source)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []
