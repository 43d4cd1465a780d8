"""Both demo tenants render in real Chromium as two different companies, in both locales."""
import re

import pytest

pytestmark = pytest.mark.browser


def css_var(page, name):
    return page.evaluate(f"getComputedStyle(document.documentElement).getPropertyValue('{name}').trim()")


def test_demo_cn_renders_its_brand_in_chinese(live_server, page, screenshot):
    page.goto(live_server.url("demo-cn"))
    assert page.title() == "鑫源普惠"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert css_var(page, "--brand-primary") == "#b3261e"
    assert page.locator(".brand-name").inner_text() == "鑫源普惠"
    assert page.locator(".brand-logo").evaluate("img => img.naturalWidth") > 0
    assert page.get_by_role("heading", level=1).inner_text() == "小额普惠，出借透明"
    assert "网络借贷有风险" in page.locator(".risk-warning").inner_text()
    # the header background is the brand's colour, not the default theme's blue
    hero = page.locator(".hero").evaluate("el => getComputedStyle(el).backgroundImage")
    assert "179, 38, 30" in hero
    screenshot(page, "demo-cn-home-zh_CN")


def test_demo_en_renders_its_brand_and_theme_in_english(live_server, page, screenshot):
    page.goto(live_server.url("demo-en"))
    assert page.title() == "Harbor Lending"
    assert page.locator("html").get_attribute("lang") == "en"
    assert css_var(page, "--brand-primary") == "#0b5c7a"
    assert page.locator(".harbor-hero").is_visible()  # the harbor theme's own hero
    assert "Georgia" in page.locator("body").evaluate("el => getComputedStyle(el).fontFamily")
    screenshot(page, "demo-en-home-en")


def test_switching_locale_translates_the_page(live_server, page, screenshot):
    page.goto(live_server.url("demo-en"))
    page.get_by_role("link", name="简体中文").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("heading", level=1).inner_text() == "邻里之间，稳健借贷"
    assert page.get_by_role("link", name="通知公告").is_visible()
    screenshot(page, "demo-en-home-zh_CN")
    page.goto(live_server.url("demo-cn"))
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Small loans, lent in the open"
    screenshot(page, "demo-cn-home-en")


def test_notices_open_from_the_home_page(live_server, page, screenshot):
    page.goto(live_server.url("demo-cn"))
    page.get_by_role("link", name=re.compile("资金存管上线公告")).first.click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "资金存管上线公告"
    screenshot(page, "demo-cn-notice-zh_CN")


def test_the_site_works_on_a_phone(live_server, phone, screenshot):
    phone.goto(live_server.url("demo-cn"))
    nav = phone.locator(".site-nav")
    assert not nav.is_visible()  # folded behind the menu button
    phone.locator(".nav-toggle-label").click()
    assert nav.is_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "no horizontal scrolling on a phone"
    screenshot(phone, "demo-cn-phone-menu-zh_CN", full_page=False)
    phone.goto(live_server.url("demo-en"))
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "demo-en-phone-en")


def test_an_unknown_host_is_a_404_page(live_server, page):
    response = page.goto(f"http://nobody.localhost:{live_server.port}/")
    assert response.status == 404
    assert "No lending site is served at this address." in page.content()
