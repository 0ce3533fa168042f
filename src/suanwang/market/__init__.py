"""Compute trading: the market's mechanisms as pure functions, and the accounts they settle.

* ``auction``: the periodic call market for standard units (double auction, trade reduction);
* ``posted``: on-demand sales at providers' posted prices;
* ``rfq``: reverse auctions for bundles (lowest quote wins, paid the second);
* ``preempt``: which interruptible leases a higher bid ends, with notice;
* ``accounts``: balances, holds, settlements, payouts and fees in exact money;
* ``usage``: usage events metered exactly once into billing periods, late ones as adjustments;
* ``rating``: price plans as data, invoices per tenant and period, provider revenue.

Each module's docstring says which property its mechanism gives up.
"""

from suanwang.market.accounts import Accounts, InsufficientFundsError, Settlement
from suanwang.market.auction import Clearing, Order, Trade, clear
from suanwang.market.money import MoneyError, money
from suanwang.market.posted import Fill, NoFillError, Offer, Rental, Want, fill_posted
from suanwang.market.preempt import Lease, Preemption, preempt_for
from suanwang.market.rating import (
    Invoice,
    InvoiceLine,
    PricePlan,
    RatingError,
    builtin_plan,
    invoices,
    load_plan,
    parse_plan,
    rate,
)
from suanwang.market.rfq import Award, Quote, award
from suanwang.market.usage import (
    Dimension,
    Ingest,
    Meter,
    UsageConflictError,
    UsageEvent,
    UsageLine,
)

__all__ = [
    "Accounts",
    "Award",
    "Clearing",
    "Dimension",
    "Fill",
    "Ingest",
    "InsufficientFundsError",
    "Invoice",
    "InvoiceLine",
    "Lease",
    "Meter",
    "MoneyError",
    "NoFillError",
    "Offer",
    "Order",
    "Preemption",
    "PricePlan",
    "Quote",
    "RatingError",
    "Rental",
    "Settlement",
    "Trade",
    "UsageConflictError",
    "UsageEvent",
    "UsageLine",
    "Want",
    "award",
    "builtin_plan",
    "clear",
    "fill_posted",
    "invoices",
    "load_plan",
    "money",
    "parse_plan",
    "preempt_for",
    "rate",
]
