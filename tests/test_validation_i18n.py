"""Validation messages in the reader's language.

The schemas of tenant.yaml also check what the admin console saves; their
messages, marshmallow's own defaults among them, reach a zh_CN admin in
Chinese and an en admin in English, while ``lendkit tenant sync`` (no request,
no tenant) keeps printing English.

Two kinds of page tests: the ``tenant catalog`` ones give beta a catalog of
its own (a tenant may reword any string, core.i18n.TenantDomain) holding the
translations they expect, so they prove the wiring whatever lendkit's catalog
holds; the ``shipped catalog`` ones expect lendkit's zh_CN catalog to carry
the translations of the validation messages.
"""
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import g
from flask_babel import force_locale
from flask_babel.speaklater import LazyString
from marshmallow import ValidationError, fields, validate
from marshmallow.schema import Schema as MarshmallowSchema

from core.configuration import forms, service
from core.credit.settings import CreditSchema
from core.i18n import TenantDomain
from core.i18n_validation import FIELD_MESSAGES, SCHEMA_MESSAGES, VALIDATOR_MESSAGES, Schema, sentence
from core.lending.products import ProductSchema
from core.tenancy.config import flatten_errors
from testbed import TEST_TENANTS

CATALOG = Path(__file__).parent.parent / "core" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"


def shipped(msgid: str) -> str:
    """lendkit's zh_CN translation of ``msgid`` (the test fails, naming it, when there is none)."""
    with CATALOG.open("rb") as fh:
        message = read_po(fh).get(msgid)
    if message is None or not message.string or message.fuzzy:
        pytest.fail(f"no zh_CN translation of {msgid!r} in lendkit's catalog")
    return message.string


def admin(kit, client, tenant, mobile="13900000001"):
    secret = kit.staff(tenant, mobile, roles=("tenant_admin",))
    assert kit.web_login(client, mobile, totp_secret=secret).status_code == 302
    return client


def products_form(tenant, **changes):
    data = {}
    for index, product in enumerate(tenant.config["products"]):
        for key, value in forms.product_raw(product, tenant.currency).items():
            data[f"products.{index}.{key}"] = value
    data.update({f"products.{key}": value for key, value in changes.items()})
    data.update(action="save", note="")
    return data


def rules_form(tenant, **changes):
    raw = forms.rules_raw(service.section_value(tenant.config, "rules"), tenant.currency)
    data = {key: ("y" if value else None) if isinstance(value, bool) else value for key, value in raw.items()}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def problem_at(page: str, anchor: str) -> str:
    """The page from the field ``anchor`` on, far enough to hold the problem shown by it."""
    at = page.index(f'id="{anchor}"')
    return page[at:at + 2500]


@pytest.fixture
def beta_catalog(app, tmp_path):
    """Give beta its own zh_CN catalog: ``beta_catalog({msgid: 译文})``; forgotten afterwards."""
    tenants = tmp_path / "tenants-with-catalog"
    shutil.copytree(TEST_TENANTS, tenants)
    app.config["LENDKIT_TENANTS_DIR"] = str(tenants)

    def install(translations: dict):
        folder = tenants / "beta" / "translations" / "zh_CN" / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        catalog = Catalog(locale="zh_CN")
        for msgid, text in translations.items():
            catalog.add(msgid, text)
        with (folder / "messages.mo").open("wb") as fh:
            write_mo(fh, catalog)
        TenantDomain.forget("beta")

    yield install
    TenantDomain.forget("beta")


# ---------------------------------------------------------------- the mechanism


def marshmallow_defaults() -> set[str]:
    """Every English default message marshmallow 4 has for fields, validators and schemas."""
    found = set(MarshmallowSchema._default_error_messages.values())
    for _, cls in inspect.getmembers(fields, inspect.isclass):
        found.update(getattr(cls, "default_error_messages", {}).values())
    for _, cls in inspect.getmembers(validate, inspect.isclass):
        for attribute in ("default_message", "message_min", "message_max", "message_all", "message_equal"):
            if isinstance(getattr(cls, attribute, None), str):
                found.add(getattr(cls, attribute))
    for inclusive in (True, False):  # Range fills in its comparison words when it is made
        found.update(validate.Range(1, 2, min_inclusive=inclusive, max_inclusive=inclusive).__dict__[name]
                     for name in ("message_min", "message_max", "message_all"))
    return found


def test_the_translated_defaults_are_marshmallows_own_words(app):
    defaults = marshmallow_defaults()
    for table in (FIELD_MESSAGES, VALIDATOR_MESSAGES, SCHEMA_MESSAGES):
        for english, lazy in table.items():
            assert english in defaults, f"marshmallow no longer says {english!r}"
            with force_locale("en"):
                assert str(lazy) == english  # the msgid is the very text


