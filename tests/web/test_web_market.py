"""The portal's Market tab against a real server: the hospital's offer is in the order book,
acme's lease and its invoice (the closed period's lease charge) are shown, an invoice opens
by keyboard, and the tab reads in both languages."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from web_support import Portal, api, log_in

from suanwang.control.stores import Principal, Role

pytestmark = pytest.mark.timeout(180)

HOSPITAL_NODE = "onsite-luohu-hospital-gpu-1"
PERIOD_S = 30 * 86_400.0  # the server's default billing period


@pytest.fixture(scope="module")
def traded(portal: Portal) -> int:
    """hospital offers its node, acme leases it, and the current period closes; its number."""
    portal.add_principal(Principal("hosp", "hospital", frozenset({Role.PROVIDER})))
    offer = {"offer_id": "hosp-1", "unit": "node.month", "price": "40.00"}
    with api(portal, "hosp") as hosp:
        listed = hosp.post("/v1/market/offers", json={**offer, "node_ids": [HOSPITAL_NODE]})
        assert listed.status_code == 201, listed.text
    with api(portal, "ops") as ops:
        paid = ops.post("/v1/market/deposits", json={"tenant": "acme", "amount": "100.00"})
        assert paid.status_code == 201, paid.text
    order = {"lease_id": "L1", "unit": "node.month", "units": 1, "max_price": "50.00"}
    with api(portal, "alice") as alice:
        bought = alice.post("/v1/market/orders", json=order)
        assert bought.status_code == 201, bought.text
    period = int(time.time() // PERIOD_S)
    with api(portal, "ops") as ops:
        closed = ops.post(f"/v1/market/periods/{period}/close")
        assert closed.status_code == 200, closed.text
    return period


def test_the_book_a_lease_and_an_invoice_are_shown(
    page: Page, portal: Portal, traded: int, artifacts: Path
) -> None:
    log_in(page, portal, "alice")
    # By keyboard: the tablist's last tab is the market; Enter opens it.
    page.locator("#tab-btn-tasks").focus()
    page.keyboard.press("End")
    expect(page.locator("#tab-btn-market")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#tab-market")).to_be_visible()
    expect(page.locator("#tab-btn-market")).to_have_attribute("aria-selected", "true")

    offer = page.locator("#market-book tbody tr[data-id='hosp-1'] td")
    expect(offer).to_have_text(["hosp-1", "hospital", "node.month", "1 / 1", "40.00", "CN-GD",
                                "on-demand"])  # fmt: skip
    expect(page.locator("#market-book-empty")).to_be_hidden()
    lease = page.locator("#market-leases tbody tr[data-id='L1'] td")
    expect(lease).to_have_text(["L1", "hospital", "1", "40.00", "active", HOSPITAL_NODE])

    invoice_id = f"acme/{traded}"
    invoice = page.locator(f"#market-invoices tbody tr[data-id='{invoice_id}']")
    expect(invoice.locator("td")).to_have_text(
        [invoice_id, "closed", "0.00", "0.00", "40.00", "40.00", "CNY"]
    )
    invoice.focus()
    page.keyboard.press("Enter")
    head = page.locator("#market-invoice h4")
    expect(head).to_have_text(f"Invoice {invoice_id}: total 40.00 CNY")
    expect(page.locator("#market-invoice tr[data-id='L1'] td")).to_have_text(
        ["", "lease L1", "", "40.00"]
    )
    usage_period = page.locator("#market-usage-period")
    expect(usage_period).to_contain_text(f"Period {traded} from ")
    expect(usage_period).to_contain_text("(closed)")
    page.screenshot(path=str(artifacts / "market.png"), full_page=True)

    page.select_option("#lang", "zh")
    expect(page.locator("#tab-btn-market")).to_have_text("算力交易")
    expect(page.locator("#tab-market h3").first).to_have_text("挂单簿")
    expect(invoice.locator("td").nth(1)).to_have_text("已结算")
    expect(head).to_have_text(f"账单 {invoice_id}：合计 40.00 CNY")
    page.select_option("#lang", "en")


def test_a_provider_sees_its_lease_and_no_invoice(page: Page, portal: Portal, traded: int) -> None:
    log_in(page, portal, "hosp")
    page.locator("#tab-btn-market").click()
    expect(page.locator("#market-leases tbody tr[data-id='L1']")).to_be_visible()
    expect(page.locator("#market-invoices tbody tr")).to_have_count(0)
    expect(page.locator("#market-invoices-empty")).to_be_visible()
