"""A tenant admin changes the site's colours and name in the branding editor; the site shows it."""

import pytest

from testbed import page_sign_in, staff_with_totp

pytestmark = pytest.mark.browser

PASSWORD = "Admin-pass-2026"


def create_admin(live_server, slug, mobile):
    return staff_with_totp(live_server.app, slug, mobile, password=PASSWORD)


def sign_in(page, live_server, slug, mobile, secret=None):
    page_sign_in(page, live_server.url(slug, "/accounts/login"), mobile, PASSWORD, secret)


def test_the_branding_editor_previews_live_and_changes_the_site(live_server, page, screenshot):
    secret = create_admin(live_server, "demo-en", "13900000071")
    sign_in(page, live_server, "demo-en", "13900000071", secret)
    page.goto(live_server.url("demo-en", "/staff/settings/branding"))
    screenshot(page, "demo-en-branding-editor-en")

    page.fill("#primary_color", "#7a1fa2")
    preview_colour = page.locator("#preview").evaluate("el => el.style.getPropertyValue('--brand-primary')")
    assert preview_colour == "#7a1fa2"  # the preview follows before anything is saved
    page.fill("#name", "Harbor Lending Plus")
    assert page.locator('#preview [data-show="name"]').inner_text() == "Harbor Lending Plus"
    page.fill("#note", "purple for the launch")
    page.get_by_role("button", name="Save as a new version").click()
    page.wait_for_load_state()
    assert "Branding saved" in page.content()

    page.goto(live_server.url("demo-en"))
    assert page.title() == "Harbor Lending Plus"
    colour = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--brand-primary').trim()")
    assert colour == "#7a1fa2"
    screenshot(page, "demo-en-home-after-branding-en")

    # put it back so other browser tests see the shipped branding
    page.goto(live_server.url("demo-en", "/staff/settings/branding"))
    page.fill("#primary_color", "#0b5c7a")
    page.fill("#name", "Harbor Lending")
    page.get_by_role("button", name="Save as a new version").click()
    page.wait_for_load_state()


def test_the_branding_editor_in_chinese(live_server, page, screenshot):
    secret = create_admin(live_server, "demo-cn", "13900000072")
    sign_in(page, live_server, "demo-cn", "13900000072", secret)
    page.goto(live_server.url("demo-cn", "/staff/settings/branding"))
    assert page.get_by_role("heading", level=1).inner_text() == "品牌设置"
    screenshot(page, "demo-cn-branding-editor-zh_CN")
