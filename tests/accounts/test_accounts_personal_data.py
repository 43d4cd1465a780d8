"""Personal data: encrypted at rest, found by blind index, masked everywhere, whole only for roles that need it (audited)."""
import logging

import pytest
from sqlalchemy import select

from core.accounts import crypto
from core.audit.models import AuditRecord
from core.extensions import db
from core.tenancy import tenant_context

MOBILE = "13800138000"


def _database_dump() -> str:
    """Every value of every table, as text (bytes decoded leniently)."""
    parts = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        parts.append(bytes(value).decode("latin-1"))
                    else:
                        parts.append(str(value))
    return "\n".join(parts)


def test_sealing_round_trips_and_is_bound_to_tenant_and_field(app, tenant_a, tenant_b):
    sealed = crypto.seal(tenant_a, "user.mobile", MOBILE)
    assert MOBILE.encode() not in sealed and sealed[:1] == b"\x01"
    assert crypto.open_text(tenant_a, "user.mobile", sealed) == MOBILE
    assert crypto.seal(tenant_a, "user.mobile", MOBILE) != sealed  # a fresh nonce each time
    for tenant, field in ((tenant_b, "user.mobile"), (tenant_a, "kyc.id_number")):
        with pytest.raises(crypto.DecryptionFailed):
            crypto.open_sealed(tenant, field, sealed)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_sealed(tenant_a, "user.mobile", tampered)


def test_blind_indexes_are_stable_per_tenant_and_kind(app, tenant_a, tenant_b):
    a = crypto.blind_index(tenant_a, "mobile", MOBILE)
    assert a == crypto.blind_index(tenant_a, "mobile", MOBILE) and len(a) == 64
    assert a != crypto.blind_index(tenant_b, "mobile", MOBILE)
    assert a != crypto.blind_index(tenant_a, "id_number", MOBILE)


def test_keys_come_from_the_configured_key_material(make_app, tenant_a):
    other = make_app(LENDKIT_DATA_KEY="another-key-material-for-this-test-0123456789")
    with other.app_context():
        index_other = crypto.blind_index("alpha", "mobile", MOBILE)
    assert index_other != crypto.blind_index("alpha", "mobile", MOBILE)


def _other_production_keys():
    """Every other key production insists on (other modules add theirs), filled with long values."""
    from core.config import ConfigError, load_config

    environ = {"LENDKIT_SECRET_KEY": "s" * 40, "LENDKIT_DATA_KEY": "d" * 40}
    for _ in range(20):
        try:
            load_config({"LENDKIT_ENV": "production"}, environ=environ)
            break
        except ConfigError as exc:
            name = str(exc).split(":")[0]
            assert name.startswith("LENDKIT_") and name not in environ, str(exc)
            environ[name] = "o" * 40
    del environ["LENDKIT_DATA_KEY"]
    return environ


def test_production_refuses_to_start_without_real_data_key_material():
    from core.config import DEV_DATA_KEY, ConfigError, load_config

    secret = _other_production_keys()
    with pytest.raises(ConfigError, match="LENDKIT_DATA_KEY"):
        load_config({"LENDKIT_ENV": "production"}, environ=secret)
    with pytest.raises(ConfigError, match="LENDKIT_DATA_KEY"):
        load_config({"LENDKIT_ENV": "production"}, environ={**secret, "LENDKIT_DATA_KEY": DEV_DATA_KEY})
    with pytest.raises(ConfigError, match="LENDKIT_DATA_KEY"):
        load_config({"LENDKIT_ENV": "production"}, environ={**secret, "LENDKIT_DATA_KEY": "short"})
    assert load_config({"LENDKIT_ENV": "production"}, environ={**secret, "LENDKIT_DATA_KEY": "k" * 40})["LENDKIT_DATA_KEY"] == "k" * 40
    assert load_config({}, environ={})["LENDKIT_DATA_KEY"] == DEV_DATA_KEY


def test_the_database_holds_no_plaintext_mobile_identity_number_or_card(client_a, tenant_a, kit):
    """Every table, the custody instructions that carry the card to the bank included."""
    token = kit.verified_user(client_a, tenant_a, MOBILE)
    assert client_a.post("/api/v1/me/bank-cards", json={"card_number": kit.bank_card()}, headers=kit.bearer(token)).status_code == 201
    dump = _database_dump()
    for secret in (MOBILE, kit.resident_id(), kit.bank_card(), "13900000009", "张三"):
        assert secret not in dump, f"{secret} is stored in plain text"


