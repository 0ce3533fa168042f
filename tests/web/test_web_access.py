"""Chinese and English, the portal by keyboard alone, and the dark colour theme."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from api_support import INGRESS
from conftest import WAIT_MS
from playwright.sync_api import Browser, Page, expect
from web_support import Portal, api, log_in

pytestmark = pytest.mark.timeout(180)

TINY = {"work_gflop": 0.5, "cpu_cores": 0.01, "mem_gib": 0.01, "ingress_site": INGRESS}
FOCUSED = "document.activeElement"


@pytest.fixture
def open_page(browser: Browser) -> Iterator:
    """A page of a new browser context with the options given (locale, colour scheme)."""
    contexts = []

    def make(**options: object) -> Page:
        context = browser.new_context(viewport={"width": 1400, "height": 900}, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        return page

    yield make
    for context in contexts:
        context.close()


def test_switching_to_chinese_changes_the_texts_and_survives_a_reload(
    page: Page, portal: Portal
) -> None:
    log_in(page, portal, "alice")
    tasks_tab = page.locator("#tabs [data-tab=tasks]")
    expect(tasks_tab).to_have_text("Tasks")
    page.select_option("#lang", "zh")
    expect(tasks_tab).to_have_text("任务")
    expect(page.locator("#tabs [data-tab=twin]")).to_have_text("孪生运行")
    expect(page.locator("#submit-form button[type=submit]")).to_have_text("提交任务")
    expect(page.locator("#logout")).to_have_text("退出登录")
    expect(page.locator("#tasks thead th").first).to_have_text("任务")
    expect(page.locator("#task-count")).to_have_text(re.compile("没有任务|共"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "map")
    expect(tasks_tab).to_have_text("任务")
    expect(page.locator("#lang")).to_have_value("zh")
    page.select_option("#lang", "en")
    expect(tasks_tab).to_have_text("Tasks")
    expect(page.locator("#task-count")).to_have_text(re.compile("no tasks|newest first"))


def test_a_chinese_browser_starts_in_chinese(open_page, portal: Portal) -> None:
    page = open_page(locale="zh-CN")
    page.goto(portal.url + "/")
    expect(page.locator("#login-form button[type=submit]")).to_have_text("登录")
    expect(page.locator("#lang")).to_have_value("zh")
    expect(page.locator("#tabs [data-tab=nodes]")).to_have_text("节点")


def test_a_task_opens_by_keyboard_alone(page: Page, portal: Portal) -> None:
    with api(portal, "alice") as client:
        response = client.post("/v1/tasks", json=TINY)
        assert response.status_code == 201, response.text
    log_in(page, portal, "alice")
    expect(page.locator("#tasks tbody tr").first).to_be_visible()
    page.locator("body").focus()
    # Tab through the page until a tab has the focus.
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate(f"{FOCUSED}.getAttribute('role') === 'tab'"):
            break
    else:
        pytest.fail("no tab reached by Tab")
    tabs = page.locator("#tabs [role=tab]")
    expect(tabs.first).to_be_focused()  # only the selected tab is a tab stop
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tabs [data-tab=submit]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#tab-submit")).to_be_visible()
    expect(page.locator("#tabs [data-tab=submit]")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#tabs [data-tab=tasks]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#tab-tasks")).to_be_visible()
    expect(page.locator("#tab-submit")).to_be_hidden()
    # On into the table of tasks: past the filters, to its first row.
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate(f"!!{FOCUSED}.closest('#tasks tbody tr')"):
            break
    else:
        pytest.fail("no task row reached by Tab")
    task_id = page.evaluate(f"{FOCUSED}.dataset.id")
    page.keyboard.press("Enter")
    expect(page.locator("#task-detail h3")).to_have_text(f"Task {task_id}")


def test_the_site_list_opens_a_sites_nodes_by_keyboard(page: Page, portal: Portal) -> None:
    with api(portal, "alice") as client:
        site = client.get("/v1/nodes?limit=1").json()[0]["site_id"]  # a site with nodes
    log_in(page, portal, "alice")
    page.focus("#site-list summary")
    page.keyboard.press("Enter")
    button = page.locator(f"#site-list button[data-id='{site}']")
    expect(button).to_be_visible()
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#tab-nodes")).to_be_visible()
    expect(page.locator("#node-site")).to_have_value(site)
    row = page.locator("#nodes tbody tr").first
    expect(row).to_have_attribute("tabindex", "0")
    row.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#node-detail h3")).to_contain_text(row.get_attribute("data-id"))


def _lightness(page: Page) -> float:
    rgb = page.evaluate("getComputedStyle(document.body).backgroundColor")
    parts = [float(p) for p in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    return sum(parts) / 3


def test_dark_mode_follows_the_system_and_the_toggle(open_page, portal: Portal) -> None:
    page = open_page(color_scheme="dark")
    log_in(page, portal, "alice")
    expect(page.locator("#theme")).to_have_value("auto")
    assert _lightness(page) < 60
    page.select_option("#theme", "light")
    page.wait_for_function("document.documentElement.dataset.theme === 'light'")
    assert _lightness(page) > 200
    page.reload()
    expect(page.locator("#theme")).to_have_value("light")
    assert _lightness(page) > 200
    page.select_option("#theme", "dark")
    page.wait_for_function("document.documentElement.dataset.theme === 'dark'")
    assert _lightness(page) < 60
    page.select_option("#theme", "auto")
    page.wait_for_function("!document.documentElement.dataset.theme")
    assert _lightness(page) < 60
