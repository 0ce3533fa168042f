"""``suanwang usage`` and ``suanwang invoice list|show``: what a tenant used and was billed.

``usage`` sums a period's metered usage (default: the current period) per dimension and
detail; ``invoice list`` shows the tenant's invoices of the last periods (``--last``), newest
first, each named ``<tenant>/<period>``; ``invoice show ID`` prints one (the same view as
``market bill``, which stays). Staff name another tenant with ``--tenant`` (``usage`` without it
sums every tenant's). Like ``market``, each talks to a running server, prints tables that fit
80 columns (``-o wide`` for every column, ``-o json|yaml`` for scripts) and exits 2 on a
refused request, 1 on a server error.
"""

from __future__ import annotations

from typing import Annotated

import typer

from suanwang.cli.client import call
from suanwang.cli.market import bill
from suanwang.cli.output import AsJson, Output, chosen, emit, emit_list
from suanwang.cli.tasks import DEFAULT_URL, CaFile, Token, Url
from suanwang.cli.usage_tables import invoices_table, usage_table

invoice_app = typer.Typer(help="Invoices: a tenant's bills per period.", no_args_is_help=True)

Tenant = Annotated[str | None, typer.Option(help="Staff: this tenant's.")]


def usage(
    *,
    tenant: Tenant = None,
    period: Annotated[
        int | None, typer.Option(min=0, help="The billing period (default: the current one).")
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Your tenant's metered usage of a period, by dimension (core-s, gib-s, gflop, ...)."""
    params: dict[str, str] = {} if tenant is None else {"tenant": tenant}
    if period is not None:
        params["period"] = str(period)
    found = call(url, token, "GET", "/v1/market/usage", params=params, ca_file=ca_file)
    emit(found, chosen(fmt, as_json), usage_table)


@invoice_app.command("list")
def list_invoices(
    *,
    tenant: Tenant = None,
    last: Annotated[int, typer.Option(min=1, max=120, help="Periods looked back.")] = 12,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Your tenant's invoices of the last periods with usage or lease charges, newest first."""
    params = {"last": str(last)} | ({} if tenant is None else {"tenant": tenant})
    bills = call(url, token, "GET", "/v1/market/invoices", params=params, ca_file=ca_file)
    emit_list(bills, chosen(fmt, as_json), invoices_table, "invoices")


def parse_invoice_id(invoice_id: str) -> tuple[str | None, int]:
    """``<tenant>/<period>`` or ``<period>`` (your own tenant's) as (tenant or None, period).

    Raises:
        typer.BadParameter: naming the id when it is neither.
    """
    tenant, _, number = invoice_id.rpartition("/")
    if not number.isdigit() or (invoice_id.count("/") and not tenant):
        raise typer.BadParameter(
            f"{invoice_id!r} is not <tenant>/<period> or <period>", param_hint="'ID'"
        )
    return tenant or None, int(number)


@invoice_app.command("show")
def show_invoice(
    invoice_id: Annotated[str, typer.Argument(metavar="ID", help="<tenant>/<period> or <period>.")],
    *,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """One invoice: usage lines, lease settlements and the total (as ``market bill``)."""
    tenant, period = parse_invoice_id(invoice_id)
    bill(period, tenant=tenant, url=url, token=token, ca_file=ca_file, fmt=fmt, as_json=as_json)
