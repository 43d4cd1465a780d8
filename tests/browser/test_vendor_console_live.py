"""The vendor console in real Chromium: an operator signs in with a TOTP code, runs a tenant's
acceptance suite and reads the gate of its next stage."""
import pyotp
import pytest

pytestmark = pytest.mark.browser

PASSWORD = "operator pass 2468 horse"


def test_an_operator_runs_the_acceptance_suite_from_the_console(live_server, page, screenshot):
    from core.extensions import db
    from core.tenancy.models import Tenant
    from core.vendor.auth import create_operator

    with live_server.app.app_context():
        operator, _uri = create_operator("olga", "Olga Operator", PASSWORD)
        secret = operator.totp_secret
        tenant = Tenant.by_slug("demo-en")
        tenant.stage = "configured"
        db.session.commit()
    console = f"http://vendor.localhost:{live_server.port}/console/"
    page.goto(console)
    page.fill("input[name=login]", "olga")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state()
    assert "Harbor Lending" in page.locator("main").inner_text()
    screenshot(page, "vendor-console-tenants-en")
    page.goto(console + "tenants/demo-en")
    assert "Gate to tested" in page.locator("main").inner_text()
    page.get_by_role("button", name="Run the acceptance suite").click()
    page.wait_for_load_state()
    text = page.locator("body").inner_text()
    assert "The acceptance suite passed" in text, text[:2000]
    assert "personal: equal_installment" in text and "business: bullet" in text
    screenshot(page, "vendor-console-acceptance-en")
    # run from a Chinese page, the run's scenarios and steps are written (and stored) in Chinese
    page.set_extra_http_headers({"Accept-Language": "zh-CN"})
    page.goto(console + "tenants/demo-en")
    page.get_by_role("button", name="运行验收测试").click()
    page.wait_for_load_state()
    text = page.locator("body").inner_text()
    assert "验收测试通过" in text, text[:2000]
    page.locator("details").evaluate_all("elements => elements.forEach(e => e.open = true)")  # show the steps
    scenarios = page.locator("ul.checks").last.inner_text()
    assert "personal：equal_installment" in scenarios and "business：bullet" in scenarios, scenarios
    assert "位出借人均收回全部本金，分毫不差" in scenarios and "账目平衡，且每天与银行对账一致" in scenarios, scenarios
    assert "minor units" not in scenarios and "investors" not in scenarios, scenarios
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing overflows
    screenshot(page, "vendor-console-acceptance-zh_CN")
    page.set_extra_http_headers({})
    # a run a worker has not finished yet: shown as running, in either language
    from core.delivery.acceptance import _record_start

    with live_server.app.app_context():
        _record_start(Tenant.by_slug("demo-en"), actor="Olga Operator")
    page.reload()
    assert "is running since" in page.locator("[data-run=running]").inner_text()
    gate = page.locator("ul.checks").first.inner_text()
    assert "acceptance suite passes" in gate and "is running since" in gate, gate
    screenshot(page, "vendor-console-acceptance-running-en")
    page.set_extra_http_headers({"Accept-Language": "zh-CN"})
    page.reload()
    assert "正在进行" in page.locator("[data-run=running]").inner_text()
    gate = page.locator("ul.checks").first.inner_text()  # the gate's checks too, not only the page around them
    assert "验收测试通过" in gate and "起正在进行" in gate and "acceptance suite passes" not in gate, gate
    screenshot(page, "vendor-console-acceptance-running-zh_CN")
    with live_server.app.app_context():
        tenant = Tenant.by_slug("demo-en")
        tenant.stage = "requirements"
        db.session.commit()
