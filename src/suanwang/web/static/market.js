// The Market tab: the order book (every offer), the caller's leases, its usage this period by
// dimension and its invoices of the last periods (a row opens the invoice's lines; Enter does
// as a click). Read while the tab is open, on each poll; texts in both languages, redrawn from
// what was fetched when the language changes. Money is the server's decimal strings, shown as
// they are (never through floats).

import { keyRow, replaceRows } from "./access.js";
import { ApiError, get } from "./api.js";
import { lineChart } from "./chart.js";
import { t } from "./i18n.js";

const $ = (selector) => document.querySelector(selector);
const INVOICE_PERIODS = 12; // periods the invoice list looks back over

function row(id, values, className = "") {
  const tr = document.createElement("tr");
  tr.dataset.id = id;
  if (className) tr.className = className;
  for (const value of values) {
    const td = document.createElement("td");
    td.textContent = value;
    tr.append(td);
  }
  return tr;
}

function quantity(value) {
  return Number(value.toPrecision(6)).toLocaleString("en");
}

function utc(seconds) {
  return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ");
}

export class MarketPanel {
  constructor() {
    this.data = null; // the last answers, redrawn on a language change
    this.invoice = null; // id of the invoice open in detail
    document.addEventListener("langchange", () => this.draw());
  }

  /** Read the book, leases, usage and invoices again and draw them. */
  async refresh() {
    try {
      const [offers, leases, usage, invoices] = await Promise.all([
        get("/v1/market/offers"),
        get("/v1/market/leases"),
        get("/v1/market/usage"),
        get(`/v1/market/invoices?last=${INVOICE_PERIODS}`),
      ]);
      this.data = { offers, leases, usage, invoices };
      this.error = null;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) throw error; // logged out
      this.data = null;
      this.error = error.message;
    }
    this.draw();
  }

  draw() {
    const status = $("#market-status");
    if (!this.data) {
      status.textContent = this.error ? t("marketNone", { why: this.error }) : "";
      return;
    }
    status.textContent = "";
    const { offers, leases, usage, invoices } = this.data;
    replaceRows(
      $("#market-book tbody"),
      offers.map((o) =>
        row(o.offer_id, [o.offer_id, o.provider, o.unit, `${o.sold} / ${o.units}`, o.price, o.region, o.rental]),
      ),
    );
    $("#market-book-empty").hidden = offers.length > 0;
    replaceRows(
      $("#market-leases tbody"),
      leases.map((x) =>
        row(x.lease_id, [
          x.lease_id,
          x.provider,
          x.units,
          x.amount,
          t(x.active ? "leaseActive" : "leaseEnded"),
          x.node_ids.join(", "),
        ]),
      ),
    );
    $("#market-leases-empty").hidden = leases.length > 0;
    const state = t(usage.closed ? "periodClosed" : "periodOpen");
    $("#market-usage-period").textContent = t("usagePeriod", {
      period: usage.period,
      start: utc(usage.start_s),
      state,
    });
    replaceRows(
      $("#market-usage tbody"),
      usage.dimensions.map((d) => {
        const id = `${d.dimension}/${d.detail}`;
        return row(id, [d.dimension, d.detail || "-", quantity(d.quantity)]);
      }),
    );
    $("#market-usage-empty").hidden = usage.dimensions.length > 0;
    this.drawInvoices(invoices);
  }

  drawInvoices(invoices) {
    replaceRows(
      $("#market-invoices tbody"),
      invoices.map((b) => {
        const id = `${b.tenant}/${b.period}`;
        const leases = b.leases.map((s) => s.charge);
        const tr = row(id, [
          id,
          t(b.closed ? "periodClosed" : "periodOpen"),
          b.usage,
          b.credits,
          leases.length ? leases.join(" + ") : "0.00",
          b.total,
          b.currency,
        ]);
        keyRow(tr, () => {
          this.invoice = id;
          this.showInvoice(b);
        });
        return tr;
      }),
    );
    $("#market-invoices-empty").hidden = invoices.length > 0;
    const chart = $("#market-chart");
    chart.replaceChildren();
    if (invoices.length > 1) {
      const ordered = invoices.slice().reverse(); // oldest first, along the axis
      const lines = [{ name: t("colTotal"), values: ordered.map((b) => Number(b.total)) }];
      chart.append(lineChart(t("invoiceChart"), ordered.map((b) => b.period), lines, { xLabel: t("period") }));
    }
    const open = invoices.find((b) => `${b.tenant}/${b.period}` === this.invoice);
    if (open) this.showInvoice(open);
    else $("#market-invoice").replaceChildren();
  }

  /** An invoice's usage lines and lease settlements, with its total. */
  showInvoice(bill) {
    const box = $("#market-invoice");
    box.replaceChildren();
    const head = document.createElement("h4");
    head.textContent = t("invoiceHead", {
      id: `${bill.tenant}/${bill.period}`,
      total: bill.total,
      currency: bill.currency,
    });
    const table = document.createElement("table");
    table.className = "invoice-lines";
    const header = document.createElement("tr");
    for (const key of ["colProvider", "colDimension", "colQuantity", "colAmount"]) {
      const th = document.createElement("th");
      th.textContent = t(key);
      header.append(th);
    }
    for (const line of bill.lines) {
      const what = line.detail ? `${line.dimension} (${line.detail})` : line.dimension;
      table.append(row(what, [line.provider, what, quantity(line.quantity), line.amount]));
    }
    for (const settled of bill.leases) {
      table.append(row(settled.lease_id, ["", t("leaseCharge", { id: settled.lease_id }), "", settled.charge]));
    }
    table.createTHead().append(header);
    box.append(head, table);
  }
}
