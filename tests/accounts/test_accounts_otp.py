"""One-time codes: hashed, single use, purpose-bound, short-lived, few tries, cooldown, daily caps, provider failures."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from core.accounts.models import OtpCode
from core.accounts.otp import check_code, send_code
from core.accounts.policy import AccountRefused
from core.extensions import db
from core.tenancy import tenant_context

MOBILE = "13800138000"


def _rows(tenant):
    with tenant_context(tenant):
        return db.session.scalars(select(OtpCode).order_by(OtpCode.id)).all()


def _refused(tenant, mobile, purpose, code):
    with tenant_context(tenant):
        with pytest.raises(AccountRefused) as caught:
            check_code(tenant, mobile, purpose, code)
        db.session.rollback()
    return caught.value


def _accept(tenant, mobile, purpose, code):
    with tenant_context(tenant):
        check_code(tenant, mobile, purpose, code)
        db.session.commit()


def _send(tenant, mobile=MOBILE, purpose="register", ip="10.0.0.1"):
    with tenant_context(tenant):
        return send_code(tenant, mobile, purpose, ip=ip, locale="en")


def test_a_code_is_six_random_digits_stored_only_as_a_keyed_hash(app, tenant_a, kit):
    codes = set()
    for i in range(5):
        _send(tenant_a, mobile=f"1380013800{i}")
        codes.add(kit.code("alpha", f"1380013800{i}"))
    assert all(re.fullmatch(r"\d{6}", c) for c in codes) and len(codes) > 1
    for row in _rows(tenant_a):
        assert len(row.code_hash) == 64 and len(row.salt) == 16
        assert "13800138" not in row.mobile_index
    with db.engine.connect() as conn:
        dump = " ".join(str(v) for r in conn.exec_driver_sql("SELECT * FROM otp_code") for v in r)
    assert not any(code in dump for code in codes)


def test_a_code_is_single_use(app, tenant_a, kit):
    _send(tenant_a)
    code = kit.code("alpha", MOBILE)
    _accept(tenant_a, MOBILE, "register", code)
    assert _refused(tenant_a, MOBILE, "register", code).code == "otp_missing"


def test_a_code_is_bound_to_its_purpose_and_number(app, tenant_a, kit):
    _send(tenant_a)
    code = kit.code("alpha", MOBILE)
    assert _refused(tenant_a, MOBILE, "reset_password", code).code == "otp_missing"
    assert _refused(tenant_a, "13900139000", "register", code).code == "otp_missing"
    _accept(tenant_a, MOBILE, "register", code)


def test_a_code_expires_after_the_tenants_minutes_and_never_lives_past_ten(app, tenant_a, kit):
    sent = _send(tenant_a)
    assert timedelta(minutes=4) < sent.expires_at - datetime.now(timezone.utc) <= timedelta(minutes=5)
    code = kit.code("alpha", MOBILE)
    kit.age_codes(tenant_a, 5 * 60 + 1)
    refusal = _refused(tenant_a, MOBILE, "register", code)
    assert refusal.code == "otp_expired" and "expired" in str(refusal)


def test_five_wrong_tries_burn_the_code(app, tenant_a, kit):
    _send(tenant_a)
    code = kit.code("alpha", MOBILE)
    wrong = "000000" if code != "000000" else "111111"
    messages = [str(_refused(tenant_a, MOBILE, "register", wrong)) for _ in range(4)]
    assert messages[0].endswith("4 tries left.") and messages[3].endswith("1 tries left.")
    assert _refused(tenant_a, MOBILE, "register", wrong).code == "otp_burned"
    assert _refused(tenant_a, MOBILE, "register", code).code == "otp_burned"  # even the right one, now
    assert _rows(tenant_a)[0].status == "burned"


def test_garbage_counts_as_a_wrong_try(app, tenant_a, kit):
    _send(tenant_a)
    assert _refused(tenant_a, MOBILE, "register", "12ab").code == "otp_wrong"
    assert _rows(tenant_a)[0].tries == 1


def test_a_new_code_supersedes_the_old_one_after_the_cooldown(app, tenant_a, kit):
    _send(tenant_a)
    first = kit.code("alpha", MOBILE)
    with pytest.raises(AccountRefused) as cooldown:
        _send(tenant_a)
    assert cooldown.value.code == "otp_cooldown" and cooldown.value.status == 429 and 0 < cooldown.value.retry_after <= 60
    kit.age_codes(tenant_a, 61)
    _send(tenant_a)
    second = kit.code("alpha", MOBILE)
    if first != second:
        assert _refused(tenant_a, MOBILE, "register", first).code == "otp_wrong"
    _accept(tenant_a, MOBILE, "register", second)
    assert [r.status for r in _rows(tenant_a)] == ["superseded", "used"]


def test_a_number_gets_at_most_the_daily_cap(app, tenant_a, kit):
    config = dict(tenant_a.config)
    config["security"] = {"otp_daily_per_mobile": 3, "otp_resend_seconds": 10}
    tenant_a.config = config
    db.session.commit()
    for _ in range(3):
        _send(tenant_a)
        kit.age_codes(tenant_a, 11)
    with pytest.raises(AccountRefused) as capped:
        _send(tenant_a)
    assert capped.value.code == "otp_daily_mobile" and "tomorrow" in str(capped.value)
    kit.age_codes(tenant_a, 24 * 3600)
    _send(tenant_a)


def test_an_ip_gets_at_most_the_daily_cap(app, tenant_a):
    config = dict(tenant_a.config)
    config["security"] = {"otp_daily_per_ip": 2}
    tenant_a.config = config
    db.session.commit()
    _send(tenant_a, mobile="13800000001", ip="10.9.9.9")
    _send(tenant_a, mobile="13800000002", ip="10.9.9.9")
    with pytest.raises(AccountRefused) as capped:
        _send(tenant_a, mobile="13800000003", ip="10.9.9.9")
    assert capped.value.code == "otp_daily_ip"
    _send(tenant_a, mobile="13800000003", ip="10.9.9.10")


def test_caps_and_codes_are_per_tenant(app, tenant_a, tenant_b, kit):
    _send(tenant_a)
    _send(tenant_b)  # no cooldown across tenants
    code_a, code_b = kit.code("alpha", MOBILE), kit.code("beta", MOBILE)
    _accept(tenant_b, MOBILE, "register", code_b)
    assert _refused(tenant_b, MOBILE, "register", code_b).code == "otp_missing"  # beta's code is used up…
    _accept(tenant_a, MOBILE, "register", code_a)  # …alpha's is untouched


def test_a_provider_failure_says_try_again_and_leaves_no_code(client_a, tenant_a):
    config = dict(tenant_a.config)
    config["providers"] = {**config["providers"], "sms": {"name": "http", "settings": {
        "base_url": "http://127.0.0.1:9", "key_id": "lendkit", "secret": "0123456789abcdef", "connect_timeout": 0.5}}}
    tenant_a.config = config
    db.session.commit()
    response = client_a.post("/api/v1/auth/codes", json={"mobile": MOBILE, "purpose": "register"})
    assert response.status_code == 503 and "could not send" in response.json["message"]
    assert _rows(tenant_a) == []
    page = client_a.post("/accounts/register", data={"action": "send_code", "mobile": MOBILE})
    assert page.status_code == 200 and "could not send the text message" in page.get_data(as_text=True)
    assert _rows(tenant_a) == []


def test_texts_follow_the_locale_and_the_tenants_own_wording(client_a, tenant_a, kit):
    client_a.post("/api/v1/auth/codes", json={"mobile": MOBILE, "purpose": "register"})
    assert kit.outbox("alpha", MOBILE)[-1]["text"].startswith("[Alpha Lending] Your code for registration is ")
    config = dict(tenant_a.config)
    config["security"] = {"sms_templates": {"otp": {"zh_CN": "【阿尔法】{purpose}验证码{code}，{minutes}分钟有效"}}}
    tenant_a.config = config
    db.session.commit()
    with tenant_context(tenant_a):
        send_code(tenant_a, "13900139000", "register", locale="zh_CN")
        send_code(tenant_a, "13700137000", "reset_password", locale="en")
    zh = kit.outbox("alpha", "13900139000")[-1]["text"]
    assert zh.startswith("【阿尔法】") and "分钟有效" in zh and re.search(r"验证码\d{6}", zh)
    assert "password reset" in kit.outbox("alpha", "13700137000")[-1]["text"]


def test_the_engine_uses_the_tenants_provider(app, tenant_a, tenant_b, kit):
    _send(tenant_a)
    assert kit.outbox("alpha", MOBILE) and not kit.outbox("beta", MOBILE)


def test_code_requests_are_validated(client_a, tenant_a):
    assert client_a.post("/api/v1/auth/codes", json={"mobile": MOBILE, "purpose": "gossip"}).status_code == 422
    bad = client_a.post("/api/v1/auth/codes", json={"mobile": "999", "purpose": "register"})
    assert bad.status_code == 422 and "mobile" in bad.json["errors"]
    unknown = client_a.post("/api/v1/auth/codes", json={"mobile": MOBILE, "purpose": "reset_password"})
    assert unknown.status_code == 404 and "No account uses this mobile number" in unknown.json["message"]
    with tenant_context(tenant_a):
        assert db.session.scalar(select(func.count(OtpCode.id))) == 0
