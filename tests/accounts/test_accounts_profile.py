"""The user's own settings: password change and reset, transaction password, mobile change, roles, bank cards."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from core.accounts.models import BankCard, User
from core.accounts.policy import AccountRefused
from core.accounts.profile import verify_transaction_password
from core.audit.models import AuditRecord
from core.extensions import db
from core.tenancy import tenant_context

MOBILE = "13800138000"
NEW_MOBILE = "13900139000"


@pytest.fixture
def token(client_a, kit):
    kit.register(client_a, MOBILE)
    return kit.token(client_a, MOBILE)


def _user(tenant):
    with tenant_context(tenant):
        return db.session.scalar(select(User))


def test_a_password_change_signs_out_other_sessions(client_a, kit, token):
    other = kit.token(client_a, MOBILE)
    wrong = client_a.post("/api/v1/me/password", json={"current_password": "nope-nope-1", "new_password": "new-pass-22"}, headers=kit.bearer(token))
    assert wrong.status_code == 422 and "current password" in wrong.json["message"]
    weak = client_a.post("/api/v1/me/password", json={"current_password": kit.PASSWORD, "new_password": "abcdefgh"}, headers=kit.bearer(token))
    assert weak.status_code == 422 and "letters only" in weak.json["errors"]["new_password"][0]
    done = client_a.post("/api/v1/me/password", json={"current_password": kit.PASSWORD, "new_password": "new-pass-22"}, headers=kit.bearer(token))
    assert done.status_code == 204
    assert client_a.get("/api/v1/me", headers=kit.bearer(token)).status_code == 200
    assert client_a.get("/api/v1/me", headers=kit.bearer(other)).status_code == 401
    assert kit.token(client_a, MOBILE, "new-pass-22")


def test_a_password_reset_by_sms_code_unlocks_and_signs_out_everywhere(client_a, tenant_a, kit, token):
    for _ in range(5):
        client_a.post("/api/v1/auth/tokens", json={"mobile": MOBILE, "password": "wrong-pass-1"})
    assert client_a.post("/api/v1/auth/tokens", json={"mobile": MOBILE, "password": kit.PASSWORD}).status_code == 423
    assert kit.send_code(client_a, MOBILE, "reset_password").status_code == 202
    code = kit.code("alpha", MOBILE)
    weak = client_a.post("/api/v1/auth/password-reset", json={"mobile": MOBILE, "code": code, "password": "12345678"})
    assert weak.status_code == 422
    reset = client_a.post("/api/v1/auth/password-reset", json={"mobile": MOBILE, "code": code, "password": "fresh-pass-3"})
    assert reset.status_code == 204
    assert client_a.get("/api/v1/me", headers=kit.bearer(token)).status_code == 401
    assert kit.token(client_a, MOBILE, "fresh-pass-3")
    replay = client_a.post("/api/v1/auth/password-reset", json={"mobile": MOBILE, "code": code, "password": "other-pass-4"})
    assert replay.status_code == 422 and "code" in replay.json["errors"]


def test_the_reset_page_sends_a_code_and_resets(client_a, kit, token):
    sent = client_a.post("/accounts/reset", data={"action": "send_code", "mobile": MOBILE})
    assert "138****8000" in sent.get_data(as_text=True)
    done = client_a.post("/accounts/reset", data={"action": "submit", "mobile": MOBILE, "code": kit.code("alpha", MOBILE),
                                                  "password": "fresh-pass-3", "password_confirm": "fresh-pass-3"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/accounts/login")


def test_the_transaction_password_must_differ_from_the_login_password(client_a, tenant_a, kit, token):
    same = client_a.post("/api/v1/me/transaction-password", json={"login_password": kit.PASSWORD, "transaction_password": kit.PASSWORD}, headers=kit.bearer(token))
    assert same.status_code == 422 and "differ" in same.json["message"]
    wrong_login = client_a.post("/api/v1/me/transaction-password", json={"login_password": "x-wrong-1", "transaction_password": "trade-pass-9"}, headers=kit.bearer(token))
    assert wrong_login.status_code == 422 and "login_password" in wrong_login.json["errors"]
    done = client_a.post("/api/v1/me/transaction-password", json={"login_password": kit.PASSWORD, "transaction_password": "trade-pass-9"}, headers=kit.bearer(token))
    assert done.status_code == 204
    assert client_a.get("/api/v1/me", headers=kit.bearer(token)).json["transaction_password_set"] is True
    back = client_a.post("/api/v1/me/password", json={"current_password": kit.PASSWORD, "new_password": "trade-pass-9"}, headers=kit.bearer(token))
    assert back.status_code == 422 and "differ" in back.json["message"]


def test_verify_transaction_password_for_withdrawals_and_investments(client_a, tenant_a, kit, token):
    with tenant_context(tenant_a):
        user = db.session.scalar(select(User))
        with pytest.raises(AccountRefused) as unset:
            verify_transaction_password(user, "anything-1")
        assert unset.value.code == "transaction_password_unset"
    client_a.post("/api/v1/me/transaction-password", json={"login_password": kit.PASSWORD, "transaction_password": "trade-pass-9"}, headers=kit.bearer(token))
    with tenant_context(tenant_a):
        user = db.session.scalar(select(User))
        assert verify_transaction_password(user, "trade-pass-9") is True
        assert verify_transaction_password(user, kit.PASSWORD) is False
        for _ in range(4):
            verify_transaction_password(user, "wrong-trade-1")
        with pytest.raises(AccountRefused) as locked:
            verify_transaction_password(user, "trade-pass-9")
        assert locked.value.code == "transaction_locked"
        user.transaction_locked_until = datetime.now(timezone.utc) - timedelta(seconds=1)
        db.session.commit()
        assert verify_transaction_password(user, "trade-pass-9") is True
        events = db.session.scalars(select(AuditRecord.event)).all()
    assert "transaction_password.locked" in events


def test_changing_the_mobile_number_needs_codes_to_the_old_and_the_new(client_a, tenant_a, kit, token):
    assert client_a.post("/api/v1/me/mobile/codes", json={"which": "old"}, headers=kit.bearer(token)).status_code == 202
    old = kit.code("alpha", MOBILE)
    taken = client_a.post("/api/v1/me/mobile/codes", json={"which": "new", "new_mobile": MOBILE}, headers=kit.bearer(token))
    assert taken.status_code == 422 and "already your" in taken.json["message"]
    assert client_a.post("/api/v1/me/mobile/codes", json={"which": "new", "new_mobile": NEW_MOBILE}, headers=kit.bearer(token)).status_code == 202
    new = kit.code("alpha", NEW_MOBILE)
    swapped = client_a.post("/api/v1/me/mobile", json={"old_code": new, "new_mobile": NEW_MOBILE, "new_code": old}, headers=kit.bearer(token))
    assert swapped.status_code == 422 and ("old_code" in swapped.json["errors"] or "new_code" in swapped.json["errors"])
    done = client_a.post("/api/v1/me/mobile", json={"old_code": old, "new_mobile": NEW_MOBILE, "new_code": new}, headers=kit.bearer(token))
    assert done.status_code == 200 and done.json["mobile"] == "139****9000"
    assert client_a.post("/api/v1/auth/tokens", json={"mobile": MOBILE, "password": kit.PASSWORD}).status_code == 401
    assert kit.token(client_a, NEW_MOBILE)


def test_a_number_registered_by_someone_else_cannot_be_taken(client_a, kit, token):
    kit.register(client_a, NEW_MOBILE)
    response = client_a.post("/api/v1/me/mobile/codes", json={"which": "new", "new_mobile": NEW_MOBILE}, headers=kit.bearer(token))
    assert response.status_code == 409


def test_a_user_chooses_to_borrow_invest_or_both(client_a, kit, token):
    both = client_a.put("/api/v1/me/roles", json={"roles": ["borrower", "investor"]}, headers=kit.bearer(token))
    assert both.status_code == 200 and both.json["roles"] == ["borrower", "investor"] and "borrow" in both.json["permissions"]
    assert client_a.put("/api/v1/me/roles", json={"roles": []}, headers=kit.bearer(token)).status_code == 422
    assert client_a.put("/api/v1/me/roles", json={"roles": ["tenant_admin"]}, headers=kit.bearer(token)).status_code == 422
    only = client_a.put("/api/v1/me/roles", json={"roles": ["borrower"]}, headers=kit.bearer(token))
    assert only.json["roles"] == ["borrower"] and "invest" not in only.json["permissions"]


def test_a_bank_card_needs_a_verified_identity_and_a_valid_number(client_a, tenant_a, kit, token):
    early = client_a.post("/api/v1/me/bank-cards", json={"card_number": kit.bank_card()}, headers=kit.bearer(token))
    assert early.status_code == 409 and "verify your identity" in early.json["message"]
    client_a.delete("/api/v1/auth/tokens/current", headers=kit.bearer(token))


def test_binding_a_card_stores_it_encrypted_and_shows_it_masked(client_a, tenant_a, kit):
    token = kit.verified_user(client_a, tenant_a, MOBILE)
    bad = client_a.post("/api/v1/me/bank-cards", json={"card_number": "6222021234567890120"}, headers=kit.bearer(token))
    assert bad.status_code == 422 and "not valid" in bad.json["errors"]["card_number"][0]
    card = client_a.post("/api/v1/me/bank-cards", json={"card_number": kit.bank_card(), "bank_name": "工商银行"}, headers=kit.bearer(token))
    assert card.status_code == 201, card.json
    assert card.json["number"] == f"6222 **** **** {kit.bank_card()[-4:]}" and card.json["status"] in ("pending", "active")
    assert client_a.get("/api/v1/me/bank-cards", headers=kit.bearer(token)).json[0]["number"] == card.json["number"]
    twice = client_a.post("/api/v1/me/bank-cards", json={"card_number": kit.bank_card()}, headers=kit.bearer(token))
    assert twice.status_code == 409 and "already bound" in twice.json["message"]


def test_a_card_of_another_account_cannot_be_bound(client_a, tenant_a, kit):
    first = kit.verified_user(client_a, tenant_a, MOBILE)
    assert client_a.post("/api/v1/me/bank-cards", json={"card_number": kit.bank_card()}, headers=kit.bearer(first)).status_code == 201
    second = kit.verified_user(client_a, tenant_a, NEW_MOBILE, id_number=kit.resident_id("11010519900307011"))
    response = client_a.post("/api/v1/me/bank-cards", json={"card_number": kit.bank_card()}, headers=kit.bearer(second))
    assert response.status_code == 409 and "another account" in response.json["message"]


def test_binding_asks_the_custody_orchestration_to_open_the_account(client_a, tenant_a, kit, monkeypatch):
    from types import SimpleNamespace

    from core.accounts import cards

    calls = []

    class FakeService:
        @staticmethod
        def open_account(owner, *, name, id_number, card_number, key):
            calls.append((owner, name, id_number, card_number, key))
            return SimpleNamespace(state="confirmed", reason=None)

    monkeypatch.setattr(cards, "_custody_service", lambda: FakeService)
    token = kit.verified_user(client_a, tenant_a, MOBILE)
    card = client_a.post("/api/v1/me/bank-cards", json={"card_number": kit.bank_card()}, headers=kit.bearer(token))
    assert card.status_code == 201 and card.json["status"] == "active"
    (owner, name, id_number, number, key), = calls
    assert name == "张三" and id_number == kit.resident_id() and number == kit.bank_card() and key == f"open_account:bank_card:{card.json['id']}"

    class Refusing(FakeService):
        @staticmethod
        def open_account(owner, **kwargs):
            return SimpleNamespace(state="refused", reason="name_mismatch")

    monkeypatch.setattr(cards, "_custody_service", lambda: Refusing)
    other = kit.verified_user(client_a, tenant_a, NEW_MOBILE, id_number=kit.resident_id("11010519900307011"))
    refused = client_a.post("/api/v1/me/bank-cards", json={"card_number": kit.bank_card("621700000000000001")}, headers=kit.bearer(other))
    assert refused.json["status"] == "failed" and refused.json["failure_reason"] == "name_mismatch"


def test_without_the_custody_orchestration_the_card_waits_pending(client_a, tenant_a, kit, monkeypatch):
    from core.accounts import cards

    monkeypatch.setattr(cards, "_custody_service", lambda: None)
    token = kit.verified_user(client_a, tenant_a, MOBILE)
    card = client_a.post("/api/v1/me/bank-cards", json={"card_number": kit.bank_card()}, headers=kit.bearer(token))
    assert card.json["status"] == "pending"
    with tenant_context(tenant_a):
        assert db.session.scalar(select(BankCard.status)) == "pending"


def test_the_account_pages_work_for_a_signed_in_user(client_a, tenant_a, kit, token):
    kit.web_login(client_a, MOBILE)
    overview = client_a.get("/accounts/").get_data(as_text=True)
    assert "138****8000" in overview and MOBILE not in overview
    for path in ("/accounts/password", "/accounts/transaction-password", "/accounts/mobile", "/accounts/kyc",
                 "/accounts/kyc/person", "/accounts/kyc/enterprise", "/accounts/bank-cards", "/accounts/logout"):
        assert client_a.get(path).status_code == 200, path
    weak = client_a.post("/accounts/transaction-password", data={"login_password": kit.PASSWORD, "transaction_password": "12345678", "confirm_password": "12345678"})
    assert "digits only" in weak.get_data(as_text=True)
    roles = client_a.post("/accounts/roles", data={"roles": ["borrower"]})
    assert roles.status_code == 302
    assert _user(tenant_a).role_names == {"borrower"}
