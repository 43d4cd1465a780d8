"""A demo investor and a demo borrower on a phone, in both locales: wallet, portfolio, credit, calculator."""
import pytest

from core.delivery.demo import DEMO_PASSWORD, DEMO_PEOPLE

pytestmark = pytest.mark.browser

SIGN_IN = {"demo-cn": "登录", "demo-en": "Sign in"}


def sign_in(page, live_server, slug, mobile):
    page.goto(live_server.url(slug, "/accounts/login"))
    page.fill("input[name=mobile]", mobile)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.get_by_role("button", name=SIGN_IN[slug]).click()
    page.wait_for_load_state()


def no_sideways_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("slug,locale", [("demo-cn", "zh_CN"), ("demo-en", "en")])
def test_an_investor_checks_wallet_and_portfolio_on_a_phone(live_server, phone, screenshot, slug, locale):
    sign_in(phone, live_server, slug, DEMO_PEOPLE["investors"][0])
    phone.goto(live_server.url(slug, "/wallet"))
    text = phone.locator("main").inner_text()
    assert ("可用余额" if locale == "zh_CN" else "Available") in text
    assert no_sideways_scroll(phone)
    screenshot(phone, f"{slug}-wallet-phone-{locale}")
    phone.goto(live_server.url(slug, "/invest"))
    assert phone.locator("main").inner_text()
    assert no_sideways_scroll(phone)
    screenshot(phone, f"{slug}-portfolio-phone-{locale}")


@pytest.mark.parametrize("slug,locale", [("demo-cn", "zh_CN"), ("demo-en", "en")])
def test_a_borrower_sees_credit_and_own_loans_on_a_phone(live_server, phone, screenshot, slug, locale):
    sign_in(phone, live_server, slug, DEMO_PEOPLE["borrower"])
    phone.goto(live_server.url(slug, "/credit"))
    text = phone.locator("main").inner_text()
    assert "AAA" in text or "AA" in text
    assert no_sideways_scroll(phone)
    screenshot(phone, f"{slug}-credit-phone-{locale}")
    phone.goto(live_server.url(slug, "/loans/mine"))
    assert "LN" in phone.locator("main").inner_text()
    assert no_sideways_scroll(phone)
    screenshot(phone, f"{slug}-my-loans-phone-{locale}")


WRONG_PASSWORD = {"demo-cn": "交易密码错误。", "demo-en": "The transaction password is wrong."}
INVEST = {"demo-cn": "出借", "demo-en": "Invest"}


@pytest.mark.parametrize("slug,locale", [("demo-cn", "zh_CN"), ("demo-en", "en")])
def test_an_investor_mistyping_the_transaction_password_keeps_the_amount_on_a_phone(live_server, phone, screenshot,
                                                                                    slug, locale):
    sign_in(phone, live_server, slug, DEMO_PEOPLE["investors"][0])
    phone.goto(live_server.url(slug, "/loans"))
    phone.locator("main a[href^='/loans/']").filter(has_text="LN").first.click()
    phone.wait_for_load_state()
    phone.fill("input[name=amount]", "300")
    phone.fill("input[name=transaction_password]", "not-the-password-1")
    phone.get_by_role("button", name=INVEST[slug], exact=True).click()
    phone.wait_for_load_state()
    assert WRONG_PASSWORD[slug] in phone.locator("main").inner_text()
    assert phone.input_value("input[name=amount]") == "300"  # typed once, kept
    assert phone.input_value("input[name=transaction_password]") == ""  # never echoed back
    assert no_sideways_scroll(phone)
    screenshot(phone, f"{slug}-bid-refused-phone-{locale}")
