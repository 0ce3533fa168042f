"""Rating: price plans as data, and one invoice per tenant and period for compute and network.

A plan (YAML; the built-in ``standard-plan.yaml`` beside this module) prices each usage
dimension per unit: one price, or per detail (accelerator kind, precision) with ``"*"`` as the
default. Unit prices may hold fractions of a cent (a core-second costs little); each invoice
line is rounded once, to a cent, half to even. A run that missed its SLA earns ``sla_credit``
of its charges back as a credit line. Usage in a dimension the plan does not price is an
error (``RatingError``), not free capacity.

An invoice's lines trace to usage events: each line lists the keys of the events it sums.
Provider revenue is what each provider's lines bring in, less their credits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from suanwang.market.money import ZERO, round_cents
from suanwang.market.usage import Dimension, UsageLine

ANY = "*"
BUILTIN_PLAN = "standard-plan.yaml"


class RatingError(ValueError):
    """A plan that cannot be read, or usage that a plan does not price."""


@dataclass(frozen=True, slots=True)
class PricePlan:
    """Unit prices per dimension (and detail), and the credit for a missed SLA.

    Attributes:
        name: The plan's name, printed on invoices.
        currency: ISO code of the money of every price.
        prices: Per dimension, unit price per detail (``"*"``: any detail).
        sla_credit: Share of a run's charges credited when its SLA is missed, in [0, 1].
    """

    name: str
    currency: str
    prices: Mapping[Dimension, Mapping[str, Decimal]]
    sla_credit: Decimal

    def unit_price(self, dimension: Dimension, detail: str) -> Decimal:
        """The price of one unit of ``dimension`` (and ``detail``); ``RatingError`` if none."""
        by_detail = self.prices.get(dimension)
        if by_detail is None:
            raise RatingError(f"plan {self.name!r} does not price {dimension.value}")
        price = by_detail.get(detail, by_detail.get(ANY))
        if price is None:
            raise RatingError(f"plan {self.name!r} does not price {dimension.value} {detail!r}")
        return price


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One usage line rated: quantity x unit price, and its credit where the SLA was missed."""

    provider: str
    dimension: Dimension
    detail: str
    sla_met: bool
    late: bool
    quantity: float
    unit_price: Decimal
    amount: Decimal
    credit: Decimal
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Invoice:
    """A tenant's bill for one period under one plan."""

    tenant: str
    period: int
    plan: str
    currency: str
    lines: tuple[InvoiceLine, ...]

    @property
    def charges(self) -> Decimal:
        """Sum of the lines' amounts."""
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def credits(self) -> Decimal:
        """Sum of the SLA credits."""
        return sum((line.credit for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        """What the tenant owes: charges less credits."""
        return self.charges - self.credits

    def revenue_by_provider(self) -> dict[str, Decimal]:
        """Per provider, its lines' amounts less their credits (sums to ``total``)."""
        revenue: dict[str, Decimal] = {}
        for line in self.lines:
            revenue[line.provider] = revenue.get(line.provider, ZERO) + line.amount - line.credit
        return revenue


def rate(tenant: str, period: int, usage: Iterable[UsageLine], plan: PricePlan) -> Invoice:
    """The invoice of ``tenant`` for ``period`` from the meter's usage lines."""
    lines: list[InvoiceLine] = []
    for line in usage:
        if line.tenant != tenant:
            continue
        unit = plan.unit_price(line.dimension, line.detail)
        amount = round_cents(Decimal(repr(line.quantity)) * unit)
        credit = ZERO if line.sla_met else round_cents(amount * plan.sla_credit)
        lines.append(
            InvoiceLine(
                line.provider,
                line.dimension,
                line.detail,
                line.sla_met,
                line.late,
                line.quantity,
                unit,
                amount,
                credit,
                tuple(line.keys),
            )
        )
    lines.sort(key=lambda x: (x.provider, x.dimension.value, x.detail, x.late, not x.sla_met))
    return Invoice(tenant, period, plan.name, plan.currency, tuple(lines))


def invoices(usage: Iterable[UsageLine], period: int, plan: PricePlan) -> list[Invoice]:
    """One invoice per tenant with usage in ``period``, by tenant name."""
    lines = list(usage)
    tenants = sorted({line.tenant for line in lines})
    return [rate(tenant, period, lines, plan) for tenant in tenants]


def builtin_plan() -> PricePlan:
    """The plan shipped with suanwang (``standard-plan.yaml``)."""
    text = resources.files("suanwang.market").joinpath(BUILTIN_PLAN).read_text("utf-8")
    return parse_plan(yaml.safe_load(text), f"{BUILTIN_PLAN} (built-in)")


def load_plan(path: Path) -> PricePlan:
    """A plan from a YAML file; ``RatingError`` naming the file and the field when malformed."""
    try:
        document = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RatingError(f"{path}: {error}") from None
    return parse_plan(document, str(path))


def parse_plan(document: Any, source: str) -> PricePlan:
    """A plan from its parsed YAML ``document``; errors name ``source`` and the field."""
    if not isinstance(document, dict):
        raise RatingError(f"{source}: a plan is a mapping with plan, currency, rates")
    unknown = set(document) - {"plan", "currency", "sla_credit", "rates"}
    if unknown:
        raise RatingError(f"{source}: unknown fields {sorted(unknown)}")
    name, currency = document.get("plan"), document.get("currency")
    if not isinstance(name, str) or not name:
        raise RatingError(f"{source}: plan: give the plan's name")
    if not isinstance(currency, str) or len(currency) != 3:
        raise RatingError(f"{source}: currency: {currency!r} is not a three-letter code")
    credit = _decimal(document.get("sla_credit", "0"), f"{source}: sla_credit")
    if credit > 1:
        raise RatingError(f"{source}: sla_credit: {credit} is above 1")
    rates = document.get("rates")
    if not isinstance(rates, dict) or not rates:
        raise RatingError(f"{source}: rates: give a price per dimension")
    prices: dict[Dimension, dict[str, Decimal]] = {}
    for key, value in rates.items():
        try:
            dimension = Dimension(key)
        except ValueError:
            known = ", ".join(d.value for d in Dimension)
            raise RatingError(f"{source}: rates.{key}: not a dimension ({known})") from None
        where = f"{source}: rates.{key}"
        if isinstance(value, dict):
            prices[dimension] = {str(d): _decimal(p, f"{where}.{d}") for d, p in value.items()}
        else:
            prices[dimension] = {ANY: _decimal(value, where)}
    return PricePlan(name, currency.upper(), prices, credit)


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RatingError(f"{where}: {value!r}: write prices as quoted decimals, e.g. '0.0001'")
    try:
        price = Decimal(value)
    except InvalidOperation:
        raise RatingError(f"{where}: {value!r} is not a decimal") from None
    if not price.is_finite() or price < 0:
        raise RatingError(f"{where}: {value!r} is not a finite price >= 0")
    return price
