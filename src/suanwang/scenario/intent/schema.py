"""The intent file format, version 1: what a user needs, where, how well, for how much.

An intent names a business need from the catalogue (``catalogue.yaml``: ``video-analytics`` with
``cameras``, ``ar-vr`` with ``users``, ``nightly-training`` with ``gpu_days``, ...), the coverage
area (regions, or sites where its users enter), the quality (a latency target at a percentile,
an availability, a deadline), a budget (the sum of its tasks' prices, in the currency of the
nodes' prices) and a carbon preference. ``read_intent`` checks a text against this format and
the catalogue; every problem is one ``ScenarioError`` line naming file, line, field and value.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

from suanwang.scenario.errors import ScenarioError
from suanwang.scenario.intent.catalogue import Catalogue, default_catalogue
from suanwang.scenario.limits import ScenarioLimits
from suanwang.scenario.parse import Parsed, parse_text
from suanwang.scenario.validate import validate_doc

INTENT_VERSION = 1
MAX_INTENT_BYTES = 64 * 1024
"""An intent is a short document; anything longer is refused before parsing."""

Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:@/+-]+$")]
Positive = Annotated[float, Strict(), Field(gt=0)]
Carbon = Literal["any", "balanced", "low"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Coverage(_Doc):
    """Where the intent is served: region patterns (residency) and sites users enter at."""

    regions: list[Name] = Field(default_factory=list, max_length=100)
    sites: list[Name] = Field(default_factory=list, max_length=1000)


class Quality(_Doc):
    """How well: latency target at a percentile, availability, and a deadline for batch work."""

    latency_ms: Positive | None = None
    percentile: Annotated[float, Strict(), Field(gt=0, le=100)] = 95.0
    availability: Annotated[float, Strict(), Field(gt=0, le=1)] = 0.99
    deadline_s: Positive | None = None


class Need(_Doc):
    """The business need: a catalogue kind and the quantity the catalogue names for it."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, frozen=True)
    kind: Name


class IntentDoc(_Doc):
    """One intent as written (see the module docstring)."""

    version: Literal[1]
    name: Name
    need: Need
    coverage: Coverage
    quality: Quality = Field(default_factory=Quality)
    budget: Positive | None = None
    carbon: Carbon = "any"

    def quantity(self, catalogue: Catalogue) -> float:
        """The need's quantity (cameras, users, GPU-days...) named by its catalogue entry."""
        entry = catalogue.entry(self.need.kind)
        extra = self.need.model_extra or {}
        return float(extra[entry.quantity])


def read_intent(
    text: str, source: str = "<intent>", catalogue: Catalogue | None = None
) -> IntentDoc:
    """Parse and check one intent (YAML or JSON text).

    Raises:
        ScenarioError: the text does not parse, breaks the format, or names a need the
            catalogue does not hold or without its quantity; one line with file, line, field
            and value.
    """
    catalogue = catalogue or default_catalogue()
    limits = ScenarioLimits(max_bytes=MAX_INTENT_BYTES, max_yaml_bytes=MAX_INTENT_BYTES)
    parsed = parse_text(text, "yaml", source, limits)
    return intent_from_data(parsed.data, source, catalogue, parsed)


def intent_from_data(
    data: Any, source: str, catalogue: Catalogue, parsed: Parsed | None = None
) -> IntentDoc:
    """Check plain data (a parsed file or a JSON body) as an intent; see ``read_intent``."""
    parsed = parsed or Parsed(data)
    doc = validate_doc(IntentDoc, parsed, source, "intent")
    _check_need(doc, source, catalogue, parsed)
    if not doc.coverage.regions and not doc.coverage.sites:
        path = ("coverage",)
        raise ScenarioError(
            "name at least one region or site",
            path=path,
            source=source,
            line=parsed.line_of(path),
        )
    return doc


def _check_need(doc: IntentDoc, source: str, catalogue: Catalogue, parsed: Parsed) -> None:
    kind = doc.need.kind
    if kind not in catalogue.entries:
        path = ("need", "kind")
        known = ", ".join(sorted(catalogue.entries))
        raise ScenarioError(
            f"not a need of the catalogue (one of: {known})",
            path=path,
            source=source,
            line=parsed.line_of(path),
            value=kind,
        )
    entry = catalogue.entries[kind]
    extra = dict(doc.need.model_extra or {})
    for key, value in extra.items():
        path = ("need", key)
        if key != entry.quantity:
            raise ScenarioError(
                f"unknown field: {kind} is measured in {entry.quantity}",
                path=path,
                source=source,
                line=parsed.line_of(path),
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ScenarioError(
                f"{entry.quantity} should be a positive number",
                path=path,
                source=source,
                line=parsed.line_of(path),
                value=value,
            )
        if value > entry.max_quantity:
            raise ScenarioError(
                f"{entry.quantity} should be at most {entry.max_quantity:g}",
                path=path,
                source=source,
                line=parsed.line_of(path),
                value=value,
            )
    if entry.quantity not in extra:
        path = ("need", entry.quantity)
        raise ScenarioError(
            f"required field is missing: {kind} is measured in {entry.quantity}",
            path=path,
            source=source,
            line=parsed.line_of(("need",)),
        )
