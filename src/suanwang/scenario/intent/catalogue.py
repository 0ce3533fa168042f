"""The intent catalogue: translation rules kept as data (``catalogue.yaml``, package data).

Each need says what quantity it is measured in, how many units one replica serves (or that
replicas are the GPUs needed to finish by the deadline), each replica's demand, and its default
latency target or deadline; availability targets add spare replicas; the carbon preference picks
a scheduling profile. ``translate`` applies these rules and shows each with the figure it made.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from suanwang.model import TaskClass
from suanwang.scenario.errors import ScenarioError

NonNegative = Annotated[float, Strict(), Field(ge=0)]
Positive = Annotated[float, Strict(), Field(gt=0)]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class PerUnit(_Doc):
    """A figure proportional to the units one replica serves."""

    per_unit: NonNegative


Figure = NonNegative | PerUnit


class Replica(_Doc):
    """One replica's demand."""

    cpu_cores: Positive
    mem_gib: NonNegative
    work_gflop: Figure
    data_in_mb: Figure = 0.0
    gpus: Annotated[int, Strict(), Field(ge=0, le=64)] = 0
    task_class: TaskClass = TaskClass.WARM
    long_running: bool = False


class Entry(_Doc):
    """One need of the catalogue (see the module docstring)."""

    description: str
    quantity: Annotated[str, Field(pattern=r"^[a-z_]+$")]
    max_quantity: Positive
    replicas: Literal["per_units", "over_deadline"] = "per_units"
    units_per_replica: Positive = 1.0
    latency_ms: Positive | None = None
    deadline_s: Positive | None = None
    replica: Replica


class Spare(_Doc):
    """Spare replicas for an availability target at or above a threshold."""

    availability_at_least: Annotated[float, Strict(), Field(gt=0, le=1)]
    spares: Annotated[int, Strict(), Field(ge=0, le=100)]


class Catalogue(_Doc):
    """Every need, the spare rules and the profile per carbon preference."""

    version: Literal[1]
    needs: dict[str, Entry]
    spares: list[Spare] = Field(default_factory=list)
    carbon_profiles: dict[Literal["any", "balanced", "low"], str]

    @property
    def entries(self) -> dict[str, Entry]:
        """The needs by kind."""
        return self.needs

    def entry(self, kind: str) -> Entry:
        """The need ``kind`` (KeyError when the catalogue has none)."""
        return self.needs[kind]

    def spares_for(self, availability: float) -> Spare | None:
        """The rule of the highest threshold at or below ``availability``; None below all."""
        met = [s for s in self.spares if availability >= s.availability_at_least]
        return max(met, key=lambda s: s.availability_at_least, default=None)


def load_catalogue(text: str, source: str = "<catalogue>") -> Catalogue:
    """Read a catalogue text.

    Raises:
        ScenarioError: it is not valid YAML or breaks the catalogue's format.
    """
    try:
        data = yaml.safe_load(text)
        return Catalogue.model_validate(data)
    except yaml.YAMLError as error:
        raise ScenarioError(f"not valid YAML: {error}", source=source) from None
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        raise ScenarioError(first["msg"], path=tuple(first["loc"]), source=source) from None


@cache
def default_catalogue() -> Catalogue:
    """The catalogue shipped with the package."""
    text = resources.files(__package__).joinpath("catalogue.yaml").read_text(encoding="utf-8")
    return load_catalogue(text, "catalogue.yaml")
