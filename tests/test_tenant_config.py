"""tenant.yaml: validated, with each problem naming the file, the field and what is wrong."""
import shutil
from pathlib import Path

import pytest
import yaml

from core.config import ConfigError, load_config
from core.tenancy.config import TenantConfigError, load_tenant_folder
from core.plugins import provider_registry

from testbed import TEST_TENANTS

DEMO_TENANTS = Path(__file__).parent.parent / "tenants"


def tenant_copy(tmp_path, change=None, slug="alpha"):
    folder = tmp_path / slug
    shutil.copytree(TEST_TENANTS / "alpha", folder)
    data = yaml.safe_load((folder / "tenant.yaml").read_text())
    data["slug"] = slug
    if change:
        change(data)
    (folder / "tenant.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    return folder


def problems_of(folder):
    with pytest.raises(TenantConfigError) as info:
        load_tenant_folder(folder, provider_registry())
    return info.value


@pytest.mark.parametrize("folder", sorted(DEMO_TENANTS.iterdir()), ids=lambda p: p.name)
def test_the_shipped_tenants_are_valid(folder):
    loaded = load_tenant_folder(folder, provider_registry())
    assert loaded.config["slug"] == folder.name


def test_a_valid_file_loads_with_defaults(tmp_path):
    loaded = load_tenant_folder(tenant_copy(tmp_path), provider_registry())
    assert loaded.config["theme"] == "default"
    assert loaded.config["branding"]["font_family"] == "system-ui, sans-serif"
    assert len(loaded.digest) == 64


@pytest.mark.parametrize(
    "change, field, words",
    [
        (lambda d: d["branding"].update(primary_color="red"), "branding.primary_color", "colour"),
        (lambda d: d.update(currency="XYZ"), "currency", "ISO 4217"),
        (lambda d: d.update(default_locale="fr"), "default_locale", "must be one of"),
        (lambda d: d.update(hosts=[]), "hosts", "at least one host"),
        (lambda d: d.update(hosts=["bad host!"]), "hosts.0", "not a valid host name"),
        (lambda d: d.update(colour="blue"), "colour", "Unknown field"),
        (lambda d: d.pop("name"), "name", "required"),
        (lambda d: d.update(slug="other"), "slug", "folder name"),
        (lambda d: d["branding"].update(logo="static/missing.svg"), "branding.logo", "not found"),
        (lambda d: d["branding"].update(font_family="x; } body { display:none"), "branding.font_family", "font names"),
        (lambda d: d.update(timezone="Mars/Olympus"), "timezone", "unknown time zone"),
        (lambda d: d.update(locales=["zh_CN"]), "locales", "default_locale"),
        (lambda d: d["providers"]["custody"].update(name="nobank"), "providers.custody.name", "no custody bank named 'nobank'"),
        (lambda d: d["providers"]["credit_bureau"].update(settings={"outage": "maybe"}), "providers.credit_bureau.settings.outage", "boolean"),
    ],
)
def test_each_problem_names_the_field(tmp_path, change, field, words):
    error = problems_of(tenant_copy(tmp_path, change))
    assert field in error.problems, error.problems
    assert words.lower() in error.problems[field].lower()
    line = str(error)
    assert "\n" not in line and "tenant.yaml" in line and field in line


def test_broken_yaml_names_the_line(tmp_path):
    folder = tenant_copy(tmp_path)
    (folder / "tenant.yaml").write_text("slug: alpha\nname: [unclosed\n")
    error = problems_of(folder)
    assert "not valid YAML" in str(error) and "line" in str(error)


def test_production_refuses_to_start_without_a_real_secret_key():
    with pytest.raises(ConfigError, match="LENDKIT_SECRET_KEY"):
        load_config({"LENDKIT_ENV": "production"}, environ={})
    with pytest.raises(ConfigError, match="too short"):
        load_config({"LENDKIT_ENV": "production"}, environ={"LENDKIT_SECRET_KEY": "short"})
    keys = {"LENDKIT_SECRET_KEY": "s" * 40, "LENDKIT_DATA_KEY": "d" * 40, "LENDKIT_CONTRACT_KEY": "c" * 40}
    for missing in ("LENDKIT_DATA_KEY", "LENDKIT_CONTRACT_KEY"):
        with pytest.raises(ConfigError, match=missing):
            load_config({"LENDKIT_ENV": "production"}, environ={k: v for k, v in keys.items() if k != missing})
    config = load_config({"LENDKIT_ENV": "production"}, environ=keys)
    assert config["SESSION_COOKIE_SECURE"] is True and config["LENDKIT_LOCALHOST_HOSTS"] is False


def test_development_defaults_to_an_embedded_database_under_instance():
    config = load_config({}, environ={})
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["SQLALCHEMY_DATABASE_URI"].endswith("instance/lendkit.db")


def test_a_theme_no_plugin_registers_is_refused(app, tmp_path):
    error = problems_of(tenant_copy(tmp_path, lambda d: d.update(theme="nosuch")))
    assert "no theme named 'nosuch'" in error.problems["theme"]
    assert "harbor" in error.problems["theme"] and "\n" not in str(error)
    assert load_tenant_folder(tenant_copy(tmp_path, lambda d: d.update(theme="harbor"), slug="beta2"), provider_registry())
