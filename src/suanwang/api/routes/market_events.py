"""The market's events as CloudEvents 1.0: ``GET /v1/market/events?after=CURSOR&limit=N``.

The answer is a batch (``application/cloudevents-batch+json``): a JSON array of structured-mode
events, oldest first, each written by the ``cloudevents`` package's JSON format. The cursor to
read on from is the ``X-Next-Cursor`` header (the same cursor when the page is empty, so a poller
keeps it). Ids are stable (``service.market_feed``): a consumer that reads a page again dedupes
by id. Roles are those of the other market reads: staff see every event, a provider or consumer
those of its tenant (as tenant or provider) and every period close. 422 for a malformed cursor
or limit; 503 when the server runs no market.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from fastapi import APIRouter, Depends, Query, Response

from suanwang.api.auth import PEOPLE, STAFF, allow
from suanwang.api.deps import PlaneDep
from suanwang.api.problems import ApiError
from suanwang.control.stores import Principal
from suanwang.service.market_feed import MAX_LIMIT, Cursor, FeedEvent, read_feed

router = APIRouter(tags=["market"])

BATCH = "application/cloudevents-batch+json"
NEXT_CURSOR = "X-Next-Cursor"

People = Annotated[Principal, Depends(allow(*PEOPLE))]
After = Annotated[
    str | None, Query(max_length=2000, description="Cursor of the last page (empty: the start).")
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Most events on the page.")]

_FORMAT = JSONFormat()


def cloud_event(event: FeedEvent) -> CloudEvent:
    """``event`` as a CloudEvents 1.0 event with JSON data."""
    attributes = {
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "subject": event.subject,
        "time": datetime.fromtimestamp(event.time_s, UTC),
        "datacontenttype": "application/json",
    }
    return CloudEvent(attributes, event.data)


def batch(events: list[FeedEvent]) -> bytes:
    """``events`` as one CloudEvents JSON batch (an array of structured-mode events)."""
    return b"[" + b",".join(_FORMAT.write(cloud_event(e)) for e in events) + b"]"


@router.get(
    "/v1/market/events",
    operation_id="listMarketEvents",
    response_class=Response,
    responses={200: {"content": {BATCH: {}}, "description": "A batch of CloudEvents."}},
)
def list_events(plane: PlaneDep, who: People, after: After = None, limit: Limit = 100) -> Response:
    """Usage, lease and period events after the cursor ``after``, oldest first."""
    market = plane.market
    if market is None:
        raise ApiError(503, "this server runs no market (it has no market store)")
    party = None if who.roles & set(STAFF) else who.tenant
    try:
        page = read_feed(market.store, plane.stores.audit, Cursor.decode(after), limit, party)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    return Response(
        batch(page.events), media_type=BATCH, headers={NEXT_CURSOR: page.cursor.encode()}
    )
