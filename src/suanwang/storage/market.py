"""The SQL ``MarketStore`` (SQLite, PostgreSQL) over the tables of ``market_tables``.

Every method is one transaction. A purchase reads the book, fills the request, binds each node
with ``UPDATE market_nodes SET lease_id = ... WHERE lease_id IS NULL`` and checks the count of
rows it bound: a concurrent buyer who bound one of them first makes this purchase fail whole
(``MarketConflictError``: try again) instead of selling a node twice. Usage is metered by
``SqlUsageLog`` (``market_usage``); balances, holds and settlements by ``SqlMarketAccounts``
(``market_accounts``).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from suanwang.control.stores import Stores
from suanwang.market.accounts import InsufficientFundsError
from suanwang.market.money import money
from suanwang.market.posted import Offer, Rental, Want, fill_posted
from suanwang.market.store import (
    LeaseRecord,
    ListedOffer,
    MarketConflictError,
    MarketNotFoundError,
    MarketStore,
    check_listing,
    check_reason,
    lease_ids,
)
from suanwang.market.usage import Ingest, UsageEvent, UsageLine
from suanwang.model import TrustLevel
from suanwang.storage.market_accounts import SqlMarketAccounts, account_row, amount_of, cents
from suanwang.storage.market_memory import MemoryMarketStore
from suanwang.storage.market_tables import MarketLeaseRow, MarketNodeRow, MarketOfferRow
from suanwang.storage.market_usage import SqlUsageLog
from suanwang.storage.sql import _reachable


def _offer(row: MarketOfferRow) -> Offer:
    return Offer(
        row.offer_id,
        row.provider,
        row.unit,
        row.units,
        amount_of(row.price_cents),
        row.region,
        TrustLevel(row.trust),
        Rental(row.rental),
    )


def _lease(row: MarketLeaseRow) -> LeaseRecord:
    return LeaseRecord(
        row.lease_id,
        row.tenant,
        row.provider,
        row.offer_id,
        row.units,
        amount_of(row.price_cents),
        Rental(row.rental),
        tuple(row.node_ids),
        row.started_s,
        row.ended_s,
        row.end_reason,
    )


class SqlMarketStore(SqlMarketAccounts):
    """A ``MarketStore`` in the market tables (migration 0006); see ``market.store``.

    Args:
        engine: Engine on a database migrated to the head.
        period_s: Length of a billing period, seconds.
        fee_rate: The platform's share of every settlement, in [0, 1).
    """

    def __init__(self, engine: Engine, period_s: float, fee_rate: Decimal) -> None:
        if not Decimal(0) <= Decimal(fee_rate) < 1:
            raise ValueError(f"fee_rate: {fee_rate!r} is not in [0, 1)")
        self._engine = engine
        self._usage = SqlUsageLog(engine, period_s)
        self.period_s = period_s
        self.fee_rate = Decimal(fee_rate)

    def list_offer(self, offer: Offer, node_ids: Sequence[str], at_s: float) -> ListedOffer:
        """See ``MarketStore.list_offer``."""
        nodes = check_listing(offer, node_ids)
        with _reachable(), Session(self._engine) as session, session.begin():
            known = session.scalar(
                select(MarketOfferRow.offer_id).where(MarketOfferRow.offer_id == offer.offer_id)
            )
            if known is not None:
                raise MarketConflictError(f"offer_id: {offer.offer_id!r} is already listed")
            taken = session.scalars(
                select(MarketNodeRow.node_id).where(MarketNodeRow.node_id.in_(nodes))
            ).all()
            if taken:
                raise MarketConflictError(f"node_ids: {sorted(taken)} are already offered")
            session.add(
                MarketOfferRow(
                    offer_id=offer.offer_id,
                    provider=offer.provider,
                    unit=offer.unit,
                    units=offer.units,
                    price_cents=cents(money(offer.price, "price")),
                    region=offer.region,
                    trust=int(offer.trust),
                    rental=offer.rental.value,
                    node_ids=list(nodes),
                    listed_s=at_s,
                )
            )
            session.add_all(MarketNodeRow(node_id=n, offer_id=offer.offer_id) for n in nodes)
        return ListedOffer(offer, nodes, 0, at_s)

    def book(self) -> builtins.list[ListedOffer]:
        """See ``MarketStore.book``."""
        with _reachable(), Session(self._engine) as session:
            return self._book(session)

    def _book(self, session: Session) -> builtins.list[ListedOffer]:
        counts = session.execute(
            select(MarketNodeRow.offer_id, func.count())
            .where(MarketNodeRow.lease_id.is_not(None))
            .group_by(MarketNodeRow.offer_id)
        )
        sold = {offer_id: int(count) for offer_id, count in counts}
        rows = session.scalars(select(MarketOfferRow).order_by(MarketOfferRow.seq))
        return [
            ListedOffer(_offer(r), tuple(r.node_ids), sold.get(r.offer_id, 0), r.listed_s)
            for r in rows
        ]

    def buy(self, lease_id: str, want: Want, at_s: float) -> tuple[LeaseRecord, ...]:
        """See ``MarketStore.buy``."""
        with _reachable(), Session(self._engine) as session, session.begin():
            book = {listed.offer.offer_id: listed for listed in self._book(session)}
            sold = {offer_id: listed.sold for offer_id, listed in book.items()}
            fills = fill_posted(want, [listed.offer for listed in book.values()], sold)
            ids = lease_ids(lease_id, len(fills))
            known = session.scalar(
                select(MarketLeaseRow.lease_id).where(MarketLeaseRow.lease_id.in_(ids))
            )
            if known is not None:
                raise MarketConflictError(f"lease_id: {known!r} is already a lease")
            total = sum(cents(fill.amount) for fill in fills)
            account = account_row(session, f"tenant:{want.tenant}")
            if account.cents < total:
                raise InsufficientFundsError(
                    f"tenant {want.tenant!r}: a period of the leases costs {amount_of(total)}, "
                    f"the balance is {amount_of(account.cents)}"
                )
            account.cents -= total
            leases: list[LeaseRecord] = []
            for one_id, fill in zip(ids, fills, strict=True):
                nodes = self._bind(session, book[fill.offer_id], one_id, fill.units)
                lease = LeaseRecord(
                    one_id,
                    want.tenant,
                    fill.provider,
                    fill.offer_id,
                    fill.units,
                    fill.price,
                    book[fill.offer_id].offer.rental,
                    nodes,
                    at_s,
                )
                session.add(
                    MarketLeaseRow(
                        lease_id=one_id,
                        tenant=lease.tenant,
                        provider=lease.provider,
                        offer_id=lease.offer_id,
                        units=lease.units,
                        price_cents=cents(lease.price),
                        rental=lease.rental.value,
                        node_ids=list(nodes),
                        started_s=at_s,
                        held_cents=cents(lease.amount),
                    )
                )
                leases.append(lease)
        return tuple(leases)

    def _bind(
        self, session: Session, listed: ListedOffer, lease_id: str, units: int
    ) -> tuple[str, ...]:
        free = set(
            session.scalars(
                select(MarketNodeRow.node_id).where(
                    MarketNodeRow.offer_id == listed.offer.offer_id,
                    MarketNodeRow.lease_id.is_(None),
                )
            )
        )
        chosen = tuple(n for n in listed.node_ids if n in free)[:units]
        bound = session.execute(
            update(MarketNodeRow)
            .where(MarketNodeRow.node_id.in_(chosen), MarketNodeRow.lease_id.is_(None))
            .values(lease_id=lease_id)
        )
        if len(chosen) < units or bound.rowcount != units:  # type: ignore[attr-defined]
            raise MarketConflictError(
                f"offer {listed.offer.offer_id!r}: its nodes were leased meanwhile; try again"
            )
        return chosen

    def leases(
        self, tenant: str | None = None, active_only: bool = False
    ) -> builtins.list[LeaseRecord]:
        """See ``MarketStore.leases``."""
        query = select(MarketLeaseRow).order_by(MarketLeaseRow.seq)
        if tenant is not None:
            query = query.where(MarketLeaseRow.tenant == tenant)
        if active_only:
            query = query.where(MarketLeaseRow.ended_s.is_(None))
        with _reachable(), Session(self._engine) as session:
            return [_lease(row) for row in session.scalars(query)]

    def end_lease(self, lease_id: str, reason: str, at_s: float) -> LeaseRecord:
        """See ``MarketStore.end_lease``."""
        check_reason(reason)
        with _reachable(), Session(self._engine) as session, session.begin():
            row = self._lease_row(session, lease_id)
            if row.ended_s is not None:
                raise MarketNotFoundError(f"lease_id: {lease_id!r} is not an active lease")
            session.execute(
                update(MarketNodeRow)
                .where(MarketNodeRow.lease_id == lease_id)
                .values(lease_id=None)
            )
            account_row(session, f"tenant:{row.tenant}").cents += row.held_cents
            row.held_cents, row.ended_s, row.end_reason = 0, at_s, reason
            return _lease(row)

    def ingest(self, events: Sequence[UsageEvent]) -> builtins.list[Ingest]:
        """See ``MarketStore.ingest``."""
        return self._usage.ingest(events)

    def usage_lines(self, period: int) -> builtins.list[UsageLine]:
        """See ``MarketStore.usage_lines``."""
        return self._usage.lines(period)

    def usage_events(self, period: int, tenant: str | None = None) -> builtins.list[UsageEvent]:
        """See ``MarketStore.usage_events``."""
        return self._usage.events(period, tenant)

    def usage_after(
        self, after_seq: int | None, limit: int, party: str | None = None
    ) -> builtins.list[tuple[int, UsageEvent]]:
        """See ``MarketStore.usage_after``."""
        return self._usage.after(after_seq, limit, party)

    def close_period(self, period: int) -> None:
        """See ``MarketStore.close_period``."""
        self._usage.close(period)

    def closed_through(self) -> int:
        """See ``MarketStore.closed_through``."""
        return self._usage.closed_through()


def open_market(stores: Stores, period_s: float, fee_rate: Decimal) -> MarketStore:
    """The market store on the database of ``stores`` (in memory for the in-memory stores)."""
    if isinstance(stores.engine, Engine):
        return SqlMarketStore(stores.engine, period_s, fee_rate)
    return MemoryMarketStore(period_s, fee_rate)
