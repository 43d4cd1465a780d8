"""`lendkit tenant new --from requirements.yaml`: one command from questionnaire to branded demo site."""
import shutil
from pathlib import Path

import pytest
import yaml

from testbed import TEST_TENANTS, HostClient

EXAMPLE = Path(__file__).parent.parent / "scaffolding" / "tenant" / "example-requirements.yaml"

EXPECTED_PATHS = {
    "tenant.yaml",
    "requirements.yaml",
    "static/logo.svg",
    "templates/README.md",
    "seed/notices.yaml",
    "legal/terms.en.md",
    "legal/terms.zh_CN.md",
    "legal/privacy.en.md",
    "legal/privacy.zh_CN.md",
    "legal/loan_contract.en.html",
    "legal/loan_contract.zh_CN.html",
    "translations/en/LC_MESSAGES/messages.po",
    "translations/en/LC_MESSAGES/messages.mo",
    "translations/zh_CN/LC_MESSAGES/messages.po",
    "translations/zh_CN/LC_MESSAGES/messages.mo",
}


@pytest.fixture
def tenants_dir(app, tmp_path):
    folder = tmp_path / "tenants"
    shutil.copytree(TEST_TENANTS, folder)
    app.config["LENDKIT_TENANTS_DIR"] = str(folder)
    return folder


