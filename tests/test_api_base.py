"""API base: OpenAPI document, one error body, tenant isolation through the API."""
from core.extensions import db
from core.notices.models import Notice
from core.tenancy import tenant_context


def _notice(tenant, key, kind="announcement"):
    with tenant_context(tenant):
        notice = Notice(key=key, title=f"T {key}", body="B", kind=kind)
        db.session.add(notice)
        db.session.commit()
        return notice.id


def test_the_openapi_document_describes_the_api(client_a):
    doc = client_a.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/notices" in doc["paths"] and "/api/v1/notices/{notice_id}" in doc["paths"]


def test_every_api_error_has_the_same_body(client_a):
    missing = client_a.get("/api/v1/notices/12345")
    assert missing.status_code == 404
    assert missing.json == {"code": 404, "status": "Not Found", "message": "No notice 12345."}
    no_route = client_a.get("/api/v1/nothing-here")
    assert no_route.status_code == 404 and set(no_route.json) == {"code", "status", "message"}
    bad = client_a.get("/api/v1/notices?kind=gossip")
    assert bad.status_code == 422 and bad.json["errors"] == {"kind": ["must be one of announcement, disclosure"]}
    bad_page = client_a.get("/api/v1/notices?page=0")
    assert bad_page.status_code == 422 and "errors" in bad_page.json


def test_an_unknown_host_gets_a_json_404_on_the_api(app):
    response = app.test_client().get("/api/v1/notices", headers={"Host": "nobody.example"})
    assert response.status_code == 404 and response.json["code"] == 404


def test_notices_are_listed_per_tenant_with_pagination(client_a, client_b, tenant_a, tenant_b):
    for i in range(3):
        _notice(tenant_a, f"a{i}")
    _notice(tenant_b, "b0", kind="disclosure")
    listed = client_a.get("/api/v1/notices?page_size=2")
    assert [n["title"] for n in listed.json] == ["T a2", "T a1"]
    assert '"total": 3' in listed.headers["X-Pagination"]
    listed_b = client_b.get("/api/v1/notices")
    assert [n["title"] for n in listed_b.json] == ["T b0"]
    assert '"total": 1' in listed_b.headers["X-Pagination"]  # counted per tenant, not across them
    assert client_a.get("/api/v1/notices?kind=disclosure").json == []


def test_another_tenants_notice_is_not_found_through_the_api(client_a, client_b, tenant_a):
    notice_id = _notice(tenant_a, "a")
    assert client_a.get(f"/api/v1/notices/{notice_id}").status_code == 200
    assert client_b.get(f"/api/v1/notices/{notice_id}").status_code == 404
