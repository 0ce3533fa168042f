"""Geodata for the portal's map: province outlines from a package's shipped boundaries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from starlette.concurrency import run_in_threadpool

from suanwang.api.auth import PEOPLE, allow
from suanwang.api.outlines import OutlinesUnavailableError, province_outlines
from suanwang.api.problems import ApiError
from suanwang.control.stores import Principal

router = APIRouter(tags=["geo"])

GEOJSON = "application/geo+json"


@router.get(
    "/v1/geo/outlines",
    operation_id="getOutlines",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}, "description": "A GeoJSON FeatureCollection."}},
)
async def get_outlines(_: Annotated[Principal, Depends(allow(*PEOPLE))]) -> Response:
    """China's province outlines (longitude, latitude), simplified for a national map.

    Built from the installed geodata on first use, then served from memory.
    """
    try:
        body = await run_in_threadpool(province_outlines)
    except OutlinesUnavailableError as error:
        raise ApiError(503, f"no outlines: {error}") from error
    return Response(body, media_type=GEOJSON, headers={"Cache-Control": "private, max-age=86400"})
