"""Roles and permissions: every endpoint is public or protected, staff need TOTP, tenants never mix."""
import re

import pytest
from sqlalchemy import select

from core.accounts.access import access_of
from core.accounts.roles import PERMISSIONS, permissions_of, role_has
from core.audit.models import AuditRecord
from core.extensions import db
from core.tenancy import tenant_context

#: Foundation endpoints open to anyone by design (home, notices, assets, locale, health, API docs).
FOUNDATION_PUBLIC = {
    "static", "health.healthz", "assets.theme_static", "assets.brand_file", "locale.choose_locale",
    "site.home", "site.notices", "site.notice", "notices.Notices", "notices.NoticeById",
    "api-docs.openapi_json",
}
FOUNDATION_PUBLIC_PREFIXES = ("api-docs.",)
#: Open to any caller but authenticated by other means than a user's session or token.
SIGNED_WEBHOOKS = {"custody.callback": "the custody bank's signature"}


#: Blueprints of this issue: every view in them must carry an explicit mark.
ACCOUNTS_BLUEPRINTS = ("accounts", "legal", "staff", "auth", "me", "staff_api")
#: What a refusal of a visitor looks like: no access, or a redirect to a sign-in page.
SIGN_IN_PAGES = ("/accounts/login", "/console/login")


def _handlers(app, endpoint, methods):
    view = app.view_functions[endpoint]
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return {m: view for m in methods}
    return {m: getattr(view_class, m.lower()) for m in methods if hasattr(view_class, m.lower())}


