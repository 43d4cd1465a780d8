"""A signed-in borrower sees their grade, limit, available limit and rate band (page and API)."""
import io

from testbed import PNG


def borrower(kit, client, tenant, mobile, id_number, reviewer="13900000009"):
    kit.register(client, mobile, roles=("borrower",))
    token = kit.token(client, mobile)
    photos = {k: (io.BytesIO(PNG), f"{k}.png") for k in ("id_front", "id_back", "id_holding")}
    submitted = client.post("/api/v1/me/kyc/person", data={"real_name": "张三", "id_number": id_number, **photos},
                            headers=kit.bearer(token), content_type="multipart/form-data")
    assert submitted.status_code == 201, submitted.json
    staff = kit.staff_token(client, tenant, reviewer, roles=("reviewer",))
    assert client.post(f"/api/v1/staff/kyc/{submitted.json['id']}/approve", headers=kit.bearer(staff)).status_code == 200
    return token


def test_a_verified_borrower_is_graded_on_first_look(kit, client_a, tenant_a):
    token = borrower(kit, client_a, tenant_a, "13800000101", "110101199003079016")  # sandbox: AAA
    response = client_a.get("/api/v1/me/credit", headers=kit.bearer(token))
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "graded" and body["grade"] == "AAA"
    assert body["owed"] == {"amount": 0, "currency": body["limit"]["currency"]}
    assert body["available"]["amount"] <= body["limit"]["amount"]
    kit.web_login(client_a, "13800000101")
    page = client_a.get("/credit").get_data(as_text=True)
    assert "AAA" in page


def test_an_unverified_user_is_told_to_verify_first(kit, client_a):
    kit.register(client_a, "13800000102", roles=("borrower",))
    token = kit.token(client_a, "13800000102")
    response = client_a.get("/api/v1/me/credit", headers=kit.bearer(token))
    assert response.status_code == 409 and "Verify your identity" in response.json["message"]


def test_an_investor_without_the_borrower_role_is_refused_and_visitors_sign_in(kit, client_a):
    kit.register(client_a, "13800000103", roles=("investor",))
    token = kit.token(client_a, "13800000103")
    assert client_a.get("/api/v1/me/credit", headers=kit.bearer(token)).status_code == 403
    assert client_a.get("/api/v1/me/credit").status_code == 401


def test_a_token_of_alpha_means_nothing_at_beta(kit, client_a, client_b, tenant_a):
    token = borrower(kit, client_a, tenant_a, "13800000104", "110101199003079024")
    assert client_b.get("/api/v1/me/credit", headers=kit.bearer(token)).status_code == 401
