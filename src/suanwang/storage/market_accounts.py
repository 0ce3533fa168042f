"""The accounts side of the SQL ``MarketStore``: balances, holds, settlements and payouts.

``SqlMarketAccounts`` is the part of ``SqlMarketStore`` (``market``) that moves money between
the accounts of the ``market_accounts`` table (``tenant:<id>``, ``provider:<id>`` and the
platform's); amounts are stored as whole cents. Every method is one transaction, an account
row read for update before it changes.
"""

from __future__ import annotations

import builtins
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from suanwang.market.accounts import InsufficientFundsError, Settlement
from suanwang.market.money import money, round_cents
from suanwang.market.store import MarketNotFoundError
from suanwang.storage.market_tables import MarketAccountRow, MarketLeaseRow, MarketSettlementRow
from suanwang.storage.sql import _reachable

PLATFORM = "platform"


def cents(amount: Decimal) -> int:
    """Whole cents of a whole-cent amount."""
    return int(amount.scaleb(2))


def amount_of(value: int) -> Decimal:
    """The amount of ``value`` cents."""
    return Decimal(value).scaleb(-2)


def account_row(session: Session, owner: str) -> MarketAccountRow:
    """The account row of ``owner``, read for update; a new one at zero when it has none."""
    row = session.get(MarketAccountRow, owner, with_for_update=True)
    if row is None:
        row = MarketAccountRow(owner=owner, cents=0)
        session.add(row)
    return row


class SqlMarketAccounts:
    """Balances, holds and settlements of a ``SqlMarketStore`` (see the module docstring)."""

    _engine: Engine
    fee_rate: Decimal

    def _lease_row(self, session: Session, lease_id: str) -> MarketLeaseRow:
        row = session.scalar(
            select(MarketLeaseRow).where(MarketLeaseRow.lease_id == lease_id).with_for_update()
        )
        if row is None:
            raise MarketNotFoundError(f"lease_id: {lease_id!r} is not a lease")
        return row

    def deposit(self, tenant: str, amount: Decimal) -> Decimal:
        """See ``MarketStore.deposit``."""
        value = cents(money(amount, "amount"))
        with _reachable(), Session(self._engine) as session, session.begin():
            account = account_row(session, f"tenant:{tenant}")
            account.cents += value
            return amount_of(account.cents)

    def balance(self, tenant: str) -> Decimal:
        """See ``MarketStore.balance``."""
        with _reachable(), Session(self._engine) as session:
            row = session.get(MarketAccountRow, f"tenant:{tenant}")
            return amount_of(row.cents if row else 0)

    def held(self, lease_id: str) -> Decimal:
        """See ``MarketStore.held``."""
        with _reachable(), Session(self._engine) as session:
            value = session.scalar(
                select(MarketLeaseRow.held_cents).where(MarketLeaseRow.lease_id == lease_id)
            )
            return amount_of(value or 0)

    def settle(self, lease_id: str, period: int) -> Settlement:
        """See ``MarketStore.settle``."""
        with _reachable(), Session(self._engine) as session, session.begin():
            row = self._lease_row(session, lease_id)
            done = session.get(MarketSettlementRow, (lease_id, period))
            if done is not None:
                return Settlement(
                    lease_id,
                    amount_of(done.charge_cents),
                    amount_of(done.payout_cents),
                    amount_of(done.fee_cents),
                )
            if row.ended_s is not None:
                raise MarketNotFoundError(f"lease_id: {lease_id!r} has ended")
            charge = row.units * row.price_cents
            from_hold = min(charge, row.held_cents)
            tenant = account_row(session, f"tenant:{row.tenant}")
            if tenant.cents < charge - from_hold:
                raise InsufficientFundsError(
                    f"tenant {row.tenant!r}: charge {amount_of(charge)} for lease {lease_id!r}"
                    f" would leave {amount_of(tenant.cents - charge + from_hold)} (limit 0.00)"
                )
            tenant.cents -= charge - from_hold
            row.held_cents -= from_hold
            fee = cents(round_cents(amount_of(charge) * self.fee_rate))
            account_row(session, f"provider:{row.provider}").cents += charge - fee
            account_row(session, PLATFORM).cents += fee
            session.add(
                MarketSettlementRow(
                    lease_id=lease_id,
                    period=period,
                    charge_cents=charge,
                    payout_cents=charge - fee,
                    fee_cents=fee,
                )
            )
        return Settlement(lease_id, amount_of(charge), amount_of(charge - fee), amount_of(fee))

    def settlements(self, period: int) -> builtins.list[Settlement]:
        """See ``MarketStore.settlements``."""
        query = (
            select(MarketSettlementRow)
            .where(MarketSettlementRow.period == period)
            .order_by(MarketSettlementRow.lease_id)
        )
        with _reachable(), Session(self._engine) as session:
            return [
                Settlement(
                    row.lease_id,
                    amount_of(row.charge_cents),
                    amount_of(row.payout_cents),
                    amount_of(row.fee_cents),
                )
                for row in session.scalars(query)
            ]

    def payouts(self) -> dict[str, Decimal]:
        """See ``MarketStore.payouts``."""
        query = select(MarketAccountRow).where(MarketAccountRow.owner.startswith("provider:"))
        with _reachable(), Session(self._engine) as session:
            return {
                row.owner.removeprefix("provider:"): amount_of(row.cents)
                for row in session.scalars(query)
            }

    def fees(self) -> Decimal:
        """See ``MarketStore.fees``."""
        with _reachable(), Session(self._engine) as session:
            row = session.get(MarketAccountRow, PLATFORM)
            return amount_of(row.cents if row else 0)
