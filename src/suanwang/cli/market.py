"""``suanwang market``: sell nodes, buy leases, pay in, close a period, read bills and payouts.

A provider lists nodes its tenant owns (``offer``), a consumer reads the book (``offers``) and
buys at posted prices (``buy``), seeing and ending its leases (``leases``, ``end``); staff pay
money into a tenant's account (``deposit``) and close a billing period (``close``: every
active lease settled, one without funds ended); anyone reads its tenant's bill (``bill``) and
providers what they earned (``payouts``). Amounts are decimal strings ("40.00"), passed to the
server as written. Like ``task``, each talks to a running server (``--url``, ``--token``,
``--ca-file``), prints tables that fit 80 columns (``-o wide`` for every column, ``--json``
for scripts) and exits 2 on a refused request, 1 on a server error.
"""

from __future__ import annotations

from typing import Annotated

import typer

from suanwang.cli.client import call
from suanwang.cli.market_tables import (
    balance_table,
    bill_view,
    bills_table,
    book_table,
    lease_table,
    offer_table,
    payouts_table,
)
from suanwang.cli.output import AsJson, Output, chosen, emit, emit_list
from suanwang.cli.tasks import DEFAULT_URL, CaFile, Token, Url

market_app = typer.Typer(
    help="Trading and billing: offers, leases, deposits, periods, bills, payouts.",
    no_args_is_help=True,
)

Unit = Annotated[str, typer.Option(help="The standard unit, e.g. node.month.")]
Rental = Annotated[str, typer.Option(help="on-demand, reserved or interruptible.")]
Period = Annotated[int, typer.Argument(min=0, help="The billing period's number.")]


@market_app.command("offers")
def list_offers(
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """The book: every offer with its units sold, price, region, trust and rental class."""
    offers = call(url, token, "GET", "/v1/market/offers", ca_file=ca_file)
    emit_list(offers, chosen(fmt, as_json), book_table, "offers")


@market_app.command("offer")
def offer(
    node_ids: Annotated[list[str], typer.Argument(help="The nodes sold, one unit each.")],
    *,
    unit: Unit,
    price: Annotated[str, typer.Option(help='A unit a period, e.g. "40.00".')],
    offer_id: Annotated[
        str | None, typer.Option("--id", help="Default: made by the server.")
    ] = None,
    rental: Rental = "on-demand",
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """List nodes for sale (a provider: only its tenant's own)."""
    body = {"unit": unit, "price": price, "node_ids": node_ids, "rental": rental}
    if offer_id is not None:
        body["offer_id"] = offer_id
    listed = call(url, token, "POST", "/v1/market/offers", json=body, ca_file=ca_file)
    emit(listed, chosen(fmt, as_json), offer_table)


@market_app.command("buy")
def buy(
    *,
    unit: Unit,
    units: Annotated[int, typer.Option(min=1, help="How many units (nodes).")] = 1,
    max_price: Annotated[str, typer.Option(help='The most paid a unit, e.g. "50.00".')],
    region: Annotated[list[str] | None, typer.Option(help="An accepted region (repeat).")] = None,
    min_trust: Annotated[
        str, typer.Option(help="untrusted, basic, verified or sovereign.")
    ] = "untrusted",
    rental: Rental = "on-demand",
    lease_id: Annotated[str | None, typer.Option(help="Default: made by the server.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Staff: buy for this tenant.")] = None,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Buy at posted prices, cheapest first, all or nothing; the nodes run your work next."""
    body: dict[str, object] = {"unit": unit, "units": units, "max_price": max_price}
    body |= {"regions": region or [], "min_trust": min_trust, "rental": rental}
    if lease_id is not None:
        body["lease_id"] = lease_id
    if tenant is not None:
        body["tenant"] = tenant
    leases = call(url, token, "POST", "/v1/market/orders", json=body, ca_file=ca_file)
    emit_list(leases, chosen(fmt, as_json), lease_table, "leases")


@market_app.command("leases")
def list_leases(
    *,
    active: Annotated[bool, typer.Option(help="Only leases still active.")] = False,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Your tenant's leases, as consumer or provider (staff: all), with their state."""
    params = {"active": "true"} if active else {}
    leases = call(url, token, "GET", "/v1/market/leases", params=params, ca_file=ca_file)
    emit_list(leases, chosen(fmt, as_json), lease_table, "leases")


@market_app.command("end")
def end(
    lease_id: Annotated[str, typer.Argument(help="The lease to end.")],
    *,
    reason: Annotated[str, typer.Option(help="Why it ends (kept with the lease).")],
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """End a lease: its nodes are free again, the rest of its hold goes back."""
    path = f"/v1/market/leases/{lease_id}"
    ended = call(url, token, "DELETE", path, params={"reason": reason}, ca_file=ca_file)
    emit([ended], chosen(fmt, as_json), lease_table)


@market_app.command("deposit")
def deposit(
    tenant: Annotated[str, typer.Argument(help="The tenant paid in for.")],
    amount: Annotated[str, typer.Argument(help='e.g. "100.00".')],
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Pay money into a tenant's account (staff); prints the new balance."""
    body = {"tenant": tenant, "amount": amount}
    paid = call(url, token, "POST", "/v1/market/deposits", json=body, ca_file=ca_file)
    emit(paid, chosen(fmt, as_json), balance_table)


@market_app.command("close")
def close(
    period: Period,
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Close a billing period (staff): settle every active lease, print the period's bills."""
    path = f"/v1/market/periods/{period}/close"
    bills = call(url, token, "POST", path, ca_file=ca_file)
    emit_list(bills, chosen(fmt, as_json), bills_table, "bills")


@market_app.command("bill")
def bill(
    period: Period,
    *,
    tenant: Annotated[str | None, typer.Option(help="Staff: this tenant's bill.")] = None,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Your tenant's bill for a period: usage lines, lease settlements and the total."""
    params = {} if tenant is None else {"tenant": tenant}
    path = f"/v1/market/bills/{period}"
    found = call(url, token, "GET", path, params=params, ca_file=ca_file)
    emit(found, chosen(fmt, as_json), bill_view)


@market_app.command("payouts")
def payouts(
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """What providers earned from lease settlements (yours; staff: all and the fees)."""
    earned = call(url, token, "GET", "/v1/market/payouts", ca_file=ca_file)
    emit(earned, chosen(fmt, as_json), payouts_table)
