"""The ``security`` section of tenant.yaml: defaults, limits, SMS templates."""
import pytest
from marshmallow import ValidationError

from core.tenancy.config import SecuritySchema


def test_every_setting_has_a_safe_default():
    settings = SecuritySchema().load({})
    assert settings == {
        "lockout_threshold": 5, "lockout_minutes": 30, "staff_idle_minutes": 15, "session_hours": 12,
        "otp_ttl_minutes": 5, "otp_max_tries": 5, "otp_resend_seconds": 60, "otp_daily_per_mobile": 10,
        "otp_daily_per_ip": 50, "sms_templates": {},
    }


@pytest.mark.parametrize("field, value", [
    ("lockout_threshold", 11), ("lockout_threshold", 0), ("lockout_minutes", 29),
    ("otp_ttl_minutes", 11), ("otp_max_tries", 6), ("staff_idle_minutes", 0), ("surprise", 1),
])
def test_limits_are_enforced(field, value):
    with pytest.raises(ValidationError) as caught:
        SecuritySchema().load({field: value})
    assert field in caught.value.messages


def test_sms_templates_are_checked_for_placeholders():
    ok = SecuritySchema().load({"sms_templates": {"otp": {"en": "{brand}: {code}"}, "money_moved": "{amount} {direction}"}})
    assert ok["sms_templates"]["money_moved"]["zh_CN"] == "{amount} {direction}"
    for bad in ({"otp": {"en": "no code here"}}, {"otp": {"en": "{code} {password}"}}, {"gossip": {"en": "{code}"}},
                {"otp": {"en": "{code"}}):
        with pytest.raises(ValidationError):
            SecuritySchema().load({"sms_templates": bad})


def test_a_tenant_yaml_with_a_bad_security_section_names_the_field(tmp_path):
    import shutil

    from core.tenancy.config import TenantConfigError, load_tenant_folder
    from testbed import TEST_TENANTS

    folder = tmp_path / "alpha"
    shutil.copytree(TEST_TENANTS / "alpha", folder)
    with (folder / "tenant.yaml").open("a", encoding="utf-8") as fh:
        fh.write("security:\n  lockout_threshold: 20\n")
    with pytest.raises(TenantConfigError) as caught:
        load_tenant_folder(folder)
    assert "security.lockout_threshold" in str(caught.value)


def test_tenants_loaded_before_the_section_existed_get_the_defaults(app, tenant_a):
    from core.accounts.policy import security_settings

    config = dict(tenant_a.config)
    config.pop("security", None)
    tenant_a.config = config
    assert security_settings(tenant_a)["lockout_threshold"] == 5
