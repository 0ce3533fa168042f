"""The submit form offers the live catalogue's task types (``GET /v1/catalogue/types``)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from web_support import Portal, log_in

pytestmark = pytest.mark.timeout(120)


def test_the_type_field_offers_the_live_catalogue(page: Page, portal: Portal) -> None:
    log_in(page, portal, "alice")
    page.click("#tabs button[data-tab=submit]")
    page.focus("#submit-form [name=task_type]")
    option = page.locator("#task-types option[value=video-analytics-frame]")
    expect(option).to_have_count(1)
    assert "video-analytics-frame" in (option.get_attribute("label") or "")
