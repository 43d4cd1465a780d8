"""A tenant admin opens the staff console: today's queues with counts, every staff page in the staff menu
(none of them among the customer links), and yesterday's reconciliation run from its page."""
from datetime import timedelta

import pytest

from testbed import page_sign_in, staff_with_totp

pytestmark = pytest.mark.browser

PASSWORD = "Admin-pass-2026"


def sign_in(page, live_server, slug, mobile, secret=None):
    page_sign_in(page, live_server.url(slug, "/accounts/login"), mobile, PASSWORD, secret)


def test_the_staff_dashboard_shows_todays_queues_and_reconciles_yesterday(live_server, page, screenshot):
    secret = staff_with_totp(live_server.app, "demo-en", "13900000081", password=PASSWORD)
    sign_in(page, live_server, "demo-en", "13900000081", secret)
    page.goto(live_server.url("demo-en", "/staff/"))
    assert page.get_by_role("heading", level=1).inner_text() == "Today"
    queues = page.locator("[data-queue] h2").all_inner_texts()
    for title in ("KYC review", "First review of loans", "Risk review of loans", "Listings", "Collection",
                  "Reconciliation"):
        assert title in queues, queues
    staff_menu = page.locator("nav.staff-nav")
    for label in ("Loans", "Collection", "Reconciliation", "Site settings", "Audit log"):
        assert staff_menu.get_by_role("link", name=label, exact=True).is_visible(), label
    site_menu = page.locator("header")
    assert site_menu.get_by_role("link", name="Reconciliation", exact=True).count() == 0
    screenshot(page, "demo-en-staff-dashboard-en")

    staff_menu.get_by_role("link", name="Reconciliation", exact=True).click()
    page.wait_for_load_state()
    from core.lending.lifecycle import tenant_today
    from core.tenancy.models import Tenant

    with live_server.app.app_context():
        yesterday = (tenant_today(Tenant.by_slug("demo-en")) - timedelta(days=1)).isoformat()
    assert page.input_value("input[name=day]") == yesterday
    page.get_by_role("button", name="Reconcile this day").click()
    page.wait_for_load_state()
    assert f"{yesterday} reconciled" in page.content()
    page.goto(live_server.url("demo-en", "/staff/"))
    assert f"Yesterday ({yesterday}) is reconciled." in page.content()
    screenshot(page, "demo-en-staff-dashboard-reconciled-en")


def test_the_staff_console_speaks_chinese_on_the_chinese_site(live_server, page, screenshot):
    secret = staff_with_totp(live_server.app, "demo-cn", "13900000082", password=PASSWORD)
    sign_in(page, live_server, "demo-cn", "13900000082", secret)
    page.goto(live_server.url("demo-cn", "/staff/"))
    assert page.get_by_role("heading", level=1).inner_text() == "今日待办"
    queues = page.locator("[data-queue] h2").all_inner_texts()
    for title in ("借款初审", "借款风控复审", "标的", "对账"):
        assert title in queues, queues
    assert "0 笔借款申请待审" in page.locator("main").inner_text()  # a count of 0 in Chinese too
    screenshot(page, "demo-cn-staff-dashboard-zh_CN")
    page.goto(live_server.url("demo-cn", "/staff/collection"))
    assert "逾期及违约借款" in page.locator("main").inner_text()  # the demo has no overdue loan: the list says so
    screenshot(page, "demo-cn-staff-collection-zh_CN")
    page.goto(live_server.url("demo-cn", "/staff/audit"))
    text = page.locator("main").inner_text()
    assert "已登录" in text and "login.succeeded" not in text  # events in words
    screenshot(page, "demo-cn-staff-audit-zh_CN")