def test_every_default_the_schemas_can_raise_is_translated():
    """Each field of the tenant.yaml schemas, and each validator on it, says nothing untranslated."""
    missing = []

    def walk(schema):
        for name, field in schema.fields.items():
            for inner in (field, getattr(field, "inner", None), getattr(field, "key_field", None), getattr(field, "value_field", None)):
                if inner is None:
                    continue
                for key in inner.error_messages:
                    if not isinstance(dict.__getitem__(inner.error_messages, key), LazyString):
                        missing.append(f"{name}: {key}")
                for validator in inner.validators:
                    for attribute in ("error", "message_min", "message_max", "message_all", "message_equal"):
                        if isinstance(getattr(validator, attribute, None), str):
                            missing.append(f"{name}: {getattr(validator, attribute)}")
                if isinstance(inner, fields.Nested):
                    walk(inner.schema)

    from core.tenancy.config import TenantConfigSchema

    for schema in (TenantConfigSchema(), ProductSchema(), CreditSchema(), service.RulesSchema(), service.ProductsSchema()):
        walk(schema)
    assert missing == []


def test_a_lazy_message_survives_the_validators_format(app, tenant_b, beta_catalog):
    beta_catalog({
        "must be between {min} and {max} days": "须在 {min} 到 {max} 天之间",
        "Not a valid integer.": "不是有效的整数。",
        "Must be one of: {choices}.": "须为以下之一：{choices}。",
    })
    with app.test_request_context("/", headers={"Host": "beta.test"}):
        g.tenant = tenant_b
        for locale, expected in (("zh_CN", ["须在 0 到 366 天之间", "不是有效的整数。", "须为以下之一：person, enterprise。"]),
                                 ("en", ["must be between 0 and 366 days", "Not a valid integer.", "Must be one of: person, enterprise."])):
            with force_locale(locale):
                with pytest.raises(ValidationError) as credit:
                    CreditSchema().load({"report_max_age_days": 999, "regrade_every_days": "7"})
                with pytest.raises(ValidationError) as product:
                    ProductSchema(partial=True).load({"borrower_type": "company"})
            messages = credit.value.messages
            assert messages["report_max_age_days"] == [expected[0]]
            assert messages["regrade_every_days"] == [expected[1]]
            assert product.value.messages["borrower_type"] == [expected[2]]
            assert all(type(m) is str for m in flatten_errors(messages).values())  # no lazy string escapes


def test_a_message_a_schema_gives_itself_is_left_alone():
    class Plain(Schema):
        count = fields.Int(required=True, error_messages={"required": "Say how many."})

    errors = Plain().validate({})
    assert errors == {"count": ["Say how many."]}  # a message a schema gives itself is left alone
    assert Plain().validate({"count": "x", "extra": 1}) == {"count": ["Not a valid integer."], "extra": ["Unknown field."]}


def test_a_problem_ends_with_the_full_stop_of_its_language():
    assert sentence("is above max_amount") == "is above max_amount."
    assert sentence("Not a valid integer.") == "Not a valid integer."
    assert sentence("高于最高借款金额") == "高于最高借款金额。"
    assert sentence("不是有效的整数。") == "不是有效的整数。"
    assert sentence("a risk reserve paying investors (垫付) is such a guarantee, so this must stay false").endswith("false.")
    assert flatten_errors({"grace_days": ["不是有效的整数。"]}) == {"grace_days": "不是有效的整数。"}


# ---------------------------------------------------------------- pages (tenant catalog)


