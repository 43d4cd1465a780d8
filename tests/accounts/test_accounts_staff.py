"""Staff: `lendkit staff create`, TOTP enrolment, the staff pages, unlocking and resetting two-factor."""
import re

import pyotp
from sqlalchemy import select

from core.accounts.models import User
from core.audit.models import AuditRecord
from core.extensions import db
from core.tenancy import tenant_context


def test_staff_create_makes_the_first_admin_and_prints_the_authenticator_key(lendkit, tenant_a, client_a):
    result = lendkit("staff", "create", "--tenant", "alpha", "--mobile", "13900000001", "--role", "tenant_admin",
                     "--password", "admin-pass-1")
    assert result.exit_code == 0, result.output
    assert "created staff 139****0001" in result.output and "tenant_admin" in result.output
    uri = re.search(r"otpauth://totp/\S+", result.output).group(0)
    assert "13900000001" not in result.output
    secret = re.search(r"secret=([A-Z2-7]+)", uri).group(1)
    client_a.post("/accounts/login", data={"mobile": "13900000001", "password": "admin-pass-1"})
    done = client_a.post("/accounts/login/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302 and client_a.get("/staff/users").status_code == 200
    with tenant_context(tenant_a):
        user = db.session.scalar(select(User))
        assert user.totp_enrolled and user.role_names == {"tenant_admin"}
        events = db.session.scalars(select(AuditRecord.event)).all()
    assert events[:2] == ["staff.created", "role.granted"] and "staff.totp_enrolled" in events


def test_staff_create_refuses_bad_input(lendkit, tenant_a):
    assert lendkit("staff", "create", "--tenant", "nobody", "--mobile", "13900000001", "--role", "reviewer", "--password", "p-123456").exit_code != 0
    bad_mobile = lendkit("staff", "create", "--tenant", "alpha", "--mobile", "123", "--role", "reviewer", "--password", "p-123456")
    assert bad_mobile.exit_code != 0 and "--mobile" in bad_mobile.output
    assert lendkit("staff", "create", "--tenant", "alpha", "--mobile", "13900000001", "--role", "janitor", "--password", "p-123456").exit_code == 2
    weak = lendkit("staff", "create", "--tenant", "alpha", "--mobile", "13900000001", "--role", "reviewer", "--password", "12345678")
    assert weak.exit_code != 0 and "too weak" in weak.output
    with tenant_context(tenant_a):
        assert db.session.scalar(select(User)) is None


def test_staff_create_gives_an_existing_customer_staff_roles(lendkit, tenant_a, client_a, kit):
    kit.register(client_a, "13800138000")
    result = lendkit("staff", "create", "--tenant", "alpha", "--mobile", "13800138000", "--role", "support", "--no-totp")
    assert result.exit_code == 0 and "updated staff" in result.output and "otpauth" not in result.output
    with tenant_context(tenant_a):
        assert db.session.scalar(select(User)).role_names == {"investor", "support"}


def test_the_staff_pages_for_a_tenant_admin(client_a, tenant_a, kit):
    kit.register(client_a, "13800138000")
    user_id = kit.user(tenant_a, "13800138000")
    secret = kit.staff(tenant_a, "13900000001", roles=("tenant_admin",))
    kit.web_login(client_a, "13900000001", totp_secret=secret)
    dashboard = client_a.get("/staff/").get_data(as_text=True)
    assert "KYC review" in dashboard and "Audit log" in dashboard and "139****0001" in dashboard
    page = client_a.get(f"/staff/users/{user_id}").get_data(as_text=True)
    assert "Save roles" in page
    assert client_a.post(f"/staff/users/{user_id}/roles", data={"roles": ["reviewer"]}).status_code == 302
    with tenant_context(tenant_a):
        assert db.session.get(User, user_id).role_names == {"investor", "reviewer"}
    reset = client_a.post(f"/staff/users/{user_id}/two-factor/reset")
    assert reset.status_code == 302


def test_support_unlocks_a_locked_account(client_a, tenant_a, kit):
    kit.register(client_a, "13800138000")
    for _ in range(5):
        client_a.post("/api/v1/auth/tokens", json={"mobile": "13800138000", "password": "wrong-pass-1"})
    user_id = kit.user(tenant_a, "13800138000")
    secret = kit.staff(tenant_a, "13900000001", roles=("support",))
    kit.web_login(client_a, "13900000001", totp_secret=secret)
    assert "Locked" in client_a.get(f"/staff/users/{user_id}").get_data(as_text=True)
    assert client_a.post(f"/staff/users/{user_id}/unlock").status_code == 302
    assert kit.token(client_a, "13800138000")


def test_support_unlocks_through_the_api_and_other_roles_may_not(client_a, tenant_a, kit):
    kit.register(client_a, "13800138000")
    for _ in range(5):
        client_a.post("/api/v1/auth/tokens", json={"mobile": "13800138000", "password": "wrong-pass-1"})
    user_id = kit.user(tenant_a, "13800138000")
    reviewer = kit.staff_token(client_a, tenant_a, "13900000002", roles=("reviewer",))
    assert client_a.post(f"/api/v1/staff/users/{user_id}/unlock", headers=kit.bearer(reviewer)).status_code == 403
    support = kit.staff_token(client_a, tenant_a, "13900000001", roles=("support",))
    assert client_a.get(f"/api/v1/staff/users/{user_id}", headers=kit.bearer(support)).json["locked"] is True
    unlocked = client_a.post(f"/api/v1/staff/users/{user_id}/unlock", headers=kit.bearer(support))
    assert unlocked.status_code == 200 and unlocked.json["locked"] is False and unlocked.json["mobile"] == "138****8000"
    assert kit.token(client_a, "13800138000")
    missing = client_a.post("/api/v1/staff/users/999999/unlock", headers=kit.bearer(support))
    assert missing.status_code == 404 and missing.json["message"] == "No user 999999."
    with tenant_context(tenant_a):
        assert "account.unlocked" in db.session.scalars(select(AuditRecord.event)).all()


def test_a_tenant_admin_resets_two_factor_through_the_api(client_a, tenant_a, kit):
    kit.staff(tenant_a, "13900000002", roles=("reviewer",))
    reviewer_id = kit.user(tenant_a, "13900000002")
    reviewer = kit.staff_token(client_a, tenant_a, "13900000003", roles=("reviewer",))
    assert client_a.post(f"/api/v1/staff/users/{reviewer_id}/two-factor/reset", headers=kit.bearer(reviewer)).status_code == 403
    admin = kit.staff_token(client_a, tenant_a, "13900000001", roles=("tenant_admin",))
    reset = client_a.post(f"/api/v1/staff/users/{reviewer_id}/two-factor/reset", headers=kit.bearer(admin))
    assert reset.status_code == 200
    with tenant_context(tenant_a):
        assert db.session.get(User, reviewer_id).totp_sealed is None
        assert "staff.totp_reset" in db.session.scalars(select(AuditRecord.event)).all()
    again = client_a.post("/api/v1/auth/tokens", json={"mobile": "13900000002", "password": kit.PASSWORD, "totp": "123456"})
    assert again.status_code == 403  # no authenticator any more: enrol on the sign-in page first


def test_the_staff_nav_and_pages_are_translated(client_a, tenant_a, kit):
    secret = kit.staff(tenant_a, "13900000001", roles=("reviewer",))
    client_a.get("/locale/zh_CN")
    kit.web_login(client_a, "13900000001", totp_secret=secret)
    page = client_a.get("/staff/kyc").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "/staff/" in page
