"""Registration through identity verification in real Chromium, in both locales, on a desktop and a phone.

The SMS code is read from the console provider's outbox, which the live
server writes under its working directory (the current one during these tests).
"""
import json
import re
from pathlib import Path

import pytest

from core.accounts.identity import resident_id_check_digit

pytestmark = pytest.mark.browser

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PASSWORD = "browser-pass-1"


def _last_code(slug: str, mobile: str) -> str:
    outbox = Path(f"instance/sms-outbox-{slug}.jsonl")
    texts = [json.loads(line)["text"] for line in outbox.read_text(encoding="utf-8").splitlines()
             if line and json.loads(line)["to"] == mobile]
    assert texts, f"no SMS to {mobile}"
    return re.search(r"\b(\d{6})\b", texts[-1]).group(1)


def _zh(msgid: str) -> str:
    """What the compiled zh_CN catalog says for ``msgid`` (the English text until it is translated)."""
    from babel.support import Translations

    from core.config import PROJECT_ROOT

    return Translations.load(str(PROJECT_ROOT / "core" / "translations"), ["zh_CN"]).gettext(msgid)


def _id_number(sequence: str) -> str:
    first17 = f"11010519880512{sequence}"
    return first17 + resident_id_check_digit(first17)


def _register(page, live_server, slug, mobile, *, words, screenshot, shot):
    page.goto(live_server.url(slug, "/accounts/register"))
    assert page.locator("html").get_attribute("lang") == words["lang"]
    screenshot(page, f"{shot}-register")
    page.fill("input[name=mobile]", mobile)
    send = page.locator("button[name=action][value=send_code]")
    assert send.inner_text().strip() == words["send"]
    send.click()
    page.wait_for_load_state()
    assert mobile[:3] + "****" + mobile[-4:] in page.locator(".flash-success").inner_text()
    page.fill("input[name=code]", _last_code(slug, mobile))
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password_confirm]", PASSWORD)
    page.check("input[name=roles][value=borrower]")
    page.check("input[name=accept_terms]")
    screenshot(page, f"{shot}-register-filled")
    page.locator(".form-actions button[name=action][value=submit]").click()
    page.wait_for_load_state()
    assert page.url.endswith("/accounts/kyc")
    screenshot(page, f"{shot}-kyc-start")


def _verify_identity(page, words, id_number, screenshot, shot):
    page.locator(f"a[href$='/accounts/kyc/person']").first.click()
    page.wait_for_load_state()
    page.fill("input[name=real_name]", words["name"])
    page.fill("input[name=id_number]", "123")  # a typo first: the page says why
    for field in ("id_front", "id_back", "id_holding"):
        page.set_input_files(f"input[name={field}]", files=[{"name": f"{field}.png", "mimeType": "image/png", "buffer": PNG}])
    page.locator(".form-actions button[type=submit]").click()
    page.wait_for_load_state()
    assert words["id_error"] in page.locator(".field-error").first.inner_text()
    screenshot(page, f"{shot}-kyc-refused")
    page.fill("input[name=id_number]", id_number)
    for field in ("id_front", "id_back", "id_holding"):
        page.set_input_files(f"input[name={field}]", files=[{"name": f"{field}.png", "mimeType": "image/png", "buffer": PNG}])
    page.locator(".form-actions button[type=submit]").click()
    page.wait_for_load_state()
    assert page.url.endswith("/accounts/kyc")
    status = page.locator(".badge-pending").first.inner_text()
    assert status == words["pending"]
    assert id_number not in page.content() and id_number[-4:] in page.content()
    screenshot(page, f"{shot}-kyc-pending")


ZH = {"lang": "zh-CN", "send": _zh("Send code"), "name": "王小明", "pending": _zh("Waiting for review"), "id_error": "18"}
EN = {"lang": "en", "send": "Send code", "name": "Wang Xiaoming", "pending": "Waiting for review", "id_error": "18 characters"}


def test_registration_through_kyc_in_chinese(live_server, page, screenshot):
    _register(page, live_server, "demo-cn", "13811110001", words=ZH, screenshot=screenshot, shot="demo-cn-zh_CN")
    _verify_identity(page, ZH, _id_number("101"), screenshot, "demo-cn-zh_CN")


def test_registration_through_kyc_in_english(live_server, page, screenshot):
    _register(page, live_server, "demo-en", "13811110002", words=EN, screenshot=screenshot, shot="demo-en-en")
    _verify_identity(page, EN, _id_number("102"), screenshot, "demo-en-en")


def test_registration_on_a_phone(live_server, phone, screenshot):
    _register(phone, live_server, "demo-cn", "13811110003", words=ZH, screenshot=screenshot, shot="demo-cn-zh_CN-phone")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    _verify_identity(phone, ZH, _id_number("103"), screenshot, "demo-cn-zh_CN-phone")


def test_sign_in_and_out_in_english_on_a_phone(live_server, phone, screenshot):
    _register(phone, live_server, "demo-en", "13811110004", words=EN, screenshot=screenshot, shot="demo-en-en-phone")
    phone.goto(live_server.url("demo-en", "/accounts/"))
    phone.get_by_role("button", name="Sign out").first.click()
    phone.wait_for_load_state()
    phone.goto(live_server.url("demo-en", "/accounts/login"))
    phone.fill("input[name=mobile]", "13811110004")
    phone.fill("input[name=password]", "wrong-pass-9")
    phone.get_by_role("button", name="Sign in").click()
    phone.wait_for_load_state()
    assert "not correct" in phone.locator(".field-error, .flash-error").first.inner_text()
    phone.fill("input[name=password]", PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    phone.wait_for_load_state()
    assert phone.url.endswith("/accounts/")
    assert "138****0004" in phone.content()
    screenshot(phone, "demo-en-en-phone-account")
