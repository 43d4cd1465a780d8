"""Versioned branding from the admin console: validated, applied at once, kept over tenant.yaml, rolled back."""
import pytest

from core.configuration import service
from core.configuration.models import ConfigVersion
from core.extensions import db
from core.tenancy import tenant_context
from core.tenancy.sync import sync_tenants

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def branding(tenant, **changes):
    value = dict(tenant.branding)
    value.update(changes)
    return value


def site(tenant, **changes):
    value = {"name": tenant.name, "default_locale": tenant.default_locale}
    value.update(changes)
    return value


def test_a_saved_version_is_in_force_at_once(tenant_a, client_a):
    with tenant_context(tenant_a):
        version = service.save_branding(tenant_a, branding(tenant_a, primary_color="#123456"), site(tenant_a, name="Alpha Prime"), actor="user:1")
        assert version.number == 1
    page = client_a.get("/").get_data(as_text=True)
    assert "--brand-primary: #123456" in page and "Alpha Prime" in page


def test_invalid_values_are_refused_field_by_field_and_nothing_changes(tenant_a):
    with tenant_context(tenant_a):
        with pytest.raises(service.ConfigurationError) as info:
            service.save_branding(tenant_a, branding(tenant_a, primary_color="blue", font_family="x;}"), site(tenant_a, name="", default_locale="fr"), actor="user:1")
        assert db.session.query(ConfigVersion).count() == 0
    problems = info.value.problems
    assert set(problems) == {"branding.primary_color", "branding.font_family", "name", "default_locale"}
    assert tenant_a.branding["primary_color"] == "#112233"


def test_tenant_sync_keeps_the_consoles_versions_on_top_of_the_file(app, tenant_a):
    with tenant_context(tenant_a):
        service.save_branding(tenant_a, branding(tenant_a, accent_color="#abcdef"), site(tenant_a), actor="user:1")
    tenant_a.config_digest = "force a reload"
    db.session.commit()
    assert [r.action for r in sync_tenants() if r.slug == "alpha"] == ["updated"]
    assert tenant_a.branding["accent_color"] == "#abcdef"
    assert tenant_a.file_config["branding"]["accent_color"] == "#445566"


def test_a_save_builds_on_the_file_config_as_stored_now_not_as_this_session_last_read_it(app, tenant_a):
    """Another process loaded a new tenant.yaml after this session read the tenant (kept across commits):
    a console save merges its version over the new file config, not over the one this session held."""
    import copy

    from sqlalchemy import update

    from core.tenancy.models import Tenant

    newer = copy.deepcopy(tenant_a.file_config)
    held = tenant_a.file_config["company"]
    newer["company"] = dict(held, name="Alpha Lending Renamed Ltd.")
    with db.engine.begin() as other:  # another connection, as another process would
        other.execute(update(Tenant.__table__).where(Tenant.__table__.c.id == tenant_a.id).values(file_config=newer))
    assert tenant_a.file_config["company"] == held  # what this session still holds
    with tenant_context(tenant_a):
        service.save_branding(tenant_a, branding(tenant_a, primary_color="#123456"), site(tenant_a), actor="user:1")
    assert tenant_a.branding["primary_color"] == "#123456"
    assert tenant_a.config["company"]["name"] == "Alpha Lending Renamed Ltd."


def test_rollback_restores_an_old_version_as_a_new_one(tenant_a):
    with tenant_context(tenant_a):
        service.save_branding(tenant_a, branding(tenant_a, primary_color="#111111"), site(tenant_a), actor="user:1")
        service.save_branding(tenant_a, branding(tenant_a, primary_color="#222222"), site(tenant_a), actor="user:2")
        restored = service.rollback(tenant_a, "branding", 1, actor="user:3")
        assert restored.number == 3 and restored.action == "rollback"
        assert [v.number for v in service.history(tenant_a, "branding")] == [3, 2, 1]
        with pytest.raises(service.ConfigurationError):
            service.rollback(tenant_a, "branding", 99, actor="user:3")
    assert tenant_a.branding["primary_color"] == "#111111"


def test_an_uploaded_logo_is_served_from_the_database_to_its_tenant_only(tenant_a, client_a, client_b):
    with tenant_context(tenant_a):
        name = service.store_logo(tenant_a, PNG)
        service.save_branding(tenant_a, branding(tenant_a, logo=name), site(tenant_a), actor="user:1")
    assert name.startswith("upload/") and name.endswith(".png")
    response = client_a.get(f"/_brand/{name}")
    assert response.status_code == 200 and response.data == PNG and response.mimetype == "image/png"
    assert client_b.get(f"/_brand/{name}").status_code == 404
    assert f'src="/_brand/{name}"' in client_a.get("/").get_data(as_text=True)


def test_logos_must_be_small_png_or_jpeg_and_belong_to_the_tenant(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        with pytest.raises(service.ConfigurationError, match="PNG or JPEG"):
            service.store_logo(tenant_a, b"<svg onload=alert(1)>")
        with pytest.raises(service.ConfigurationError, match="512 KB"):
            service.store_logo(tenant_a, PNG + b"0" * 600_000)
        name = service.store_logo(tenant_a, PNG)
    with tenant_context(tenant_b):
        with pytest.raises(service.ConfigurationError) as info:
            service.save_branding(tenant_b, branding(tenant_b, logo=name), site(tenant_b), actor="user:1")
    assert "branding.logo" in info.value.problems


def test_versions_of_one_tenant_do_not_touch_another(tenant_a, tenant_b, client_b):
    with tenant_context(tenant_a):
        service.save_branding(tenant_a, branding(tenant_a, primary_color="#000001"), site(tenant_a), actor="user:1")
    with tenant_context(tenant_b):
        assert db.session.query(ConfigVersion).count() == 0
    assert "--brand-primary: #aa0000" in client_b.get("/").get_data(as_text=True)
