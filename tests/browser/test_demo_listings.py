"""The seeded demo: listings with their disclosures, and a demo investor bidding from a phone."""
import pytest

from core.delivery.demo import DEMO_PASSWORD, DEMO_PEOPLE, DEMO_TRANSACTION_PASSWORD

pytestmark = pytest.mark.browser


def test_demo_cn_lists_part_funded_loans_with_their_disclosure(live_server, phone, screenshot):
    phone.goto(live_server.url("demo-cn", "/loans"))
    cards = phone.locator("a[href*='/loans/']").filter(has_text="%")
    assert phone.locator("html").get_attribute("lang") == "zh-CN"
    screenshot(phone, "demo-cn-listings-phone-zh_CN")
    phone.goto(live_server.url("demo-cn", "/loans"))
    first = phone.locator("main a[href^='/loans/']").first
    first.click()
    phone.wait_for_load_state()
    text = phone.locator("main").inner_text()
    for item in ("信息披露", "借款用途", "还款来源"):
        assert item in text, item
    assert "王小明" not in text  # the borrower's name is masked
    screenshot(phone, "demo-cn-listing-phone-zh_CN")
    assert cards is not None


def test_a_demo_investor_bids_from_a_phone(live_server, phone, screenshot):
    phone.goto(live_server.url("demo-en", "/accounts/login"))
    phone.fill("input[name=mobile]", DEMO_PEOPLE["investors"][2])
    phone.fill("input[name=password]", DEMO_PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    phone.wait_for_load_state()
    phone.goto(live_server.url("demo-en", "/loans"))
    phone.locator("main a[href^='/loans/']").first.click()
    phone.wait_for_load_state()
    assert "Disclosure" in phone.locator("main").inner_text()
    phone.fill("input[name=amount]", "25")
    phone.fill("input[name=transaction_password]", DEMO_TRANSACTION_PASSWORD)
    phone.get_by_role("button", name="Invest").click()
    phone.wait_for_load_state()
    assert "it is frozen in your custody account" in phone.locator("body").inner_text()
    assert "Your bids" in phone.locator("main").inner_text()
    screenshot(phone, "demo-en-listing-after-bid-phone-en")
