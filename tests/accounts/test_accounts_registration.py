"""Registration: mobile + SMS code + password + terms, on pages and through the API; nothing half-made."""
import pytest
from sqlalchemy import func, select

from core.accounts.models import OtpCode, User
from core.extensions import db
from core.tenancy import tenant_context

MOBILE = "13800138000"


def _users(tenant):
    with tenant_context(tenant):
        return db.session.scalar(select(func.count(User.id)))


def test_registration_through_the_api_creates_a_signed_in_capable_user(client_a, tenant_a, kit):
    sent = kit.send_code(client_a, MOBILE)
    assert sent.status_code == 202
    assert sent.json["masked_mobile"] == "138****8000" and sent.json["resend_after"] == 60
    text = kit.outbox("alpha", MOBILE)[-1]["text"]
    assert "Alpha Lending" in text and "registration" in text
    user = client_a.post("/api/v1/auth/register", json={
        "mobile": MOBILE, "code": kit.code("alpha", MOBILE), "password": kit.PASSWORD,
        "roles": ["borrower", "investor"], "accept_terms": True,
    })
    assert user.status_code == 201
    assert user.json["mobile"] == "138****8000" and user.json["roles"] == ["borrower", "investor"]
    assert user.json["kyc_status"] == "none" and user.json["transaction_password_set"] is False
    token = kit.token(client_a, MOBILE)
    me = client_a.get("/api/v1/me", headers=kit.bearer(token))
    assert me.status_code == 200 and me.json["id"] == user.json["id"]
    with tenant_context(tenant_a):
        stored = db.session.scalar(select(User.password_hash))
    assert stored.startswith("$argon2id$") and kit.PASSWORD not in stored  # argon2-cffi, the current OWASP choice


@pytest.mark.parametrize("change, field", [
    ({"mobile": "12345"}, "mobile"),
    ({"password": "short1"}, "password"),
    ({"password": "12345678901"}, "password"),
    ({"password": "onlyletters"}, "password"),
    ({"accept_terms": False}, "accept_terms"),
    ({"code": "000000"}, "code"),
    ({"roles": []}, "roles"),
    ({"kind": "robot"}, "kind"),
])
def test_bad_registration_input_is_refused_with_a_reason_and_creates_nothing(client_a, tenant_a, kit, change, field):
    kit.send_code(client_a, MOBILE)
    body = {"mobile": MOBILE, "code": kit.code("alpha", MOBILE), "password": kit.PASSWORD, "accept_terms": True}
    if change.get("code") == "000000" and body["code"] == "000000":
        change = {"code": "111111"}
    body.update(change)
    response = client_a.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422, response.json
    errors = {**response.json["errors"].get("json", {}), **response.json["errors"]}
    assert field in errors and response.json["message"]
    assert _users(tenant_a) == 0


def test_a_missing_field_is_a_422_with_the_field_named(client_a, tenant_a):
    response = client_a.post("/api/v1/auth/register", json={"mobile": MOBILE})
    assert response.status_code == 422 and {"code", "password", "accept_terms"} <= set(response.json["errors"]["json"])
    assert _users(tenant_a) == 0


def test_a_registered_number_cannot_register_again_or_get_a_register_code(client_a, tenant_a, kit):
    kit.register(client_a, MOBILE)
    again = kit.send_code(client_a, MOBILE)
    assert again.status_code == 409 and "already registered" in again.json["message"]
    assert _users(tenant_a) == 1


def test_the_code_is_used_up_by_registration(client_a, tenant_a, kit):
    kit.send_code(client_a, MOBILE)
    code = kit.code("alpha", MOBILE)
    body = {"mobile": MOBILE, "code": code, "password": kit.PASSWORD, "accept_terms": True}
    assert client_a.post("/api/v1/auth/register", json=body).status_code == 201
    with tenant_context(tenant_a):
        assert db.session.scalar(select(OtpCode.status)) == "used"


def test_the_register_page_sends_a_code_then_registers_and_signs_in(client_a, tenant_a, kit):
    page = client_a.get("/accounts/register").get_data(as_text=True)
    assert 'name="mobile"' in page and "/legal/terms" in page and "/legal/privacy" in page
    sent = client_a.post("/accounts/register", data={"action": "send_code", "mobile": "138 0013 8000"})
    body = sent.get_data(as_text=True)
    assert sent.status_code == 200 and "138****8000" in body and 'value="138 0013 8000"' in body
    done = client_a.post("/accounts/register", data={
        "action": "submit", "mobile": MOBILE, "code": kit.code("alpha", MOBILE), "password": kit.PASSWORD,
        "password_confirm": kit.PASSWORD, "kind": "person", "roles": ["investor"], "accept_terms": "y",
    })
    assert done.status_code == 302 and done.headers["Location"].endswith("/accounts/kyc")
    assert client_a.get("/accounts/").status_code == 200


def test_the_register_page_shows_each_problem_next_to_its_field(client_a, tenant_a, kit):
    kit.send_code(client_a, MOBILE)
    page = client_a.post("/accounts/register", data={
        "action": "submit", "mobile": MOBILE, "code": kit.code("alpha", MOBILE), "password": kit.PASSWORD,
        "password_confirm": "different-1", "kind": "person", "roles": ["investor"], "accept_terms": "y",
    })
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "The two passwords are not the same." in html and "has-error" in html
    no_terms = client_a.post("/accounts/register", data={
        "action": "submit", "mobile": MOBILE, "code": kit.code("alpha", MOBILE), "password": kit.PASSWORD,
        "password_confirm": kit.PASSWORD, "kind": "person", "roles": ["investor"],
    }).get_data(as_text=True)
    assert "accept the terms of service" in no_terms
    assert _users(tenant_a) == 0


def test_the_register_page_is_translated(client_a):
    client_a.get("/locale/zh_CN")
    page = client_a.get("/accounts/register").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page


def test_the_same_mobile_registers_at_two_tenants_as_two_people(client_a, client_b, tenant_a, tenant_b, kit):
    a = kit.register(client_a, MOBILE, password="alpha-pass-1")
    b = kit.register(client_b, MOBILE, password="beta-pass-1")
    assert _users(tenant_a) == 1 and _users(tenant_b) == 1
    with tenant_context(tenant_a):
        index_a = db.session.get(User, a["id"]).mobile_index
    with tenant_context(tenant_b):
        index_b = db.session.get(User, b["id"]).mobile_index
    assert index_a != index_b  # blind indexes are keyed per tenant
    assert kit.token(client_a, MOBILE, "alpha-pass-1") and kit.token(client_b, MOBILE, "beta-pass-1")
    assert client_a.post("/api/v1/auth/tokens", json={"mobile": MOBILE, "password": "beta-pass-1"}).status_code == 401


def test_a_user_of_alpha_cannot_sign_in_at_beta(client_a, client_b, kit):
    kit.register(client_a, MOBILE)
    assert client_b.post("/api/v1/auth/tokens", json={"mobile": MOBILE, "password": kit.PASSWORD}).status_code == 401
    page = client_b.post("/accounts/login", data={"mobile": MOBILE, "password": kit.PASSWORD})
    # beta speaks zh_CN: the refusal is shown in its language
    assert page.status_code == 200 and "手机号或密码不正确" in page.get_data(as_text=True)