def test_staff_see_masked_values_and_reveals_are_permitted_and_audited(client_a, tenant_a, kit):
    token = kit.verified_user(client_a, tenant_a, MOBILE)
    client_a.post("/api/v1/me/bank-cards", json={"card_number": kit.bank_card()}, headers=kit.bearer(token))
    user_id = kit.user(tenant_a, MOBILE)
    support = kit.staff_token(client_a, tenant_a, "13900000001", roles=("support",))
    detail = client_a.get(f"/api/v1/staff/users/{user_id}", headers=kit.bearer(support)).json
    assert detail["mobile"] == "138****8000" and detail["kyc"]["id_number"].startswith("1101**")
    assert detail["bank_cards"][0]["number"].startswith("6222 **** **** ")
    text = str(detail)
    assert MOBILE not in text and kit.resident_id() not in text and kit.bank_card() not in text
    mobile = client_a.post(f"/api/v1/staff/users/{user_id}/reveal", json={"field": "mobile"}, headers=kit.bearer(support))
    assert mobile.status_code == 200 and mobile.json == {"field": "mobile", "value": MOBILE}
    for field in ("id_number", "bank_card", "name"):
        refused = client_a.post(f"/api/v1/staff/users/{user_id}/reveal", json={"field": field}, headers=kit.bearer(support))
        assert refused.status_code == 403, field
    finance = kit.staff_token(client_a, tenant_a, "13900000002", roles=("finance",))
    card = client_a.post(f"/api/v1/staff/users/{user_id}/reveal", json={"field": "bank_card"}, headers=kit.bearer(finance))
    assert card.json["value"] == kit.bank_card()
    reviewer = kit.staff_token(client_a, tenant_a, "13900000003", roles=("reviewer",))
    number = client_a.post(f"/api/v1/staff/users/{user_id}/reveal", json={"field": "id_number"}, headers=kit.bearer(reviewer))
    assert number.json["value"] == kit.resident_id()
    with tenant_context(tenant_a):
        views = db.session.scalars(select(AuditRecord).where(AuditRecord.event == "pii.viewed")).all()
    assert [v.details for v in views] == ['{"field":"mobile"}', '{"field":"bank_card"}', '{"field":"id_number"}']
    assert all(v.target == f"user:{user_id}" for v in views)
    for view in views:
        assert MOBILE not in view.details and kit.resident_id() not in view.details


def test_staff_pages_show_masked_values_and_reveal_on_request(client_a, tenant_a, kit):
    from testbed import HostClient

    kit.verified_user(client_a, tenant_a, MOBILE)
    user_id = kit.user(tenant_a, MOBILE)
    secret = kit.staff(tenant_a, "13900000001", roles=("support",))
    staff = HostClient(client_a.application, "alpha.test")
    kit.web_login(staff, "13900000001", totp_secret=secret)
    page = staff.get(f"/staff/users/{user_id}").get_data(as_text=True)
    assert "138****8000" in page and MOBILE not in page and kit.resident_id() not in page
    found = staff.get(f"/staff/users?q={MOBILE}").get_data(as_text=True)
    assert f"/staff/users/{user_id}" in found and MOBILE not in found.replace(f'value="{MOBILE}"', "")
    by_id = staff.get(f"/staff/users?q={kit.resident_id()}").get_data(as_text=True)
    assert f"/staff/users/{user_id}" in by_id
    revealed = staff.post(f"/staff/users/{user_id}/reveal", data={"field": "mobile"}).get_data(as_text=True)
    assert MOBILE in revealed
    assert staff.post(f"/staff/users/{user_id}/reveal", data={"field": "id_number"}).status_code == 403


def test_the_user_export_is_masked(client_a, tenant_a, kit):
    kit.verified_user(client_a, tenant_a, MOBILE)
    officer = kit.staff_token(client_a, tenant_a, "13900000001", roles=("risk_officer",))
    secret = kit.staff(tenant_a, "13900000001", roles=("risk_officer",))
    kit.web_login(client_a, "13900000001", totp_secret=secret)
    export = client_a.get("/staff/users.csv")
    text = export.get_data(as_text=True)
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert "138****8000" in text and "张*" in text and MOBILE not in text and kit.resident_id() not in text
    assert officer


def test_logs_never_carry_a_whole_number(client_a, tenant_a, kit, caplog):
    caplog.set_level(logging.DEBUG)
    config = dict(tenant_a.config)
    config["providers"] = {**config["providers"], "sms": {"name": "http", "settings": {
        "base_url": "http://127.0.0.1:9", "key_id": "k", "secret": "0123456789abcdef", "connect_timeout": 0.3}}}
    tenant_a.config = config
    db.session.commit()
    client_a.post("/api/v1/auth/codes", json={"mobile": MOBILE, "purpose": "register"})
    client_a.post("/api/v1/auth/tokens", json={"mobile": MOBILE, "password": "whatever-1"})
    assert "138****8000" in caplog.text and MOBILE not in caplog.text


def test_reprs_do_not_leak(app, tenant_a, kit, client_a):
    kit.register(client_a, MOBILE)
    with tenant_context(tenant_a):
        from core.accounts.models import User

        user = db.session.scalar(select(User))
        assert MOBILE not in repr(user)
