"""Compute trading: the market's mechanisms as pure functions, and the accounts they settle.

* ``auction``: the periodic call market for standard units (double auction, trade reduction);
* ``posted``: on-demand sales at providers' posted prices;
* ``rfq``: reverse auctions for bundles (lowest quote wins, paid the second);
* ``preempt``: which interruptible leases a higher bid ends, with notice;
* ``accounts``: balances, holds, settlements, payouts and fees in exact money.

Each module's docstring says which property its mechanism gives up.
"""

from suanwang.market.accounts import Accounts, InsufficientFundsError, Settlement
from suanwang.market.auction import Clearing, Order, Trade, clear
from suanwang.market.money import MoneyError, money
from suanwang.market.posted import Fill, NoFillError, Offer, Rental, Want, fill_posted
from suanwang.market.preempt import Lease, Preemption, preempt_for
from suanwang.market.rfq import Award, Quote, award

__all__ = [
    "Accounts",
    "Award",
    "Clearing",
    "Fill",
    "InsufficientFundsError",
    "Lease",
    "MoneyError",
    "NoFillError",
    "Offer",
    "Order",
    "Preemption",
    "Quote",
    "Rental",
    "Settlement",
    "Trade",
    "Want",
    "award",
    "clear",
    "fill_posted",
    "money",
    "preempt_for",
]
