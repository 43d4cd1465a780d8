"""tenant.yaml: the credit section, the compliance pack and risk settings are validated when a tenant loads."""
import copy
import shutil
from pathlib import Path

import pytest
import yaml

from core.credit.settings import DEFAULT_CREDIT, credit_settings
from core.plugins import provider_registry
from core.tenancy.config import TenantConfigError, load_tenant_folder

ROOT = Path(__file__).parent.parent.parent
TEST_TENANTS = ROOT / "tests" / "data" / "tenants"
DEMO_TENANTS = ROOT / "tenants"


def tenant_copy(tmp_path, change=None):
    folder = tmp_path / "alpha"
    shutil.copytree(TEST_TENANTS / "alpha", folder)
    data = yaml.safe_load((folder / "tenant.yaml").read_text(encoding="utf-8"))
    if change:
        change(data)
    (folder / "tenant.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


def load(folder):
    return load_tenant_folder(folder, provider_registry())


def problems(folder) -> TenantConfigError:
    with pytest.raises(TenantConfigError) as info:
        load(folder)
    return info.value


def credit(**section):
    def change(data):
        data["credit"] = section
    return change


def grades(**overrides):
    table = copy.deepcopy(DEFAULT_CREDIT["grades"])
    for grade, values in overrides.items():
        table[grade].update(values)
    return table


def test_a_tenant_without_a_credit_section_gets_the_default_scorecard(tmp_path):
    config = load(tenant_copy(tmp_path)).config
    assert config["credit"] == DEFAULT_CREDIT
    assert config["compliance"] == "none" and config["risk"] == {"reserve_pays_investors": False}


def test_a_partial_credit_section_keeps_the_other_defaults(tmp_path):
    config = load(tenant_copy(tmp_path, credit(report_max_age_days=7))).config
    assert config["credit"]["report_max_age_days"] == 7
    assert config["credit"]["grades"] == DEFAULT_CREDIT["grades"]


def test_the_loaded_section_is_plain_json_and_loads_again_to_itself():
    import json

    assert json.loads(json.dumps(DEFAULT_CREDIT)) == DEFAULT_CREDIT
    assert credit_settings({"credit": DEFAULT_CREDIT}) == DEFAULT_CREDIT
    assert credit_settings({}) == DEFAULT_CREDIT  # a tenant row stored before the setting existed


@pytest.mark.parametrize("section, field, words", [
    ({"scorecard": {"weights": {"bureau_score": 60, "debt_load": 30}}}, "credit.scorecard.weights", "add up to 100, not 90"),
    ({"scorecard": {"weights": {"bureau_score": 90, "luck": 10}}}, "credit.scorecard.weights", "unknown factor 'luck'"),
    ({"scorecard": {"weights": {"bureau_score": 110, "debt_load": -10}}}, "credit.scorecard.weights", "may not be negative"),
    ({"scorecard": {"weights": {"bureau_score": 99.5, "debt_load": 0.5}}}, "credit.scorecard.weights", "whole number"),
    ({"scorecard": {"no_history": "1.5"}}, "credit.scorecard.no_history", "below 1"),
    ({"scorecard": {"debt_reference": {"person": 100}}}, "credit.scorecard.debt_reference", "enterprise"),
    ({"grades": grades(AA={"min_score": 85})}, "credit.grades.AA", "strictly descending: AA min_score 85 is not below AAA's 85"),
    ({"grades": grades(C={"min_score": 60})}, "credit.grades.C", "strictly descending"),
    ({"grades": grades(B={"rate_min": "0.16", "rate_max": "0.15"})}, "credit.grades.B.rate_max", "not be below rate_min"),
    ({"grades": grades(A={"limit": 0})}, "credit.grades.A.limit", "positive"),
    ({"grades": grades(A={"enterprise_limit": -5})}, "credit.grades.A.enterprise_limit", "positive"),
    ({"grades": grades(A={"rate_max": 0.12})}, "credit.grades.A.rate_max", "quoted decimal strings"),
    ({"grades": grades(A={"rate_max": "1.2"})}, "credit.grades.A.rate_max", "below 1"),
    ({"grades": grades(A={"rate_max": "twelve"})}, "credit.grades.A.rate_max", "decimal string"),
    ({"grades": grades(AAA={"min_score": 101})}, "credit.grades.AAA.min_score", "between 0 and 100"),
    ({"grades": {"AAA": DEFAULT_CREDIT["grades"]["AAA"]}}, "credit.grades.C", "required"),
    ({"grades": {**grades(), "D": {}}}, "credit.grades.D", "unknown field"),
    ({"report_max_age_days": -1}, "credit.report_max_age_days", "between 0 and 366"),
    ({"refuse": {"identity_mismatch": False}}, "credit.refuse.identity_mismatch", "unknown field"),
])
def test_each_scorecard_problem_names_the_field(tmp_path, section, field, words):
    error = problems(tenant_copy(tmp_path, credit(**section)))
    assert field in error.problems, error.problems
    assert words.lower() in error.problems[field].lower()
    assert "\n" not in str(error) and field in str(error)


def test_an_unknown_compliance_pack_is_refused_naming_the_available_ones(tmp_path):
    error = problems(tenant_copy(tmp_path, lambda d: d.update(compliance="eu-2030")))
    assert error.problems["compliance"] == "no compliance pack named 'eu-2030' (available: cn-2016, none)"


def test_cn_2016_refuses_a_reserve_that_pays_investors_and_says_why(tmp_path):
    def change(data):
        data["compliance"] = "cn-2016"
        data["risk"] = {"reserve_pays_investors": True}
    error = problems(tenant_copy(tmp_path, change))
    message = error.problems["risk.reserve_pays_investors"]
    assert message.startswith("cn-2016 §10(3):") and "垫付" in message and "guarantee" in message


def test_cn_2016_needs_cny(tmp_path):
    def change(data):
        data["compliance"] = "cn-2016"
        data["currency"] = "USD"
    assert problems(tenant_copy(tmp_path, change)).problems["currency"].startswith("cn-2016 §17:")


def test_the_none_pack_accepts_a_reserve_that_pays_investors(tmp_path):
    config = load(tenant_copy(tmp_path, lambda d: d.update(risk={"reserve_pays_investors": True}))).config
    assert config["risk"]["reserve_pays_investors"] is True


def test_cn_2016_with_cny_and_no_reserve_payments_loads(tmp_path):
    assert load(tenant_copy(tmp_path, lambda d: d.update(compliance="cn-2016"))).config["compliance"] == "cn-2016"


def test_the_demo_tenants_choose_their_packs():
    assert load(DEMO_TENANTS / "demo-cn").config["compliance"] == "cn-2016"
    assert load(DEMO_TENANTS / "demo-en").config["compliance"] == "none"
    for folder in (DEMO_TENANTS / "demo-cn", DEMO_TENANTS / "demo-en", TEST_TENANTS / "alpha", TEST_TENANTS / "beta"):
        assert load(folder).config["credit"] == DEFAULT_CREDIT