def questionnaire(tmp_path, change=None, name="requirements.yaml"):
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    if change:
        change(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_example_renders_a_complete_tenant_folder_that_serves_its_brand(app, lendkit, tenants_dir, tmp_path):
    result = lendkit("tenant", "new", "--from", str(questionnaire(tmp_path)))
    assert result.exit_code == 0, result.output
    folder = tenants_dir / "acme-credit"
    rendered = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert rendered == EXPECTED_PATHS
    page = HostClient(app, "anxin.example").get("/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "安心贷" in text and "--brand-primary: #0f6b4f" in text and "安心借，放心投" in text
    assert "欢迎来到安心贷" in text  # the seeded demo notice
    assert HostClient(app, "acme-credit.localhost").get("/_brand/logo.svg").status_code == 200
    assert "安心信息技术（深圳）有限公司" in (folder / "legal" / "terms.zh_CN.md").read_text(encoding="utf-8")
    # no space between a Chinese name and the Chinese that follows it; the English documents keep theirs
    assert "# 安心贷用户服务协议" in (folder / "legal" / "terms.zh_CN.md").read_text(encoding="utf-8")
    privacy = (folder / "legal" / "privacy.zh_CN.md").read_text(encoding="utf-8")
    assert "# 安心贷隐私政策" in privacy and "安心信息技术（深圳）有限公司仅收集" in privacy


def test_awkward_answers_survive_rendering_exactly(app, lendkit, tenants_dir, tmp_path):
    awkward = {
        "brand_name": 'O\'Brien & "Sons" 信贷: yes # no',
        "legal_name": "Back\\slash {curly} null",
        "address": "line: one\nline two",
    }

    def change(data):
        data["client"].update(awkward)
        data["client"]["slug"] = "obrien"
        data["site"]["hosts"] = ["obrien.example"]

    result = lendkit("tenant", "new", "--from", str(questionnaire(tmp_path, change)))
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((tenants_dir / "obrien" / "tenant.yaml").read_text(encoding="utf-8"))
    assert config["name"] == awkward["brand_name"]
    assert config["company"]["legal_name"] == awkward["legal_name"]
    assert config["company"]["address"] == awkward["address"]
    assert HostClient(app, "obrien.example").get("/").status_code == 200


def test_a_supplied_logo_is_used(app, lendkit, tenants_dir, tmp_path):
    (tmp_path / "brand.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 32)

    def change(data):
        data["brand"]["logo"] = "brand.png"

    assert lendkit("tenant", "new", "--from", str(questionnaire(tmp_path, change))).exit_code == 0
    assert (tenants_dir / "acme-credit" / "static" / "logo.png").is_file()
    assert not (tenants_dir / "acme-credit" / "static" / "logo.svg").exists()


def test_every_problem_is_listed_at_once_and_nothing_is_rendered(app, lendkit, tenants_dir, tmp_path):
    def change(data):
        data["site"]["currency"] = "USD"  # contradicts cn-2016
        data["lending"]["reserve_pays_investors"] = True  # forbidden by cn-2016
        data["lending"]["products"][0]["max_amount"] = 30_000_000  # above the CNY 200,000 cap for a person
        data["lending"]["products"][0]["annual_rate_min"] = "0.20"  # above the max
        data["lending"]["products"][1]["borrower_type"] = "person"
        data["lending"]["borrower_types"] = ["person"]
        data["lending"]["products"][1]["code"] = "consumer"  # duplicate code
        data["site"]["hosts"] = ["alpha.test"]  # another tenant's host
        data["providers"]["custody"]["name"] = "acme-bank"

    result = lendkit("tenant", "new", "--from", str(questionnaire(tmp_path, change)))
    assert result.exit_code == 1
    for expected in [
        "site.currency: cn-2016 applies to lending in CNY",
        "lending.reserve_pays_investors: cn-2016 forbids",
        "lending.products.0.max_amount: cn-2016 caps what a person may owe on one platform at CNY 200,000",
        "lending.products.0.annual_rate_min: is above annual_rate_max",
        "lending.products.1.code: product code 'consumer' is used twice",
        "site.hosts.0: alpha.test already serves tenant 'alpha'",
        "providers.custody.name: no provider named 'acme-bank'",
        "problem(s) to fix",
    ]:
        assert expected in result.output, result.output
    assert not (tenants_dir / "acme-credit").exists()


def test_missing_and_malformed_answers_are_listed(lendkit, tenants_dir, tmp_path):
    def change(data):
        del data["client"]["legal_name"]
        data["brand"]["primary_color"] = "green"
        data["lending"]["products"][0]["annual_rate_max"] = 0.15  # a float rate
        data["lending"]["products"][0]["repayment_methods"] = ["balloon"]

    result = lendkit("tenant", "new", "--from", str(questionnaire(tmp_path, change)))
    assert result.exit_code == 1
    assert "client.legal_name: Missing data for required field." in result.output
    assert "brand.primary_color: must be a colour" in result.output
    assert "annual_rate_max: write rates as quoted decimals" in result.output
    assert "repayment_methods.0: Must be one of" in result.output


def test_an_existing_tenant_is_never_overwritten(lendkit, tenants_dir, tmp_path):
    def change(data):
        data["client"]["slug"] = "alpha"

    result = lendkit("tenant", "new", "--from", str(questionnaire(tmp_path, change)))
    assert result.exit_code == 1 and "tenant folder tenants/alpha already exists" in result.output
    assert "Alpha Lending" in (tenants_dir / "alpha" / "tenant.yaml").read_text()


def test_every_template_file_is_rendered(app, lendkit, tenants_dir, tmp_path):
    assert lendkit("tenant", "new", "--from", str(questionnaire(tmp_path))).exit_code == 0
    for path in (tenants_dir / "acme-credit").rglob("*"):
        if path.is_file() and path.suffix != ".mo":
            assert "cookiecutter." not in path.read_text(encoding="utf-8"), f"{path.name} was copied, not rendered"


@pytest.mark.parametrize("family", ["sms", "custody", "credit_bureau"])
def test_a_provider_plugin_is_scaffolded_with_tests_that_pass(lendkit, tmp_path, family):
    import os
    import subprocess
    import sys

    result = lendkit("plugin", "new", "--family", family, "--name", "acme-gw", "--title", 'ACME "Gateway" 网关', "--output", str(tmp_path))
    assert result.exit_code == 0, result.output
    root = tmp_path / "lendkit-acme-gw"
    paths = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert paths == {
        "pyproject.toml", "setup.cfg", "README.md",
        "lendkit_acme_gw/__init__.py", "lendkit_acme_gw/provider.py", "tests/test_provider.py",
    }
    assert "lendkit_acme_gw = lendkit_acme_gw" in (root / "setup.cfg").read_text()
    env = dict(os.environ, PYTHONPATH=str(root))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 passed" in run.stdout


def test_a_plugin_name_is_checked(lendkit, tmp_path):
    result = lendkit("plugin", "new", "--family", "sms", "--name", "Bad Name", "--output", str(tmp_path))
    assert result.exit_code == 1 and "lower-case letters" in result.output


def test_the_new_demo_has_listings_and_a_failed_seed_leaves_no_half_tenant(app, lendkit, tenants_dir, tmp_path, monkeypatch):
    from core.delivery import demo
    from core.tenancy.models import Tenant

    def broken(tenant):
        raise RuntimeError("the sandbox bank is full")

    monkeypatch.setattr(demo, "seed_demo", broken)
    result = lendkit("tenant", "new", "--from", str(questionnaire(tmp_path)))
    assert result.exit_code == 1 and "the sandbox bank is full" in result.output
    assert Tenant.by_slug("acme-credit") is None and not (tenants_dir / "acme-credit").exists()
    monkeypatch.undo()
    result = lendkit("tenant", "new", "--from", str(questionnaire(tmp_path)))
    assert result.exit_code == 0, result.output
    listings = HostClient(app, "anxin.example").get("/loans").get_data(as_text=True)
    assert listings.count('href="/loans/') >= 2  # one demo listing per product of the example
