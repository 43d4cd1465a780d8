"""KYC: people (bureau check, photos encrypted on disk) and enterprises, then staff review; every refusal says why."""
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.accounts.models import KycApplication, KycDocument
from core.audit.models import AuditRecord
from core.extensions import db
from core.tenancy import tenant_context

MOBILE = "13800138000"


def _applications(tenant):
    with tenant_context(tenant):
        return db.session.scalar(select(func.count(KycApplication.id)))


def _files(app):
    folder = Path(app.instance_path) / "kyc"
    return sorted(p for p in folder.rglob("*.bin")) if folder.exists() else []


def _photos(**override):
    photos = {k: (io.BytesIO(b"\x89PNG\r\n\x1a\n" + bytes(300)), f"{k}.png") for k in ("id_front", "id_back", "id_holding")}
    photos.update(override)
    return photos


@pytest.fixture
def user_token(client_a, kit):
    kit.register(client_a, MOBILE)
    return kit.token(client_a, MOBILE)


def test_a_person_submits_name_number_and_photos_and_waits_for_review(client_a, tenant_a, kit, user_token, app):
    response = kit.person_kyc(client_a, user_token, id_number=kit.resident_id())
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "pending" and body["bureau_result"] == "matched"
    assert body["name"] == "张*" and body["id_number"] == "1101**********" + kit.resident_id()[-4:]
    assert [d["kind"] for d in body["documents"]] == ["id_front", "id_back", "id_holding"]
    assert client_a.get("/api/v1/me/kyc", headers=kit.bearer(user_token)).json["status"] == "pending"
    files = _files(app)
    assert len(files) == 3 and all(not f.read_bytes().startswith(b"\x89PNG") for f in files)  # sealed on disk
    again = kit.person_kyc(client_a, user_token)
    assert again.status_code == 409 and "waiting for review" in again.json["message"]


@pytest.mark.parametrize("id_number, field, words", [
    ("11010519900307001", "id_number", "18 characters"),
    ("110105199003070010", "id_number", "not valid"),
    ("000000199003070010", "id_number", "region code"),
])
def test_a_bad_identity_number_is_refused_and_nothing_is_stored(client_a, tenant_a, kit, user_token, app, id_number, field, words):
    response = kit.person_kyc(client_a, user_token, id_number=id_number)
    assert response.status_code == 422 and words in response.json["errors"][field][0]
    assert _applications(tenant_a) == 0 and _files(app) == []


def test_a_minor_is_refused(client_a, tenant_a, kit, user_token):
    from datetime import date

    year = date.today().year - 10
    response = kit.person_kyc(client_a, user_token, id_number=kit.resident_id(f"110105{year}0101001"))
    assert response.status_code == 422 and "18 years" in response.json["message"]


def test_the_bureau_refusal_says_why(client_a, tenant_a, kit, user_token, app):
    not_found = kit.person_kyc(client_a, user_token, id_number=kit.resident_id("11010519900307999"))
    assert not_found.status_code == 422 and "not found" in not_found.json["errors"]["id_number"][0]
    mismatch = kit.person_kyc(client_a, user_token, id_number=kit.resident_id("11010519900307998"))
    assert mismatch.status_code == 422 and "does not match" in mismatch.json["errors"]["real_name"][0]
    assert _applications(tenant_a) == 0 and _files(app) == []


def test_a_bureau_outage_means_try_later_never_a_silent_pass(client_a, tenant_a, kit, user_token, app):
    config = dict(tenant_a.config)
    config["providers"] = {**config["providers"], "credit_bureau": {"name": "sandbox", "settings": {"outage": True}}}
    tenant_a.config = config
    db.session.commit()
    response = kit.person_kyc(client_a, user_token)
    assert response.status_code == 503 and "try again later" in response.json["message"]
    assert _applications(tenant_a) == 0 and _files(app) == []
    with tenant_context(tenant_a):
        assert "kyc.bureau_unavailable" in db.session.scalars(select(AuditRecord.event)).all()


@pytest.mark.parametrize("name, content, filename, words", [
    ("id_front", b"GIF89a" + bytes(300), "x.gif", "JPEG or PNG"),
    ("id_back", b"%PDF-1.4" + bytes(300), "x.png", "JPEG or PNG"),
    ("id_holding", b"\xff\xd8\xff", "x.jpg", "too small"),
])
def test_photos_are_checked_by_content_and_size(client_a, tenant_a, kit, user_token, app, name, content, filename, words):
    response = kit.person_kyc(client_a, user_token, photos=_photos(**{name: (io.BytesIO(content), filename)}))
    assert response.status_code == 422 and words in response.json["errors"][name][0]
    assert _applications(tenant_a) == 0 and _files(app) == []


