"""Themes: tenant override → tenant's theme → default, with the tenant in the cache key."""
from flask import g, render_template_string


def render_for(app, tenant, source_name):
    with app.test_request_context("/"):
        g.tenant = tenant
        return app.jinja_env.get_template(source_name).render(tenant=tenant)


def test_a_tenant_override_folder_wins_over_the_theme(app, tenant_a, tenant_b, tmp_path):
    override = tmp_path / "tenants" / "alpha" / "templates"
    override.mkdir(parents=True)
    (override / "greeting.html").write_text("alpha's own greeting")
    default = app.extensions["lendkit_themes"]["default"] / "templates" / "greeting.html"
    default.write_text("default greeting")
    try:
        app.config["LENDKIT_TENANTS_DIR"] = str(tmp_path / "tenants")
        assert render_for(app, tenant_a, "greeting.html") == "alpha's own greeting"
        assert render_for(app, tenant_b, "greeting.html") == "default greeting"
        # and again, now from Jinja's cache: each tenant keeps its own entry
        assert render_for(app, tenant_b, "greeting.html") == "default greeting"
        assert render_for(app, tenant_a, "greeting.html") == "alpha's own greeting"
    finally:
        default.unlink()


def test_default_prefix_reaches_the_default_theme(app, tenant_b):
    harbor = render_for(app, tenant_b, "home.html".replace("home", "base"))
    assert "harbor.css" in harbor
    with app.test_request_context("/"):
        g.tenant = tenant_b
        source = app.jinja_env.loader.get_source(app.jinja_env, "default:base.html")[0]
    assert "harbor.css" not in source


def test_without_a_tenant_only_the_default_theme_is_searched(app):
    with app.test_request_context("/"):
        g.tenant = None
        assert "{% extends \"default:home.html\" %}" not in app.jinja_env.loader.get_source(app.jinja_env, "home.html")[0]


def test_brand_files_come_from_the_tenants_own_folder(client_a, client_b):
    assert client_a.get("/_brand/logo.svg").status_code == 200
    assert client_a.get("/_brand/../tenant.yaml").status_code == 404
    assert client_a.get("/_brand/missing.png").status_code == 404
