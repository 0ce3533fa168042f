"""Exact money: prices and amounts as ``Decimal`` whole cents, never floats.

Every amount that enters the market goes through :func:`money`, which refuses what a ledger
of money cannot hold exactly (floats' binary fractions, fractions of a cent, NaN, infinity,
negative prices) with an error naming the field and the value. Sums and differences of
whole-cent decimals stay whole cents; the few divisions (a midpoint price, a fee share) are
rounded once, to a cent, half to even, where the docstring of the caller says so.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class MoneyError(ValueError):
    """An amount that is not a finite, non-negative whole number of cents."""


MAX_AMOUNT = Decimal("1000000000000.00")
"""Largest amount taken (a trillion): the stores keep whole cents in 64-bit integers."""


def money(value: Decimal | int | str, field: str) -> Decimal:
    """``value`` as a whole-cent ``Decimal``; raises ``MoneyError`` naming ``field``.

    Accepts ``Decimal``, ``int`` and decimal strings ("12.50"); refuses ``float`` (whose
    binary fraction is not the amount its writer meant), fractions of a cent and negatives.
    """
    if isinstance(value, (float, bool)):
        raise MoneyError(f"{field}: {value!r} is a {type(value).__name__}; give a decimal string")
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise MoneyError(f"{field}: {value!r} is not a decimal amount") from None
    if not amount.is_finite():
        raise MoneyError(f"{field}: {value!r} is not a finite amount")
    if amount < 0:
        raise MoneyError(f"{field}: {value!r} is negative")
    if amount > MAX_AMOUNT:
        raise MoneyError(f"{field}: {value!r} is above {MAX_AMOUNT}")
    if amount != amount.quantize(CENT):
        raise MoneyError(f"{field}: {value!r} is not a whole number of cents")
    return amount.quantize(CENT)


def round_cents(amount: Decimal) -> Decimal:
    """``amount`` rounded to a cent, half to even (the one rounding rule of the market)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)