def test_a_missing_or_too_large_photo_is_refused(make_app, client_a, kit, user_token, app):
    photos = _photos()
    del photos["id_back"]
    missing = kit.person_kyc(client_a, user_token, photos=photos)
    assert missing.status_code == 422 and "choose a photo" in missing.json["errors"]["id_back"][0]
    app.config["ACCOUNTS_MAX_UPLOAD_BYTES"] = 1024 * 1024
    big = kit.person_kyc(client_a, user_token, photos=_photos(id_front=(io.BytesIO(b"\xff\xd8\xff" + bytes(1024 * 1024)), "big.jpg")))
    assert big.status_code == 422 and "larger than 1 MB" in big.json["errors"]["id_front"][0]


def test_one_identity_number_one_account(client_a, tenant_a, kit, user_token):
    assert kit.person_kyc(client_a, user_token).status_code == 201
    kit.register(client_a, "13900139000")
    other = kit.token(client_a, "13900139000")
    response = kit.person_kyc(client_a, other)
    assert response.status_code == 409 and "another account" in response.json["message"]


def test_a_reviewer_approves_or_rejects_with_a_reason_the_user_sees(client_a, tenant_a, kit, user_token):
    application = kit.person_kyc(client_a, user_token).json
    reviewer = kit.staff_token(client_a, tenant_a, "13900000009", roles=("reviewer",))
    queue = client_a.get("/api/v1/staff/kyc", headers=kit.bearer(reviewer)).json
    assert [a["id"] for a in queue] == [application["id"]] and queue[0]["name"] == "张*"
    no_reason = client_a.post(f"/api/v1/staff/kyc/{application['id']}/reject", json={"reason": ""}, headers=kit.bearer(reviewer))
    assert no_reason.status_code == 422 and "why" in no_reason.json["message"]
    rejected = client_a.post(f"/api/v1/staff/kyc/{application['id']}/reject", json={"reason": "The back photo is blurred."}, headers=kit.bearer(reviewer))
    assert rejected.status_code == 200 and rejected.json["status"] == "rejected"
    mine = client_a.get("/api/v1/me/kyc", headers=kit.bearer(user_token)).json
    assert mine["status"] == "rejected" and mine["application"]["reject_reason"] == "The back photo is blurred."
    decided = client_a.post(f"/api/v1/staff/kyc/{application['id']}/approve", headers=kit.bearer(reviewer))
    assert decided.status_code == 409
    second = kit.person_kyc(client_a, user_token)
    assert second.status_code == 201  # a rejected applicant may try again
    approved = client_a.post(f"/api/v1/staff/kyc/{second.json['id']}/approve", headers=kit.bearer(reviewer))
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    assert client_a.get("/api/v1/me", headers=kit.bearer(user_token)).json["kyc_status"] == "approved"
    with tenant_context(tenant_a):
        events = db.session.scalars(select(AuditRecord.event)).all()
    assert {"kyc.submitted", "kyc.rejected", "kyc.approved"} <= set(events)