def test_the_products_editor_shows_a_zh_cn_admin_chinese_problems(kit, client_b, tenant_b, beta_catalog):
    beta_catalog({
        "is above max_amount": "高于最高借款金额",
        "Must be greater than or equal to {min} and less than or equal to {max}.": "须大于或等于 {min} 且小于或等于 {max}。",
    })
    admin(kit, client_b, tenant_b)
    response = client_b.post("/staff/settings/products", data=products_form(tenant_b, **{
        "0.min_amount": "40000", "0.grace_days": "99"}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "高于最高借款金额。" in problem_at(page, "products-0-min_amount")
    assert "须大于或等于 0 且小于或等于 30。" in problem_at(page, "products-0-grace_days")
    assert "is above max_amount" not in page and "Must be greater than" not in page


def test_the_rules_editor_shows_a_zh_cn_admin_chinese_problems(kit, client_b, tenant_b, beta_catalog):
    beta_catalog({
        "must be between {min} and {max} days": "须在 {min} 到 {max} 天之间",
        "must add up to %(total_weight)s, not %(total)s": "合计须为 %(total_weight)s，当前为 %(total)s",
    })
    admin(kit, client_b, tenant_b)
    response = client_b.post("/staff/settings/rules", data=rules_form(tenant_b, **{
        "credit.report_max_age_days": "999", "credit.scorecard.weights.bureau_score": "45"}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "须在 0 到 366 天之间。" in page
    assert "合计须为 100，当前为 105。" in page
    assert "must add up to" not in page and "must be between" not in page


def test_an_en_admin_reads_the_same_problems_in_english(kit, client_a, tenant_a, beta_catalog):
    beta_catalog({"is above max_amount": "高于最高借款金额"})  # beta's words never reach alpha
    admin(kit, client_a, tenant_a)
    page = client_a.post("/staff/settings/products", data=products_form(tenant_a, **{
        "0.min_amount": "60000", "0.grace_days": "99"})).get_data(as_text=True)
    assert "is above max_amount." in problem_at(page, "products-0-min_amount")
    assert "Must be greater than or equal to 0 and less than or equal to 30." in problem_at(page, "products-0-grace_days")
    page = client_a.post("/staff/settings/rules", data=rules_form(tenant_a, **{
        "credit.report_max_age_days": "999", "credit.scorecard.weights.bureau_score": "45"})).get_data(as_text=True)
    assert "must be between 0 and 366 days." in page and "must add up to 100, not 105." in page
    assert "高于" not in page


# ---------------------------------------------------------------- pages (shipped catalog)


def test_lendkits_catalog_gives_a_zh_cn_admin_chinese_problems(kit, client_b, tenant_b):
    admin(kit, client_b, tenant_b)
    page = client_b.post("/staff/settings/products", data=products_form(tenant_b, **{
        "0.min_amount": "40000", "0.grace_days": "99", "0.grade_rates.AA.min": "5", "0.grade_rates.AA.max": "9",
    })).get_data(as_text=True)
    assert sentence(shipped("is above max_amount")) in problem_at(page, "products-0-min_amount")
    assert shipped("Must be greater than or equal to {min} and less than or equal to {max}.").format(min=0, max=30) \
        in problem_at(page, "products-0-grace_days")
    band = shipped("must lie within the product's band %(low)s–%(high)s") % {"low": "0.07", "high": "0.18"}
    assert sentence(band) in problem_at(page, "products-0-grade_rates-AA")

    page = client_b.post("/staff/settings/products", data=products_form(tenant_b, **{"0.max_amount": "lots"})).get_data(as_text=True)
    assert shipped("Enter a number, for example 12.5.") in problem_at(page, "products-0-max_amount")

    page = client_b.post("/staff/settings/rules", data=rules_form(tenant_b, **{
        "credit.report_max_age_days": "999", "credit.scorecard.weights.bureau_score": "45"})).get_data(as_text=True)
    assert sentence(shipped("must be between {min} and {max} days").format(min=0, max=366)) in page
    assert sentence(shipped("must add up to %(total_weight)s, not %(total)s") % {"total_weight": 100, "total": 105}) in page


# ---------------------------------------------------------------- the CLI


def run_sync(tenants: Path, cwd: Path):
    import os

    env = dict(os.environ, LENDKIT_TENANTS_DIR=str(tenants), LENDKIT_DATABASE_URL=f"sqlite:///{cwd}/x.db",
               LANG="zh_CN.UTF-8", LC_ALL="zh_CN.UTF-8", LANGUAGE="zh_CN")
    return subprocess.run([sys.executable, "-m", "core.cli", "tenant", "sync"], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=60)


def test_tenant_sync_reports_a_zh_cn_tenants_file_in_english(tmp_path):
    shutil.copytree(TEST_TENANTS, tmp_path / "tenants")
    path = tmp_path / "tenants" / "beta" / "tenant.yaml"
    original = path.read_text()

    path.write_text(original.replace("min_amount: 100000", "min_amount: 4000000"))
    result = run_sync(tmp_path / "tenants", tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "lendkit: tenants/beta/tenant.yaml: products.0.min_amount: is above max_amount."]

    path.write_text(original.replace("grace_days: 5", 'grace_days: "five"') + "credit:\n  report_max_age_days: 999\n")
    result = run_sync(tmp_path / "tenants", tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("lendkit: tenants/beta/tenant.yaml: ")
    assert "products.0.grace_days: Not a valid integer." in line
    assert "credit.report_max_age_days: must be between 0 and 366 days." in line


def test_provider_settings_problems_are_translated_too(app):
    """The bundled providers' own settings messages reach a zh_CN reader in Chinese."""
    from plugins.credit_bureau.http_provider import HttpBureauSettings
    from plugins.payment_custody.http_provider import HttpSettingsSchema as HttpCustodySettings
    from plugins.sms_otp.http import HttpSmsSettings

    with app.test_request_context(), force_locale("zh_CN"):
        sms = flatten_errors(HttpSmsSettings().validate({"base_url": "https://sms.example.com", "key_id": "k"}))
        bureau = flatten_errors(HttpBureauSettings().validate({"base_url": "https://b.example.com", "client_id": "c"}))
        bank = flatten_errors(HttpCustodySettings().validate({"base_url": "https://bank.example.com",
                                                               "merchant_id": "m", "private_key_pem": "nonsense"}))
    assert sms["secret"].startswith("请设置 secret")
    assert bureau["secret"].startswith("secret 和 secret_env 必须且只能填写一个")
    assert "不是有效的 PEM 格式 Ed25519 私钥" in bank["private_key_pem"]
    assert "必须填写 bank_public_key_pem 或 bank_public_key_path 之一" in bank["bank_public_key_pem"]
