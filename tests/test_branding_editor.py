"""The branding editor page: tenant admins only, every problem on the page, versions and rollback."""
import io

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def form(**changes):
    values = {
        "name": "Alpha Lending", "default_locale": "en",
        "primary_color": "#112233", "accent_color": "#445566", "background_color": "#f6f7f9", "text_color": "#1d2430",
        "font_family": "system-ui, sans-serif", "hero_title_en": "Alpha headline", "tagline_en": "Alpha tagline",
        "note": "",
    }
    values.update(changes)
    return values


def admin(kit, client, tenant, mobile="13900000001", roles=("tenant_admin",)):
    secret = kit.staff(tenant, mobile, roles=roles)
    response = kit.web_login(client, mobile, totp_secret=secret)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def test_only_a_tenant_admin_may_open_the_editor(kit, client_a, tenant_a):
    assert client_a.get("/staff/settings/branding").status_code == 302  # to sign-in
    admin(kit, client_a, tenant_a, roles=("reviewer",))
    assert client_a.get("/staff/settings/branding").status_code == 403


def test_saving_changes_the_site_and_lists_the_version(kit, client_a, tenant_a):
    admin(kit, client_a, tenant_a)
    page = client_a.get("/staff/settings/branding").get_data(as_text=True)
    assert 'id="preview"' in page and "No changes yet" in page
    response = client_a.post("/staff/settings/branding", data=form(primary_color="#0a7f5a", name="Alpha Green", note="spring look"))
    assert response.status_code == 302
    home = client_a.get("/").get_data(as_text=True)
    assert "--brand-primary: #0a7f5a" in home and "Alpha Green" in home
    page = client_a.get("/staff/settings/branding").get_data(as_text=True)
    assert "#1" in page and "spring look" in page


def test_bad_values_are_shown_on_the_page_and_nothing_is_saved(kit, client_a, tenant_a):
    admin(kit, client_a, tenant_a)
    response = client_a.post("/staff/settings/branding", data=form(primary_color="green", name=""))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "must be a colour like #1a2b3c" in page and "site name is required" in page
    assert "--brand-primary: #112233" in client_a.get("/").get_data(as_text=True)


def test_a_logo_upload_and_a_rollback(kit, client_a, client_b, tenant_a):
    admin(kit, client_a, tenant_a)
    data = form()
    data["logo"] = (io.BytesIO(PNG), "logo.png")
    assert client_a.post("/staff/settings/branding", data=data, content_type="multipart/form-data").status_code == 302
    assert "/_brand/upload/" in client_a.get("/").get_data(as_text=True)
    client_a.post("/staff/settings/branding", data=form(primary_color="#000000"))
    assert client_a.post("/staff/settings/branding/rollback/1").status_code == 302
    home = client_a.get("/").get_data(as_text=True)
    assert "--brand-primary: #112233" in home and "/_brand/upload/" in home
    assert client_a.post("/staff/settings/branding/rollback/42").status_code == 404


def test_staff_of_one_tenant_cannot_edit_another(kit, client_a, client_b, tenant_a):
    admin(kit, client_a, tenant_a)
    assert client_b.get("/staff/settings/branding").status_code == 302  # not signed in at beta
    client_b.post("/staff/settings/branding", data=form(primary_color="#000000"))
    assert "--brand-primary: #aa0000" in client_b.get("/").get_data(as_text=True)
