"""The server's time series: samples of its counters, read from an index on."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from suanwang.api.auth import PEOPLE, allow
from suanwang.api.deps import PlaneDep
from suanwang.control.stores import Principal
from suanwang.service.series import SeriesWindow

router = APIRouter(tags=["operations"])

People = Annotated[Principal, Depends(allow(*PEOPLE))]
MAX_SITES = 50
"""Most site series one read returns (named and busiest together)."""


class SeriesOut(BaseModel):
    """Samples of the plane's counters as parallel lists (one entry per sample).

    ``columns`` holds, per interval, ``arrivals`` (tasks submitted), ``placed``, ``refused``
    (rejected or expired), ``completed``, ``failed``, ``sla_met`` and ``sla_missed``; at the
    sample's time ``queued`` and ``active``; and ``util_<tier>``, the share of the tier's CPU
    cores reserved (null for a tier without cores). ``sites`` holds the share of each site's
    cores reserved, for the sites asked for (null before the topology they belong to was
    loaded). Counts cover every tenant, as ``getLoad``'s figures do. Ask again with
    ``since=next`` for the samples taken since; when ``from_index`` differs from the ``since``
    sent, samples were dropped (or the server restarted) and the answer starts afresh.
    """

    period_s: float
    capacity: int
    from_index: int
    next: int
    at_s: list[float]
    columns: dict[str, list[float | None]]
    sites: dict[str, list[float | None]]

    @classmethod
    def of(cls, window: SeriesWindow) -> SeriesOut:
        """The document of a window read from the plane."""
        return cls(
            period_s=window.period_s,
            capacity=window.capacity,
            from_index=window.from_index,
            next=window.next,
            at_s=window.at_s,
            columns=window.columns,
            sites=window.sites,
        )


@router.get("/v1/series", operation_id="getSeries")
async def get_series(
    plane: PlaneDep,
    _: People,
    since: Annotated[int, Query(ge=0, description="Index of the first sample wanted.")] = 0,
    sites: Annotated[
        str, Query(max_length=4000, description="Comma-separated site ids to include.")
    ] = "",
    top: Annotated[
        int, Query(ge=0, le=MAX_SITES, description="Also the busiest sites, this many.")
    ] = 0,
) -> SeriesOut:
    """Arrivals, placements, refusals, SLA and CPU share per tier and site over time."""
    named = tuple(site for site in (s.strip() for s in sites.split(",")) if site)[:MAX_SITES]
    window = plane.series.read(since, named, min(top, MAX_SITES - len(named)))
    return SeriesOut.of(window)
