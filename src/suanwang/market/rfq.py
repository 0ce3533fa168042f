"""Reverse auction (request for quotes) for a bundle: the lowest quote wins, paid the second.

A consumer asks for a bundle (what it needs, by when, the most it pays); providers quote a
price for the whole bundle until the deadline. At the deadline the lowest quote wins and is
paid the second-lowest quote, or the consumer's maximum when only one provider quoted (the
Vickrey rule for procurement). Ties go to the earlier quote.

What it gives up: the consumer may pay more than the winner asked (budget balance to the
platform is kept: the consumer pays exactly what the provider receives); in exchange quoting
one's true cost is a dominant strategy for a provider, and no provider is paid below its
quote nor the consumer charged above its maximum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from suanwang.market.money import money


@dataclass(frozen=True, slots=True)
class Quote:
    """A provider's price for the whole bundle, and when it was made (seconds since epoch)."""

    provider: str
    price: Decimal
    at_s: float


@dataclass(frozen=True, slots=True)
class Award:
    """The winner of a request for quotes and what it is paid."""

    provider: str
    quoted: Decimal
    paid: Decimal


def award(max_price: Decimal, deadline_s: float, quotes: Sequence[Quote]) -> Award | None:
    """The award of a request for quotes closing at ``deadline_s``; ``None`` when none qualifies.

    A quote qualifies when made by the deadline and at most ``max_price``. Raises
    ``ValueError`` naming ``quotes[i].price`` or ``max_price`` when one is not whole cents.
    """
    ceiling = money(max_price, "max_price")
    valid = [
        (money(q.price, f"quotes[{i}].price"), q.at_s, i, q)
        for i, q in enumerate(quotes)
        if q.at_s <= deadline_s
    ]
    ranked = sorted((v for v in valid if v[0] <= ceiling), key=lambda v: (v[0], v[1], v[2]))
    if not ranked:
        return None
    price, _, _, best = ranked[0]
    paid = ranked[1][0] if len(ranked) > 1 else ceiling
    return Award(best.provider, price, paid)