def _walk(app):
    """``(endpoint, method, rule, mark)`` for every route and method (HEAD and OPTIONS aside)."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in FOUNDATION_PUBLIC or rule.endpoint in SIGNED_WEBHOOKS or rule.endpoint.startswith(FOUNDATION_PUBLIC_PREFIXES):
            continue
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        for method, handler in _handlers(app, rule.endpoint, methods).items():
            yield rule.endpoint, method, rule.rule, access_of(handler)


def _url(rule):
    return re.sub(r"<(?:([a-z]+):)?([a-z_]+)>", lambda m: "1" if m.group(1) == "int" or m.group(2).endswith("id") else "x", rule)


def _refused(response) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    return response.status_code == 302 and any(page in response.headers["Location"] for page in SIGN_IN_PAGES)


def test_every_accounts_endpoint_is_marked_public_or_protected(app):
    unmarked = sorted(f"{endpoint} {method}" for endpoint, method, _, mark in _walk(app)
                      if endpoint.split(".")[0] in ACCOUNTS_BLUEPRINTS and mark is None)
    assert unmarked == [], "mark these with @public or @requires(...) from core.accounts.access: " + ", ".join(unmarked)


def test_every_endpoint_not_marked_public_refuses_a_visitor(app, client_a):
    """The walk: whatever guards it (@requires, or another module's own guard), no non-public endpoint serves a visitor."""
    open_doors, checked = [], 0
    for endpoint, method, rule, mark in _walk(app):
        if mark is not None and mark[0] == "public":
            continue
        response = client_a.open(_url(rule), method=method, json={} if rule.startswith("/api/") and method != "GET" else None)
        checked += 1
        if mark is not None and rule.startswith("/api/"):
            ok = response.status_code == 401
        elif mark is not None:
            ok = response.status_code == 302 and "/accounts/login" in response.headers["Location"]
        else:
            ok = _refused(response)
        if not ok:
            open_doors.append(f"{method} {rule} ({endpoint}) → {response.status_code}")
    assert checked > 30
    assert open_doors == [], "protect these with @requires(...) or mark them @public: " + "; ".join(open_doors)


def test_customers_get_403_on_every_staff_endpoint(app, client_a, kit):
    kit.register(client_a, "13800138000")
    token = kit.token(client_a, "13800138000")
    kit.web_login(client_a, "13800138000")
    staff_only = [(m, r) for _, m, r, mark in _walk(app)
                  if mark and mark[0] == "requires" and any(PERMISSIONS[p].staff for p in mark[1])]
    assert len(staff_only) > 15
    for method, rule in staff_only:
        headers = {"Authorization": f"Bearer {token}"} if rule.startswith("/api/") else {}
        response = client_a.open(_url(rule), method=method, headers=headers, json={} if rule.startswith("/api/") and method != "GET" else None)
        assert response.status_code == 403, f"{method} {rule}: {response.status_code}"


def test_each_staff_role_holds_its_named_permissions():
    assert role_has("reviewer", "kyc.review") and not role_has("support", "kyc.review")
    assert role_has("finance", "users.unmask.bank_card") and not role_has("finance", "users.unmask.identity")
    assert role_has("support", "users.unmask.mobile") and not role_has("support", "kyc.documents")
    assert set(permissions_of(["tenant_admin"])) == {p.name for p in PERMISSIONS.values() if p.staff}
    assert "staff.manage" in permissions_of(["tenant_admin"]) and "staff.manage" not in permissions_of(["reviewer", "risk_officer", "finance", "support"])
    assert permissions_of(["borrower"]) == ["borrow"] and permissions_of(["investor"]) == ["invest"]
    with pytest.raises(KeyError):
        role_has("reviewer", "no.such.permission")


def test_staff_pages_need_the_second_factor(client_a, tenant_a, kit):
    secret = kit.staff(tenant_a, "13900000001", roles=("reviewer",))
    first = client_a.post("/accounts/login", data={"mobile": "13900000001", "password": kit.PASSWORD})
    assert first.status_code == 302 and first.headers["Location"].endswith("/accounts/login/two-factor")
    assert client_a.get("/staff/kyc").status_code == 302  # not signed in yet
    wrong = client_a.post("/accounts/login/two-factor", data={"code": "000000"})
    assert "not correct" in wrong.get_data(as_text=True)
    done = client_a.post("/accounts/login/two-factor", data={"code": kit.totp(secret)})
    assert done.status_code == 302 and done.headers["Location"].endswith("/staff/")
    assert client_a.get("/staff/kyc").status_code == 200
    assert client_a.get("/staff/audit").status_code == 403  # a reviewer does not read the audit log


def test_a_totp_code_is_accepted_once(client_a, tenant_a, kit):
    secret = kit.staff(tenant_a, "13900000001", roles=("support",))
    code = kit.totp(secret)
    client_a.post("/accounts/login", data={"mobile": "13900000001", "password": kit.PASSWORD})
    assert client_a.post("/accounts/login/two-factor", data={"code": code}).status_code == 302
    client_a.post("/accounts/logout")
    client_a.post("/accounts/login", data={"mobile": "13900000001", "password": kit.PASSWORD})
    again = client_a.post("/accounts/login/two-factor", data={"code": code})
    assert again.status_code == 200 and "already used" in again.get_data(as_text=True)


def test_staff_api_tokens_need_the_authenticator_code(client_a, tenant_a, kit):
    secret = kit.staff(tenant_a, "13900000001", roles=("reviewer",))
    missing = client_a.post("/api/v1/auth/tokens", json={"mobile": "13900000001", "password": kit.PASSWORD})
    assert missing.status_code == 401 and "totp" in missing.json["errors"]
    wrong = client_a.post("/api/v1/auth/tokens", json={"mobile": "13900000001", "password": kit.PASSWORD, "totp": "000000"})
    assert wrong.status_code == 401
    token = kit.token(client_a, "13900000001", totp=kit.totp(secret))
    assert client_a.get("/api/v1/staff/kyc", headers=kit.bearer(token)).status_code == 200
    assert client_a.get("/api/v1/staff/audit", headers=kit.bearer(token)).status_code == 403


def test_a_customer_made_staff_must_sign_in_again_with_a_second_factor(client_a, tenant_a, kit):
    kit.register(client_a, "13800138000")
    token = kit.token(client_a, "13800138000")
    admin = kit.staff_token(client_a, tenant_a, "13900000001", roles=("tenant_admin",))
    user_id = kit.user(tenant_a, "13800138000")
    granted = client_a.put(f"/api/v1/staff/users/{user_id}/roles", json={"roles": ["support"]}, headers=kit.bearer(admin))
    assert granted.status_code == 200 and "support" in granted.json["roles"]
    assert client_a.get("/api/v1/me", headers=kit.bearer(token)).status_code == 401  # sessions revoked on role change
    not_enrolled = client_a.post("/api/v1/auth/tokens", json={"mobile": "13800138000", "password": kit.PASSWORD})
    assert not_enrolled.status_code == 403 and "two-factor" in not_enrolled.json["message"]
    login = client_a.post("/accounts/login", data={"mobile": "13800138000", "password": kit.PASSWORD})
    assert login.headers["Location"].endswith("/accounts/login/two-factor/setup")
    page = client_a.get("/accounts/login/two-factor/setup").get_data(as_text=True)
    assert "otpauth://totp/" in page and "<svg" in page
    import pyotp

    secret = re.search(r"secret=([A-Z2-7]+)", page).group(1)
    done = client_a.post("/accounts/login/two-factor/setup", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302 and client_a.get("/staff/users").status_code == 200
    with tenant_context(tenant_a):
        events = db.session.scalars(select(AuditRecord.event)).all()
    assert "role.granted" in events and "staff.totp_enrolled" in events


def test_the_last_tenant_admin_cannot_be_removed(client_a, tenant_a, kit):
    admin = kit.staff_token(client_a, tenant_a, "13900000001", roles=("tenant_admin",))
    admin_id = kit.user(tenant_a, "13900000001")
    response = client_a.put(f"/api/v1/staff/users/{admin_id}/roles", json={"roles": ["reviewer"]}, headers=kit.bearer(admin))
    assert response.status_code == 409 and "at least one" in response.json["message"]


def test_only_tenant_admins_change_roles(client_a, tenant_a, kit):
    kit.register(client_a, "13800138000")
    reviewer = kit.staff_token(client_a, tenant_a, "13900000001", roles=("reviewer",))
    user_id = kit.user(tenant_a, "13800138000")
    assert client_a.put(f"/api/v1/staff/users/{user_id}/roles", json={"roles": ["tenant_admin"]}, headers=kit.bearer(reviewer)).status_code == 403


def test_staff_of_alpha_see_nothing_of_beta(client_a, client_b, tenant_a, tenant_b, kit):
    kit.register(client_b, "13800138000")
    beta_user = kit.user(tenant_b, "13800138000")
    admin_a = kit.staff_token(client_a, tenant_a, "13900000001", roles=("tenant_admin",))
    assert client_a.get("/api/v1/staff/users?q=13800138000", headers=kit.bearer(admin_a)).json == []
    assert client_a.get(f"/api/v1/staff/users/{beta_user}", headers=kit.bearer(admin_a)).status_code == 404
    assert client_a.post(f"/api/v1/staff/users/{beta_user}/reveal", json={"field": "mobile"}, headers=kit.bearer(admin_a)).status_code == 404
    assert client_a.put(f"/api/v1/staff/users/{beta_user}/roles", json={"roles": ["support"]}, headers=kit.bearer(admin_a)).status_code == 404
    assert client_b.get("/api/v1/staff/users?q=13800138000", headers=kit.bearer(admin_a)).status_code == 401
    secret = kit.staff(tenant_a, "13900000002", roles=("tenant_admin",))
    kit.web_login(client_a, "13900000002", totp_secret=secret)
    assert client_a.get(f"/staff/users/{beta_user}").status_code == 404
    assert "138****8000" not in client_a.get("/staff/users").get_data(as_text=True)


def test_a_staff_member_of_alpha_cannot_sign_in_at_beta(client_b, tenant_a, kit):
    kit.staff(tenant_a, "13900000001", roles=("tenant_admin",))
    assert client_b.post("/accounts/login", data={"mobile": "13900000001", "password": kit.PASSWORD}).status_code == 200
    assert client_b.get("/staff/").status_code == 302


def test_every_staff_page_and_endpoint_of_beta_is_blind_to_alpha(client_a, client_b, tenant_a, tenant_b, kit):
    from testbed import HostClient

    customer = kit.verified_user(client_a, tenant_a, "13800138000")
    application = client_a.get("/api/v1/me/kyc", headers=kit.bearer(customer)).json["application"]["id"]
    alpha_user = kit.user(tenant_a, "13800138000")
    admin_b = kit.staff_token(client_b, tenant_b, "13900000001", roles=("tenant_admin",))
    audit_b = client_b.get("/api/v1/staff/audit", headers=kit.bearer(admin_b)).json
    assert audit_b and all("kyc" not in r["event"] for r in audit_b)  # beta's log has only beta's events
    secret = kit.staff(tenant_b, "13900000002", roles=("tenant_admin",))
    staff_b = HostClient(client_b.application, "beta.test")
    kit.web_login(staff_b, "13900000002", totp_secret=secret)
    for path in (f"/staff/kyc/{application}", f"/staff/kyc/{application}/documents/id_front", f"/staff/users/{alpha_user}"):
        assert staff_b.get(path).status_code == 404, path
    for path in (f"/staff/kyc/{application}/approve", f"/staff/users/{alpha_user}/reveal", f"/staff/users/{alpha_user}/unlock"):
        assert staff_b.post(path, data={"field": "mobile"}).status_code == 404, path
    assert "138****8000" not in staff_b.get("/staff/users.csv").get_data(as_text=True)
    assert f"/staff/kyc/{application}" not in staff_b.get("/staff/kyc").get_data(as_text=True)
