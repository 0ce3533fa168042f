"""Usage events in SQL, exactly once by idempotency key (the ``usage_events`` primary key).

A batch is one transaction: the keys already stored are read (in chunks, by primary key) and
compared with the batch's figures, the new events inserted with one ``executemany``. A writer
that lost a race on a key (another process inserted it between the read and the insert) gets
an IntegrityError; the batch is rolled back and read again, and the second reading sees the
winner's row, so the event is then a duplicate or a conflict, never metered twice.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Engine, Table, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanwang.market.usage import (
    Dimension,
    Figures,
    Ingest,
    Meter,
    UsageEvent,
    UsageLine,
    agree,
    figures_of,
)
from suanwang.storage.market_tables import MarketPeriodRow, UsageEventRow
from suanwang.storage.sql import _reachable

READ_CHUNK = 500
"""Keys looked up per query (below every database's limit on bound parameters)."""

RACE_RETRIES = 3
"""How many times a batch that lost a key race is read again before the error is raised."""

_T = UsageEventRow.__table__
_TABLE = cast(Table, _T)  # the mapped class's table, typed for Core's ``insert``


def _event(row: UsageEventRow) -> UsageEvent:
    return UsageEvent(
        row.run_id,
        row.tenant,
        row.provider,
        Dimension(row.dimension),
        row.quantity,
        row.ended_s,
        row.detail,
        row.sla_met,
    )


class SqlUsageLog:
    """The usage part of ``SqlMarketStore`` (see ``market.store.MarketStore.ingest``).

    Args:
        engine: Engine on a database migrated to the head.
        period_s: Length of a billing period, seconds.
    """

    def __init__(self, engine: Engine, period_s: float) -> None:
        self._engine = engine
        self._periods = Meter(period_s)  # only its period arithmetic and checks are used

    def ingest(self, events: Sequence[UsageEvent]) -> builtins.list[Ingest]:
        """Meter ``events`` once each (see ``MarketStore.ingest``)."""
        self._periods.check(events)  # malformed events and conflicts within the batch
        for attempt in range(RACE_RETRIES):
            try:
                with _reachable(), Session(self._engine) as session, session.begin():
                    return self._ingest(session, events)
            except IntegrityError:
                if attempt == RACE_RETRIES - 1:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _ingest(self, session: Session, events: Sequence[UsageEvent]) -> builtins.list[Ingest]:
        keys = list({event.key: None for event in events})
        stored: dict[str, Figures] = {}
        columns = (_T.c.key, _T.c.tenant, _T.c.provider, _T.c.quantity, _T.c.ended_s, _T.c.sla_met)
        for start in range(0, len(keys), READ_CHUNK):
            chunk = keys[start : start + READ_CHUNK]
            for row in session.execute(select(*columns).where(_T.c.key.in_(chunk))):
                stored[row[0]] = (row[1], row[2], row[3], row[4], bool(row[5]))
        closed = self.closed_through(session)
        # The next seq in this transaction; a writer racing on it hits the unique index and
        # the batch is read again (see ``ingest``), so two events never share a seq.
        seq = session.scalar(select(func.coalesce(func.max(_T.c.seq), 0))) or 0
        rows: list[dict[str, object]] = []
        outcomes: list[Ingest] = []
        for event in events:
            figures = figures_of(event)
            known = stored.get(event.key)
            if known is not None:
                agree(event.key, known, figures)
                outcomes.append(Ingest.DUPLICATE)
                continue
            stored[event.key] = figures
            period = self._periods.period_of(event.ended_s)
            late = period <= closed
            seq += 1
            rows.append(
                {
                    "key": event.key,
                    "run_id": event.run_id,
                    "tenant": event.tenant,
                    "provider": event.provider,
                    "dimension": event.dimension.value,
                    "detail": event.detail,
                    "quantity": event.quantity,
                    "ended_s": event.ended_s,
                    "sla_met": event.sla_met,
                    "period": closed + 1 if late else period,
                    "late": late,
                    "seq": seq,
                }
            )
            outcomes.append(Ingest.LATE if late else Ingest.ACCEPTED)
        if rows:
            session.execute(insert(_TABLE), rows)  # Core executemany: no ORM bulk layer
        return outcomes

    def lines(self, period: int) -> builtins.list[UsageLine]:
        """The usage of ``period`` summed per line (see ``MarketStore.usage_lines``)."""
        group = (_T.c.tenant, _T.c.provider, _T.c.dimension, _T.c.detail, _T.c.sla_met, _T.c.late)
        query = (
            select(*group, func.sum(_T.c.quantity)).where(_T.c.period == period).group_by(*group)
        )
        with _reachable(), Session(self._engine) as session:
            found = list(session.execute(query))
        return [
            UsageLine(t, p, Dimension(d), detail, bool(met), bool(late), float(q), [])
            for t, p, d, detail, met, late, q in found
        ]

    def events(self, period: int, tenant: str | None = None) -> builtins.list[UsageEvent]:
        """The events metered into ``period`` (see ``MarketStore.usage_events``)."""
        query = select(UsageEventRow).where(UsageEventRow.period == period)
        if tenant is not None:
            query = query.where(UsageEventRow.tenant == tenant)
        with _reachable(), Session(self._engine) as session:
            return [_event(row) for row in session.scalars(query.order_by(UsageEventRow.key))]

    def after(
        self, after_seq: int | None, limit: int, party: str | None = None
    ) -> builtins.list[tuple[int, UsageEvent]]:
        """Events after ``after_seq`` in the order stored (see ``MarketStore.usage_after``)."""
        query = select(UsageEventRow)
        if after_seq is not None:
            query = query.where(UsageEventRow.seq > after_seq)
        if party is not None:
            query = query.where(or_(UsageEventRow.tenant == party, UsageEventRow.provider == party))
        query = query.order_by(UsageEventRow.seq).limit(limit)
        with _reachable(), Session(self._engine) as session:
            return [(row.seq, _event(row)) for row in session.scalars(query)]

    def close(self, period: int) -> None:
        """Close every period up to ``period`` (see ``MarketStore.close_period``)."""
        with _reachable(), Session(self._engine) as session, session.begin():
            closed = self.closed_through(session)
            if period <= closed:
                raise ValueError(f"period {period} is already closed (through {closed})")
            session.add(MarketPeriodRow(period=period))

    def closed_through(self, session: Session | None = None) -> int:
        """The last closed period (-1 before the first close)."""
        if session is None:
            with _reachable(), Session(self._engine) as own:
                return self.closed_through(own)
        value = session.scalar(select(func.max(MarketPeriodRow.period)))
        return -1 if value is None else int(value)
