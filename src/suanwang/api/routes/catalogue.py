"""The live scenario's workload catalogue: the task types a submit may name, with their fields."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from suanwang.api.auth import PEOPLE, allow
from suanwang.api.deps import PlaneDep
from suanwang.api.schemas import TaskSpecOut
from suanwang.control.stores import Principal

router = APIRouter(tags=["scenarios"])

People = Annotated[Principal, Depends(allow(*PEOPLE))]


class TaskTypeOut(BaseModel):
    """A catalogue task type: its name, what it stands for, and the demand it gives a task."""

    name: str
    description: str
    spec: TaskSpecOut = Field(
        description="The fields a task of this type takes unless its submit sets them "
        "(ingress_site is the submit's own)."
    )


class CatalogueOut(BaseModel):
    """The task types of the live scenario, in catalogue order."""

    scenario: str
    types: list[TaskTypeOut]


@router.get("/v1/catalogue/types", operation_id="listCatalogueTypes")
async def list_catalogue_types(plane: PlaneDep, _: People) -> CatalogueOut:
    """The live scenario's catalogue task types: a loaded custom scenario's own types too."""
    scenario = plane.live.scenario
    types = [
        TaskTypeOut(
            name=task_type.name,
            description=task_type.description,
            spec=TaskSpecOut.model_validate(task_type.spec, from_attributes=True),
        )
        for task_type in scenario.workload.task_types
    ]
    return CatalogueOut(scenario=scenario.name, types=types)
