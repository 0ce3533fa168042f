"""What routes share: the control plane of the app, awaiting its futures, common parameters."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Request

from suanwang.control.stores import MAX_KEY_CHARS
from suanwang.service import ControlPlane

T = TypeVar("T")


def plane_of(request: Request) -> ControlPlane:
    """The control plane the app serves."""
    plane: ControlPlane = request.app.state.plane
    return plane


async def get_plane(request: Request) -> ControlPlane:
    """``plane_of`` as a dependency."""
    return plane_of(request)


PlaneDep = Annotated[ControlPlane, Depends(get_plane)]
IdPath = Annotated[str, Path(min_length=1, max_length=MAX_KEY_CHARS)]


async def answer(future: Future[T]) -> T:
    """Wait for a command of the writer without holding a thread."""
    return await asyncio.wrap_future(future)
