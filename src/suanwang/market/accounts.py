"""Tenant accounts in exact money: deposits, funds held for leases, settlements, payouts, fees.

Money only moves between the places this class keeps, so the books always balance:
``deposited == sum(balances) + sum(holds) + sum(payouts) + fees - withdrawn`` to the cent
(:meth:`Accounts.check`). A lease starts by holding funds; each period's settlement charges
the consumer from the hold (then from its balance), pays the provider the charge less the
platform fee and the platform the fee, so charges equal payouts plus fees exactly. An account
goes below zero only as far as its overdraft limit says (default none): a lease whose funds
run out is refused further settlement with ``InsufficientFundsError`` and must be closed, instead
of running for free. Closing a lease gives the rest of its hold back.

This is the in-memory model of the accounts; the durable store follows the same operations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from suanwang.market.money import ZERO, money, round_cents


class InsufficientFundsError(ValueError):
    """A hold or a charge that would take an account below its overdraft limit."""


@dataclass(frozen=True, slots=True)
class Settlement:
    """One period of a lease: what the consumer paid, the provider got and the platform kept."""

    lease_id: str
    charge: Decimal
    payout: Decimal
    fee: Decimal


@dataclass(slots=True)
class _Hold:
    tenant: str
    provider: str
    amount: Decimal


class Accounts:
    """Balances per tenant, holds per lease, payouts per provider and the platform's fees.

    ``fee_rate`` is the platform's share of every charge (rounded to a cent, half to even);
    ``overdraft`` maps a tenant to how far below zero its balance may go.
    """

    def __init__(self, fee_rate: Decimal, overdraft: Mapping[str, Decimal] | None = None) -> None:
        if not ZERO <= Decimal(fee_rate) < 1:
            raise ValueError(f"fee_rate: {fee_rate!r} is not in [0, 1)")
        self.fee_rate = Decimal(fee_rate)
        self.overdraft = {t: money(v, f"overdraft[{t!r}]") for t, v in (overdraft or {}).items()}
        self.balances: dict[str, Decimal] = {}
        self.payouts: dict[str, Decimal] = {}
        self.fees = ZERO
        self.deposited = ZERO
        self.withdrawn = ZERO
        self._holds: dict[str, _Hold] = {}

    def deposit(self, tenant: str, amount: Decimal) -> None:
        """Add ``amount`` to ``tenant``'s balance."""
        value = money(amount, "amount")
        self.balances[tenant] = self.balances.get(tenant, ZERO) + value
        self.deposited += value

    def withdraw_payout(self, provider: str, amount: Decimal) -> None:
        """Pay ``amount`` of ``provider``'s earnings out of the platform."""
        value = money(amount, "amount")
        earned = self.payouts.get(provider, ZERO)
        if value > earned:
            raise InsufficientFundsError(f"provider {provider!r}: {value} asked, {earned} earned")
        self.payouts[provider] = earned - value
        self.withdrawn += value

    def hold(self, lease_id: str, tenant: str, provider: str, amount: Decimal) -> None:
        """Hold ``amount`` of ``tenant``'s funds for a new lease from ``provider``."""
        if lease_id in self._holds:
            raise ValueError(f"lease_id: {lease_id!r} already holds funds")
        value = money(amount, "amount")
        self._take(tenant, value, f"hold {value} for lease {lease_id!r}")
        self._holds[lease_id] = _Hold(tenant, provider, value)

    def held(self, lease_id: str) -> Decimal:
        """The funds still held for ``lease_id`` (zero once closed)."""
        hold = self._holds.get(lease_id)
        return hold.amount if hold else ZERO

    def settle(self, lease_id: str, charge: Decimal) -> Settlement:
        """Charge one period of ``lease_id``: from its hold first, then the tenant's balance."""
        hold = self._hold_of(lease_id)
        value = money(charge, "charge")
        from_hold = min(value, hold.amount)
        if value > from_hold:
            self._take(hold.tenant, value - from_hold, f"charge {value} for lease {lease_id!r}")
        hold.amount -= from_hold
        fee = round_cents(value * self.fee_rate)
        payout = value - fee
        self.payouts[hold.provider] = self.payouts.get(hold.provider, ZERO) + payout
        self.fees += fee
        return Settlement(lease_id, value, payout, fee)

    def close(self, lease_id: str) -> Decimal:
        """End ``lease_id``'s hold: the rest goes back to the tenant; returns that amount."""
        hold = self._holds.pop(lease_id, None)
        if hold is None:
            raise KeyError(f"lease_id: {lease_id!r} holds no funds")
        self.balances[hold.tenant] = self.balances.get(hold.tenant, ZERO) + hold.amount
        return hold.amount

    def check(self) -> None:
        """Raise ``AssertionError`` unless every cent deposited is somewhere (the books balance)."""
        inside = sum(self.balances.values(), ZERO) + sum(self.payouts.values(), ZERO)
        inside += sum((h.amount for h in self._holds.values()), ZERO) + self.fees
        if inside != self.deposited - self.withdrawn:
            raise AssertionError(f"books off: {inside} held against {self.deposited} deposited")

    def _hold_of(self, lease_id: str) -> _Hold:
        hold = self._holds.get(lease_id)
        if hold is None:
            raise KeyError(f"lease_id: {lease_id!r} holds no funds")
        return hold

    def _take(self, tenant: str, value: Decimal, what: str) -> None:
        balance = self.balances.get(tenant, ZERO)
        floor = -self.overdraft.get(tenant, ZERO)
        if balance - value < floor:
            raise InsufficientFundsError(
                f"tenant {tenant!r}: {what} would leave {balance - value} (limit {floor})"
            )
        self.balances[tenant] = balance - value