def test_an_enterprise_verifies_with_its_credit_code_and_licence(client_a, tenant_a, kit, app):
    kit.register(client_a, "13700137000", kind="enterprise", roles=("borrower",))
    token = kit.token(client_a, "13700137000")
    data = {"company_name": "厦门示例科技有限公司", "uscc": kit.uscc(), "legal_representative": "李四",
            "business_licence": (io.BytesIO(kit.JPEG), "licence.jpg")}
    response = client_a.post("/api/v1/me/kyc/enterprise", data=data, headers=kit.bearer(token), content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    assert response.json["uscc"].startswith("91") and "*" in response.json["uscc"] and response.json["name"] == "李*"
    person = kit.person_kyc(client_a, token)
    assert person.status_code == 409  # an enterprise account verifies a company, not a person


def test_bad_enterprise_input_is_refused(client_a, tenant_a, kit):
    kit.register(client_a, "13700137000", kind="enterprise")
    token = kit.token(client_a, "13700137000")
    base = {"company_name": "厦门示例科技有限公司", "uscc": kit.uscc(), "legal_representative": "李四"}
    for change, field in [({"uscc": "91350100M000100Y40"}, "uscc"), ({"company_name": "x"}, "company_name"),
                          ({"legal_representative": "12"}, "legal_representative")]:
        data = {**base, **change, "business_licence": (io.BytesIO(kit.JPEG), "l.jpg")}
        response = client_a.post("/api/v1/me/kyc/enterprise", data=data, headers=kit.bearer(token), content_type="multipart/form-data")
        assert response.status_code == 422 and field in response.json["errors"], response.json
    no_file = client_a.post("/api/v1/me/kyc/enterprise", data=base, headers=kit.bearer(token), content_type="multipart/form-data")
    assert no_file.status_code == 422 and "business_licence" in no_file.json["errors"]
    assert _applications(tenant_a) == 0


def test_documents_are_served_decrypted_only_to_permitted_staff_and_audited(client_a, tenant_a, kit, user_token):
    application = kit.person_kyc(client_a, user_token).json
    url = f"/api/v1/staff/kyc/{application['id']}/documents/id_front"
    assert client_a.get(url, headers=kit.bearer(user_token)).status_code == 403
    support = kit.staff_token(client_a, tenant_a, "13900000008", roles=("support",))
    assert client_a.get(url, headers=kit.bearer(support)).status_code == 403
    reviewer = kit.staff_token(client_a, tenant_a, "13900000009", roles=("reviewer",))
    image = client_a.get(url, headers=kit.bearer(reviewer))
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG") and image.mimetype == "image/png"
    assert "no-store" in image.headers["Cache-Control"]
    with tenant_context(tenant_a):
        viewed = db.session.scalars(select(AuditRecord).where(AuditRecord.event == "pii.viewed")).all()
    assert viewed and '"document:id_front"' in viewed[-1].details


def test_a_file_moved_to_another_application_does_not_open(client_a, tenant_a, kit, user_token, app):
    from core.accounts.crypto import DecryptionFailed
    from core.accounts.documents import load

    kit.person_kyc(client_a, user_token)
    with tenant_context(tenant_a):
        first, second = db.session.scalars(select(KycDocument).order_by(KycDocument.id)).all()[:2]
        folder = Path(app.instance_path) / "kyc" / "alpha"
        (folder / f"{second.storage_name}.bin").write_bytes((folder / f"{first.storage_name}.bin").read_bytes())
        with pytest.raises(DecryptionFailed):
            load(tenant_a, second.storage_name)


def test_staff_of_beta_see_nothing_of_alphas_applications(client_a, client_b, tenant_a, tenant_b, kit, user_token):
    application = kit.person_kyc(client_a, user_token).json
    beta_reviewer = kit.staff_token(client_b, tenant_b, "13900000009", roles=("reviewer",))
    assert client_b.get("/api/v1/staff/kyc", headers=kit.bearer(beta_reviewer)).json == []
    for path in (f"/api/v1/staff/kyc/{application['id']}", f"/api/v1/staff/kyc/{application['id']}/documents/id_front"):
        assert client_b.get(path, headers=kit.bearer(beta_reviewer)).status_code == 404
    assert client_b.post(f"/api/v1/staff/kyc/{application['id']}/approve", headers=kit.bearer(beta_reviewer)).status_code == 404
    assert _applications(tenant_a) == 1


def test_the_kyc_pages_submit_and_show_refusals(client_a, tenant_a, kit):
    kit.register(client_a, MOBILE)
    kit.web_login(client_a, MOBILE)
    page = client_a.get("/accounts/kyc/person").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'name="id_holding"' in page
    bad = client_a.post("/accounts/kyc/person", data={"real_name": "张三", "id_number": "123", **_photos()}, content_type="multipart/form-data")
    assert bad.status_code == 200 and "18 characters" in bad.get_data(as_text=True)
    good = client_a.post("/accounts/kyc/person", data={"real_name": "张三", "id_number": kit.resident_id(), **_photos()}, content_type="multipart/form-data")
    assert good.status_code == 302
    status = client_a.get("/accounts/kyc").get_data(as_text=True)
    assert "Waiting for review" in status and "张*" in status and kit.resident_id() not in status


def test_the_review_queue_page_approves(client_a, tenant_a, kit, user_token):
    application = kit.person_kyc(client_a, user_token).json
    secret = kit.staff(tenant_a, "13900000009", roles=("reviewer",))
    from testbed import HostClient

    staff = HostClient(client_a.application, "alpha.test")
    kit.web_login(staff, "13900000009", totp_secret=secret)
    queue = staff.get("/staff/kyc").get_data(as_text=True)
    assert f"/staff/kyc/{application['id']}" in queue and "张*" in queue
    detail = staff.get(f"/staff/kyc/{application['id']}").get_data(as_text=True)
    assert "documents/id_front" in detail and kit.resident_id() not in detail
    reject = staff.post(f"/staff/kyc/{application['id']}/reject", data={"reason": ""})
    assert reject.status_code == 200 and "why" in reject.get_data(as_text=True)
    assert staff.post(f"/staff/kyc/{application['id']}/approve").status_code == 302
    assert client_a.get("/api/v1/me/kyc", headers=kit.bearer(user_token)).json["status"] == "approved"
