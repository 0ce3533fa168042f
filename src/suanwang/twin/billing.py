"""A twin run's bill: its metered usage rated under a price plan, as plain data.

``bill`` rates every period of the run's ``Meter`` (``TwinConfig.billing``) under a plan and
returns the invoices per tenant, each line with its quantity, unit price, amount and SLA
credit, and each provider's revenue over the run. Money is written as decimal strings, so the
JSON output keeps every cent exact.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from suanwang.market import Invoice, Meter, PricePlan, invoices
from suanwang.market.money import ZERO


def bill(usage: Meter, plan: PricePlan) -> dict[str, Any]:
    """The invoices and provider revenue of a run's metered ``usage`` under ``plan``."""
    issued: list[Invoice] = []
    for period in usage.periods():
        issued.extend(invoices(usage.lines(period), period, plan))
    revenue: dict[str, Decimal] = {}
    for invoice in issued:
        for provider, amount in invoice.revenue_by_provider().items():
            revenue[provider] = revenue.get(provider, ZERO) + amount
    return {
        "plan": plan.name,
        "currency": plan.currency,
        "events": usage.events,
        "invoices": [_invoice(invoice) for invoice in issued],
        "total": str(sum((i.total for i in issued), ZERO)),
        "providers": {name: str(revenue[name]) for name in sorted(revenue)},
    }


def _invoice(invoice: Invoice) -> dict[str, Any]:
    by_dimension: dict[str, list[Any]] = {}
    for line in invoice.lines:
        label = f"{line.dimension.value}/{line.detail}" if line.detail else line.dimension.value
        row = by_dimension.setdefault(label, [0.0, ZERO, ZERO, 0])
        row[0] += line.quantity
        row[1] += line.amount
        row[2] += line.credit
        row[3] += len(line.keys)
    return {
        "tenant": invoice.tenant,
        "period": invoice.period,
        "charges": str(invoice.charges),
        "credits": str(invoice.credits),
        "total": str(invoice.total),
        "dimensions": {
            label: {
                "quantity": quantity,
                "amount": str(amount),
                "credit": str(credit),
                "events": events,
            }
            for label, (quantity, amount, credit, events) in sorted(by_dimension.items())
        },
    }
