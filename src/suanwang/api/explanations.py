"""The explain route's document: where a task would go and why there, or why nowhere.

Read from ``service.Explanation`` (itself a ``Diagnosis`` made plain) attribute by attribute:
the scheduling records validate straight into these models.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field, model_validator

from suanwang.api.schemas import EstimateOut, PlacementOut, TaskOut
from suanwang.model import Task
from suanwang.scheduling import NearMiss
from suanwang.service import Explanation


class VerdictOut(BaseModel):
    """One node's fate in a cycle (``plugin`` empty when it passed every filter)."""

    node_id: str
    plugin: str
    reason: str


class PluginScoreOut(BaseModel):
    """One Score plugin's part in a node's total."""

    plugin: str
    weight: float
    raw: float = Field(description="The plugin's own value for the node (ms, price, share).")
    scaled: float = Field(description="That value in points, 0-100 over the candidates.")
    weighted: float = Field(description="weight x scaled: what it adds to the total.")


class CandidateOut(BaseModel):
    """A scored node: total points, estimate, points per plugin."""

    node_id: str
    score: float
    estimate: EstimateOut
    scores: list[PluginScoreOut]


class WhyHereOut(BaseModel):
    """Why the chosen node: its points per Score plugin, and the runners-up, best first."""

    chosen: CandidateOut
    alternatives: list[CandidateOut]
    candidates: int = Field(description="Nodes that passed every filter and were scored.")
    score_max: float = Field(description="Largest possible total (every plugin at 100).")
    kept: bool = Field(description="A runner-up scores higher: affinity or hysteresis held it.")


class NearMissOut(BaseModel):
    """A rejected node and how far it was from passing."""

    node_id: str
    reason: str
    short_by: float | None = Field(
        description="How much it missed by, in unit; null where never is true or the plugin "
        "does not measure misses."
    )
    unit: str
    never: bool = Field(description="No load change would make the node pass (JSON has no inf).")

    @model_validator(mode="before")
    @classmethod
    def _of_miss(cls, data: Any) -> Any:
        if not isinstance(data, NearMiss):
            return data
        never = data.short_by is not None and math.isinf(data.short_by)
        return {
            "node_id": data.node_id,
            "reason": data.reason,
            "short_by": None if never else data.short_by,
            "unit": data.unit,
            "never": never,
        }


class RefusalGroupOut(BaseModel):
    """The nodes one plugin turned away for one kind of shortfall, closest first."""

    plugin: str
    kind: str = Field(description="What fell short; empty where the plugin measures no misses.")
    count: int
    closest: list[NearMissOut]


class ExplanationOut(BaseModel):
    """Where the task's spec would be placed now and why there, or why nowhere.

    Nothing is reserved. A placed task is explained without its own hold, as if placed anew.
    """

    task: TaskOut
    placeable: bool
    node_id: str | None
    placed_on: str | None = Field(description="The node the task holds now, if any.")
    placement: PlacementOut | None
    code: str
    plugin: str
    refusal: str = Field(description="Why no node can take it now (empty when placeable).")
    summary: str
    survivors: int
    rejected_by: dict[str, int]
    verdicts: list[VerdictOut] = Field(description="Rejected nodes, closest first.")
    why_not: VerdictOut | None
    why_here: WhyHereOut | None
    refusals: list[RefusalGroupOut] = Field(
        description="Rejections by plugin and kind, closest plugin first, with counts."
    )

    @classmethod
    def of(cls, task: Task, e: Explanation) -> ExplanationOut:
        """From the task and the explanation."""
        data = {
            "task": TaskOut.of(task),
            "placeable": e.placeable,
            "node_id": e.node_id,
            "placed_on": e.placed_on,
            "placement": e.placement,
            "code": e.code,
            "plugin": e.plugin,
            "refusal": e.reason,
            "summary": e.summary,
            "survivors": e.survivors,
            "rejected_by": e.rejected_by,
            "verdicts": e.verdicts,
            "why_not": e.why_not,
            "why_here": e.why_here,
            "refusals": e.refusals,
        }
        return cls.model_validate(data, from_attributes=True)
