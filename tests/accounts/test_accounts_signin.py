"""Sign-in, lockout, session rotation, sign-out, idle staff sessions: pages and API."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from core.accounts.models import AuthSession, User
from core.audit.models import AuditRecord
from core.extensions import db
from core.tenancy import tenant_context

MOBILE = "13800138000"


def _events(tenant):
    with tenant_context(tenant):
        return [r.event for r in db.session.scalars(select(AuditRecord).order_by(AuditRecord.seq))]


def _set_security(tenant, **values):
    config = dict(tenant.config)
    config["security"] = {**config.get("security", {}), **values}
    tenant.config = config
    db.session.commit()


def test_the_api_signs_in_with_a_bearer_token_and_never_with_the_cookie(client_a, kit):
    kit.register(client_a, MOBILE)
    token = kit.token(client_a, MOBILE)
    assert client_a.get("/api/v1/me", headers=kit.bearer(token)).status_code == 200
    assert client_a.get("/api/v1/me").status_code == 401
    kit.web_login(client_a, MOBILE)  # a browser session on the same client…
    assert client_a.get("/accounts/").status_code == 200
    assert client_a.get("/api/v1/me").status_code == 401  # …does not open the API
    assert client_a.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_a_wrong_password_and_an_unknown_number_get_the_same_answer(client_a, tenant_a, kit):
    kit.register(client_a, MOBILE)
    wrong = client_a.post("/api/v1/auth/tokens", json={"mobile": MOBILE, "password": "wrong-pass-1"})
    unknown = client_a.post("/api/v1/auth/tokens", json={"mobile": "13900139000", "password": "wrong-pass-1"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["message"] == unknown.json["message"] == "The mobile number or the password is not correct."
    assert _events(tenant_a).count("login.failed") == 2


def test_repeated_failures_lock_the_account_for_the_tenants_minutes(client_a, tenant_a, kit):
    _set_security(tenant_a, lockout_threshold=3, lockout_minutes=45)
    kit.register(client_a, MOBILE)
    for _ in range(2):
        assert client_a.post("/api/v1/auth/tokens", json={"mobile": MOBILE, "password": "wrong-pass-1"}).status_code == 401
    third = client_a.post("/api/v1/auth/tokens", json={"mobile": MOBILE, "password": "wrong-pass-1"})
    assert third.status_code == 423 and "locked" in third.json["message"] and "45 minutes" in third.json["message"]
    right = client_a.post("/api/v1/auth/tokens", json={"mobile": MOBILE, "password": kit.PASSWORD})
    assert right.status_code == 423  # even the right password waits
    assert int(right.headers["Retry-After"]) > 40 * 60
    assert "account.locked" in _events(tenant_a) and "login.refused_locked" in _events(tenant_a)
    with tenant_context(tenant_a):
        user = db.session.scalar(select(User))
        user.locked_until = datetime.now(timezone.utc) - timedelta(seconds=1)
        db.session.commit()
    assert client_a.post("/api/v1/auth/tokens", json={"mobile": MOBILE, "password": kit.PASSWORD}).status_code == 201


def test_the_default_lockout_is_five_failures_and_the_page_says_so(client_a, tenant_a, kit):
    kit.register(client_a, MOBILE)
    for _ in range(4):
        page = client_a.post("/accounts/login", data={"mobile": MOBILE, "password": "wrong-pass-1"})
        assert "not correct" in page.get_data(as_text=True)
    page = client_a.post("/accounts/login", data={"mobile": MOBILE, "password": "wrong-pass-1"}).get_data(as_text=True)
    assert "this account is locked" in page and "30 minutes" in page


def test_a_success_resets_the_failure_count(client_a, tenant_a, kit):
    _set_security(tenant_a, lockout_threshold=3)
    kit.register(client_a, MOBILE)
    for _ in range(2):
        client_a.post("/api/v1/auth/tokens", json={"mobile": MOBILE, "password": "wrong-pass-1"})
    kit.token(client_a, MOBILE)
    for _ in range(2):
        assert client_a.post("/api/v1/auth/tokens", json={"mobile": MOBILE, "password": "wrong-pass-1"}).status_code == 401


def test_signing_in_rotates_the_session(client_a, kit):
    kit.register(client_a, MOBILE)
    client_a.get("/locale/zh_CN")
    with client_a.session_transaction(base_url="http://alpha.test") as session:
        session["planted"] = "by an attacker"
    kit.web_login(client_a, MOBILE)
    with client_a.session_transaction(base_url="http://alpha.test") as session:
        assert "planted" not in session and session["locale"] == "zh_CN"
        first = session["_user_id"]
    client_a.post("/accounts/logout")
    kit.web_login(client_a, MOBILE)
    with client_a.session_transaction(base_url="http://alpha.test") as session:
        assert session["_user_id"] != first


def test_signing_out_revokes_the_session_so_the_old_cookie_is_dead(client_a, tenant_a, kit):
    kit.register(client_a, MOBILE)
    kit.web_login(client_a, MOBILE)
    with client_a.session_transaction(base_url="http://alpha.test") as session:
        stolen = dict(session)
    assert client_a.post("/accounts/logout").status_code == 302
    with client_a.session_transaction(base_url="http://alpha.test") as session:
        session.update(stolen)  # replay the cookie from before sign-out
    response = client_a.get("/accounts/")
    assert response.status_code == 302 and "/accounts/login" in response.headers["Location"]


def test_the_api_token_is_revoked_at_sign_out(client_a, kit):
    kit.register(client_a, MOBILE)
    token = kit.token(client_a, MOBILE)
    assert client_a.delete("/api/v1/auth/tokens/current", headers=kit.bearer(token)).status_code == 204
    assert client_a.get("/api/v1/me", headers=kit.bearer(token)).status_code == 401


def test_a_token_of_alpha_means_nothing_at_beta(client_a, client_b, kit):
    kit.register(client_a, MOBILE)
    token = kit.token(client_a, MOBILE)
    assert client_b.get("/api/v1/me", headers=kit.bearer(token)).status_code == 401


def test_a_session_cookie_of_alpha_means_nothing_at_beta(client_a, client_b, kit):
    kit.register(client_a, MOBILE)
    kit.web_login(client_a, MOBILE)
    with client_a.session_transaction(base_url="http://alpha.test") as session:
        cookie = dict(session)
    with client_b.session_transaction(base_url="http://beta.test") as session:
        session.update(cookie)
    assert client_b.get("/accounts/").status_code == 302


def test_staff_sessions_end_when_idle(client_a, tenant_a, kit):
    _set_security(tenant_a, staff_idle_minutes=5)
    secret = kit.staff(tenant_a, MOBILE, roles=("support",))
    assert kit.web_login(client_a, MOBILE, totp_secret=secret).status_code == 302
    assert client_a.get("/staff/").status_code == 200
    with tenant_context(tenant_a):
        for session in db.session.scalars(select(AuthSession)):
            session.last_seen_at = datetime.now(timezone.utc) - timedelta(minutes=6)
        db.session.commit()
    response = client_a.get("/staff/")
    assert response.status_code == 302 and "/accounts/login" in response.headers["Location"]
    assert "session.idle_expired" in _events(tenant_a)
    assert "You were signed out" in client_a.get(response.headers["Location"]).get_data(as_text=True)


def test_customer_sessions_do_not_end_when_idle_but_do_expire(client_a, tenant_a, kit):
    kit.register(client_a, MOBILE)
    token = kit.token(client_a, MOBILE)
    with tenant_context(tenant_a):
        for session in db.session.scalars(select(AuthSession)):
            session.last_seen_at = datetime.now(timezone.utc) - timedelta(hours=3)
        db.session.commit()
    assert client_a.get("/api/v1/me", headers=kit.bearer(token)).status_code == 200
    with tenant_context(tenant_a):
        for session in db.session.scalars(select(AuthSession)):
            session.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
        db.session.commit()
    assert client_a.get("/api/v1/me", headers=kit.bearer(token)).status_code == 401


def test_a_disabled_account_cannot_sign_in(client_a, tenant_a, kit):
    kit.register(client_a, MOBILE)
    with tenant_context(tenant_a):
        db.session.scalar(select(User)).status = "disabled"
        db.session.commit()
    response = client_a.post("/api/v1/auth/tokens", json={"mobile": MOBILE, "password": kit.PASSWORD})
    assert response.status_code == 403 and "disabled" in response.json["message"]


def test_sign_in_input_is_checked(client_a, kit):
    assert client_a.post("/api/v1/auth/tokens", json={"mobile": "abc", "password": "x"}).json["errors"] == {"mobile": [
        "Please enter a mainland China mobile number: 11 digits starting with 1."]}
    assert client_a.post("/api/v1/auth/tokens", json={}).status_code == 422
    page = client_a.post("/accounts/login", data={"mobile": "", "password": ""}).get_data(as_text=True)
    assert "11 digits" in page


def test_the_next_parameter_never_leaves_the_site(client_a, kit):
    kit.register(client_a, MOBILE)
    response = client_a.post("/accounts/login", data={"mobile": MOBILE, "password": kit.PASSWORD, "next": "//evil.example/x"})
    assert response.headers["Location"].endswith("/accounts/")
    client_a.post("/accounts/logout")
    response = client_a.post("/accounts/login", data={"mobile": MOBILE, "password": kit.PASSWORD, "next": "/accounts/kyc"})
    assert response.headers["Location"].endswith("/accounts/kyc")
    client_a.post("/accounts/logout")
    response = client_a.post("/accounts/login", data={"mobile": MOBILE, "password": kit.PASSWORD, "next": "https://evil.example/"})
    assert response.headers["Location"].endswith("/accounts/")


def test_pages_needing_an_account_send_visitors_to_sign_in_and_back(client_a, kit):
    response = client_a.get("/accounts/kyc")
    assert response.status_code == 302 and "/accounts/login?next=/accounts/kyc" in response.headers["Location"]
