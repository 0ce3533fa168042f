"""Accounts: every cent is somewhere, charges equal payouts plus fees, no lease runs for free."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.market import Accounts, InsufficientFundsError, MoneyError, money

D = Decimal


def test_a_lease_holds_settles_pays_out_and_gives_the_rest_back() -> None:
    books = Accounts(fee_rate=D("0.10"))
    books.deposit("t", D("100.00"))
    books.hold("l1", "t", "p", D("30.00"))
    assert books.balances["t"] == D("70.00")
    assert books.held("l1") == D("30.00")
    first = books.settle("l1", D("12.35"))
    assert (first.charge, first.payout, first.fee) == (D("12.35"), D("11.11"), D("1.24"))
    assert books.close("l1") == D("17.65")
    assert books.balances["t"] == D("87.65")
    assert books.held("l1") == 0
    books.withdraw_payout("p", D("11.11"))
    books.check()


def test_a_charge_beyond_the_hold_comes_from_the_balance_and_stops_at_zero() -> None:
    books = Accounts(fee_rate=D("0"))
    books.deposit("t", D("10.00"))
    books.hold("l1", "t", "p", D("5.00"))
    books.settle("l1", D("8.00"))  # 5 from the hold, 3 from the balance
    assert books.balances["t"] == D("2.00")
    with pytest.raises(InsufficientFundsError, match="tenant 't'"):
        books.settle("l1", D("2.01"))
    assert books.balances["t"] == D("2.00")  # the refused charge changed nothing
    books.check()


def test_overdraft_is_allowed_only_as_far_as_the_policy_says() -> None:
    books = Accounts(fee_rate=D("0"), overdraft={"t": D("5.00")})
    books.hold("l1", "t", "p", D("5.00"))
    assert books.balances["t"] == D("-5.00")
    with pytest.raises(InsufficientFundsError):
        books.hold("l2", "t", "p", D("0.01"))


def test_bad_input_is_refused_naming_it() -> None:
    books = Accounts(fee_rate=D("0.05"))
    with pytest.raises(MoneyError, match="amount"):
        books.deposit("t", D("1.001"))
    with pytest.raises(ValueError, match="fee_rate"):
        Accounts(fee_rate=D("1"))
    with pytest.raises(KeyError, match="l9"):
        books.settle("l9", D("1.00"))
    books.deposit("t", D("1.00"))
    books.hold("l1", "t", "p", D("1.00"))
    with pytest.raises(ValueError, match="already holds"):
        books.hold("l1", "t", "p", D("0.00"))
    with pytest.raises(MoneyError, match="float"):
        money(1.5, "x")  # type: ignore[arg-type]
    with pytest.raises(MoneyError, match="'1e30' is above"):
        money("1e30", "x")  # whose cents the decimal context cannot hold


_cents = st.integers(0, 50_000).map(lambda c: D(c).scaleb(-2))
_step = st.one_of(
    st.tuples(st.just("deposit"), st.integers(0, 2), _cents),
    st.tuples(st.just("hold"), st.integers(0, 2), _cents),
    st.tuples(st.just("settle"), st.integers(0, 9), _cents),
    st.tuples(st.just("close"), st.integers(0, 9), _cents),
    st.tuples(st.just("withdraw"), st.integers(0, 1), _cents),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_step, max_size=40), st.integers(0, 30).map(lambda p: D(p).scaleb(-2)))
def test_money_is_conserved_to_the_cent_over_any_sequence(
    steps: list[tuple[str, int, Decimal]], fee_rate: Decimal
) -> None:
    books = Accounts(fee_rate=fee_rate, overdraft={"t1": D("20.00")})
    leases: list[str] = []
    made = 0
    charged = D("0.00")
    for kind, who, amount in steps:
        tenant, provider = f"t{who % 3}", f"p{who % 2}"
        try:
            if kind == "deposit":
                books.deposit(tenant, amount)
            elif kind == "hold":
                lease, made = f"l{made}", made + 1
                books.hold(lease, tenant, provider, amount)
                leases.append(lease)
            elif kind == "settle" and leases:
                charged += books.settle(leases[who % len(leases)], amount).charge
            elif kind == "close" and leases:
                books.close(leases.pop(who % len(leases)))
            elif kind == "withdraw":
                books.withdraw_payout(provider, amount)
        except InsufficientFundsError:
            pass
        books.check()
        for name, balance in books.balances.items():
            assert balance >= -books.overdraft.get(name, D(0))
    paid_out = sum(books.payouts.values(), D(0)) + books.withdrawn
    assert charged == paid_out + books.fees
