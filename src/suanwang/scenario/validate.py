"""Checking parsed documents against their pydantic schema, with errors that point at the file.

Scenarios, templates and intents share one rule for a bad document: the first problem pydantic
finds (version problems first) becomes one ``ScenarioError`` naming the file, the line, the field
and, where it helps, the value. Keeping that rule here means the three formats word their errors
alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from suanwang.scenario.errors import ScenarioError
from suanwang.scenario.parse import Parsed

_Doc = TypeVar("_Doc", bound=BaseModel)


def validate_doc(schema: type[_Doc], parsed: Parsed, source: str, what: str) -> _Doc:
    """``parsed.data`` checked as ``schema``.

    ``what`` names the document when its top level is not a mapping ("file", "template",
    "intent").

    Raises:
        ScenarioError: the data is not a mapping or breaks the schema (the first problem).
    """
    data = parsed.data
    if not isinstance(data, dict):
        raise ScenarioError(
            f"expected a mapping with 'version: 1' at the top of the {what}",
            source=source,
            line=parsed.root_line,
            value=type(data).__name__ if data is not None else "an empty document",
        )
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        raise from_validation(error, parsed, source) from None


def from_validation(error: ValidationError, parsed: Parsed, source: str) -> ScenarioError:
    """The first problem pydantic found, as a located ScenarioError (version problems first)."""
    # include_input=False: an input may be an aliased structure; only the first problem's
    # value is shown, found through the path and shortened.
    problems = sorted(
        error.errors(include_url=False, include_input=False, include_context=False),
        key=lambda e: e["loc"][:1] != ("version",),
    )
    first = problems[0]
    path = _data_path(parsed.data, first["loc"])
    kind = first["type"]
    value: Any = None
    if kind == "missing":
        message = "required field is missing"
    elif kind == "extra_forbidden":
        message = "unknown field (check its spelling against the schema)"
    else:
        message = first["msg"].replace("Input should be", "should be")
        message = message.removeprefix("Value error, ")
        value = _value_at(parsed.data, first["loc"])
    kwargs: dict[str, Any] = {} if value is None else {"value": value}
    return ScenarioError(
        message,
        path=path,
        source=source,
        line=parsed.line_of(path),
        more=len(problems) - 1,
        **kwargs,
    )


def _value_at(data: Any, loc: Sequence[int | str]) -> Any:
    """The value a pydantic location points at (the deepest part present)."""
    node = data
    for part in loc:
        if _has(node, part):
            node = node[part]
    return node


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
