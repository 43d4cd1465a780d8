"""A tenant admin edits a loan product in real Chromium and a borrower sees it on the site; refusals are named.

Screenshots (test-artifacts/screenshots/): the products editor in English and
Chinese, at desktop and phone width, a refused save, and the rules editor.
"""

import pytest

from testbed import page_sign_in, staff_with_totp

pytestmark = pytest.mark.browser

PASSWORD = "Admin-pass-2026"


def create_admin(live_server, slug, mobile):
    return staff_with_totp(live_server.app, slug, mobile, password=PASSWORD)


def create_borrower(live_server, slug, mobile):
    from core.accounts.models import User, UserRole
    from core.accounts.policy import hash_password
    from core.extensions import db
    from core.tenancy import tenant_context
    from core.tenancy.models import Tenant

    with live_server.app.app_context():
        tenant = Tenant.by_slug(slug)
        with tenant_context(tenant):
            user = User(kind="person", status="active", password_hash=hash_password(PASSWORD), locale="en")
            user.set_mobile(tenant, mobile)
            user.roles.append(UserRole(role="borrower"))
            db.session.add(user)
            db.session.commit()


def sign_in(page, live_server, slug, mobile, secret=None):
    page_sign_in(page, live_server.url(slug, "/accounts/login"), mobile, PASSWORD, secret)


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")


def show(page, selector):
    """Scroll ``selector`` to a third of the way down the window (clear of the sticky header)."""
    page.evaluate("s => window.scrollTo(0, document.querySelector(s).getBoundingClientRect().top + window.scrollY - 250)",
                  selector)


def save(page, label):
    with page.expect_navigation():
        page.locator(".settings-actions").get_by_role("button", name=label).click()


def test_an_admin_edits_a_product_and_a_borrower_sees_it(live_server, browser, page, screenshot):
    secret = create_admin(live_server, "demo-en", "13900000081")
    sign_in(page, live_server, "demo-en", "13900000081", secret)
    page.goto(live_server.url("demo-en", "/staff/settings/products"))
    assert page.get_by_role("heading", level=1).inner_text() == "Loan products"
    assert page.locator("fieldset.product").count() == 2
    assert page.locator('[name="products.0.max_amount"]').input_value() == "30000"
    assert no_horizontal_scroll(page)
    screenshot(page, "demo-en-products-editor-en")

    # a mistake first: the page names it next to the field and keeps what was typed
    page.fill('[name="products.0.max_amount"]', "45000")
    page.fill('[name="products.0.annual_rate_max"]', "120")
    save(page, "Save as a new version")
    field = page.locator("#products-0-annual_rate_max").locator("xpath=..")
    assert "Enter a percentage from 0 up to (not including) 100." in field.inner_text()
    assert page.locator('[name="products.0.max_amount"]').input_value() == "45000"
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "demo-en-products-editor-refused-en", full_page=False)

    page.fill('[name="products.0.annual_rate_max"]', "19.5")
    page.fill("#note", "bigger personal loans")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # Enter in a field saves; it never removes a product
    assert "Products saved as version 1" in page.content()
    assert page.locator("fieldset.product").count() == 2
    assert "bigger personal loans" in page.locator("#version-1").inner_text()
    assert "$45,000.00" in page.locator("#version-1").inner_text()

    create_borrower(live_server, "demo-en", "13800000081")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    borrower = context.new_page()
    sign_in(borrower, live_server, "demo-en", "13800000081")
    borrower.goto(live_server.url("demo-en", "/loans/apply"))
    offer = borrower.locator("ul.meta").inner_text()
    assert "$45,000.00" in offer and "19.50%" in offer
    screenshot(borrower, "demo-en-apply-after-products-editor-en")
    context.close()

    # put it back for the other browser tests
    page.fill('[name="products.0.max_amount"]', "30000")
    page.fill('[name="products.0.annual_rate_max"]', "18")
    save(page, "Save as a new version")
    assert "Products saved as version 2" in page.content()


def test_the_products_editor_in_chinese_names_the_compliance_rule(live_server, page, screenshot):
    secret = create_admin(live_server, "demo-cn", "13900000082")
    sign_in(page, live_server, "demo-cn", "13900000082", secret)
    page.goto(live_server.url("demo-cn", "/staff/settings/products"))
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert no_horizontal_scroll(page)
    screenshot(page, "demo-cn-products-editor-zh_CN")
    page.fill('[name="products.0.max_amount"]', "300000")
    with page.expect_navigation():
        page.locator(".settings-actions button.button-primary").click()
    field = page.locator("#products-0-max_amount").locator("xpath=..")
    assert "cn-2016 §17" in field.inner_text() and "200,000.00" in field.inner_text() and "300,000.00" in field.inner_text()
    show(page, "#products-0-max_amount")
    screenshot(page, "demo-cn-products-editor-refused-zh_CN", full_page=False)
    page.goto(live_server.url("demo-cn", "/staff/settings/rules"))
    assert no_horizontal_scroll(page)
    screenshot(page, "demo-cn-rules-editor-zh_CN")


@pytest.mark.parametrize("slug,locale", [("demo-en", "en"), ("demo-cn", "zh_CN")])
def test_the_settings_editors_fit_a_phone(live_server, phone, screenshot, slug, locale):
    mobile = "13900000083" if locale == "en" else "13900000084"
    secret = create_admin(live_server, slug, mobile)
    sign_in(phone, live_server, slug, mobile, secret)
    for page_name in ("products", "rules"):
        phone.goto(live_server.url(slug, f"/staff/settings/{page_name}"))
        assert no_horizontal_scroll(phone), page_name
        widths = phone.evaluate(
            "Array.from(document.querySelectorAll('.settings-form .input')).map(e => e.getBoundingClientRect().right)")
        assert widths and max(widths) <= 390, page_name
        screenshot(phone, f"{slug}-{page_name}-editor-phone-{locale}")
