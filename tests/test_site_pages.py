"""Pages: each tenant's site is its own, an unknown host is a 404, cross-tenant pages are 404s."""
from core.extensions import db
from core.notices.models import Notice
from core.tenancy import tenant_context


def test_each_tenant_serves_its_own_branded_home(client_a, client_b):
    a = client_a.get("/").get_data(as_text=True)
    b = client_b.get("/").get_data(as_text=True)
    assert "Alpha Lending" in a and "--brand-primary: #112233" in a and "Alpha tagline" in a
    assert "Beta Credit" in b and "--brand-primary: #aa0000" in b
    assert "Beta Credit" not in a and "Alpha Lending" not in b


def test_a_tenant_on_another_theme_gets_that_themes_templates(client_a, client_b):
    assert "harbor-hero" in client_b.get("/").get_data(as_text=True)
    assert "harbor-hero" not in client_a.get("/").get_data(as_text=True)
    assert client_b.get("/_static/css/harbor.css").status_code == 200
    assert client_a.get("/_static/css/harbor.css").status_code == 404


def test_an_unknown_host_gets_404_and_no_tenant(app):
    response = app.test_client().get("/", headers={"Host": "unknown.example"})
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "No lending site is served at this address." in page
    assert "Alpha" not in page and "Beta" not in page


def test_health_answers_on_any_host(app):
    response = app.test_client().get("/healthz", headers={"Host": "unknown.example"})
    assert response.status_code == 200 and response.json == {"status": "ok", "database": "ok"}


def test_health_without_a_database_answers_503_with_the_api_error_body(app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", down)
    response = app.test_client().get("/healthz", headers={"Host": "unknown.example"})
    assert response.status_code == 503
    assert set(response.json) == {"code", "status", "message", "errors"} and response.json["code"] == 503
    assert response.json["errors"] == {"database": ["OperationalError"]}


def test_a_notice_page_of_another_tenant_is_not_found(client_a, client_b, tenant_a):
    with tenant_context(tenant_a):
        notice = Notice(key="k", title="Alpha only notice", body="Secret of alpha")
        db.session.add(notice)
        db.session.commit()
        notice_id = notice.id
    assert client_a.get(f"/notices/{notice_id}").status_code == 200
    assert client_b.get(f"/notices/{notice_id}").status_code == 404
    assert "Alpha only notice" not in client_b.get("/notices").get_data(as_text=True)
    assert "Alpha only notice" in client_a.get("/notices").get_data(as_text=True)


def test_the_locale_is_the_tenants_default_until_the_visitor_chooses(client_a, client_b):
    assert '<html lang="en">' in client_a.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in client_b.get("/").get_data(as_text=True)
    response = client_a.get("/locale/zh_CN", headers={"Referer": "http://alpha.test/notices"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/notices")
    page = client_a.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "阿尔法标语" in page and "通知公告" in page


def test_a_locale_the_tenant_does_not_offer_is_ignored(client_b):
    client_b.get("/locale/en")  # beta offers zh_CN only
    assert '<html lang="zh-CN">' in client_b.get("/").get_data(as_text=True)


def test_the_locale_switch_never_redirects_off_site(client_a):
    response = client_a.get("/locale/en", headers={"Referer": "http://evil.example/"})
    assert response.headers["Location"] in ("/", "http://alpha.test/")


def test_pages_send_basic_security_headers(client_a):
    headers = client_a.get("/").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
