"""The one error every scenario reader raises: it names file, line, field path, value and need."""

from __future__ import annotations

import reprlib
from collections.abc import Sequence

Path = tuple[str | int, ...]
_UNSET = object()
# A bounded repr: a value may be an aliased structure of billions of items or an integer of
# thousands of digits, and an error line must cost nothing to build.
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxlong, _REPR.maxother = 2, 50, 40, 50
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 4


def format_path(path: Sequence[str | int]) -> str:
    """``("links", 3, "a")`` as ``links[3].a``; the empty path as ``(top level)``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def _short(value: object, limit: int = 60) -> str:
    try:
        text = _REPR.repr(value)
    except ValueError:  # an integer past the 4,300 digits that int -> str allows
        text = f"an integer of {value.bit_length() if isinstance(value, int) else '?'} bits"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ScenarioError(ValueError):
    """A scenario could not be read; ``str()`` is one line a person can act on.

    The line reads ``FILE:LINE: PATH: MESSAGE (got VALUE)``; parts that are unknown are left out.

    Attributes:
        message: What is wrong and what was expected.
        source: File name (or ``<string>``), once known.
        path: Field path inside the document, e.g. ``("links", 3, "bandwidth_mbps")``.
        line: 1-based line in the file, where known.
        value: The offending value, where there is one.
        more: Number of further problems found in the same document.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Sequence[str | int] = (),
        source: str | None = None,
        line: int | None = None,
        value: object = _UNSET,
        more: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path: Path = tuple(path)
        self.source = source
        self.line = line
        self.value = value
        self.more = more

    @property
    def has_value(self) -> bool:
        """Whether the error carries the offending value."""
        return self.value is not _UNSET

    def located(self, source: str, line: int | None) -> ScenarioError:
        """This error, placed in file ``source`` at ``line``."""
        return ScenarioError(
            self.message,
            path=self.path,
            source=source,
            line=line,
            value=self.value,
            more=self.more,
        )

    def __str__(self) -> str:
        where = self.source or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: {format_path(self.path)}: {self.message}"
        if self.has_value:
            text += f" (got {_short(self.value)})"
        if self.more:
            text += f" [and {self.more} more problem{'s' if self.more > 1 else ''}]"
        return text.replace("\n", " ")
