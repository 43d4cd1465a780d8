"""The loan products and lending rules editors of the tenant admin console.

Saved changes apply to the site at once; every problem is shown next to its
field and nothing is saved; the compliance pack's rules are named with their
figures; versions can be restored; only the right staff of the right tenant
may edit.
"""
from sqlalchemy import select

from core.audit.models import AuditRecord
from core.configuration import forms, service
from core.configuration.models import ConfigVersion
from core.extensions import db
from core.tenancy import tenant_context


def admin(kit, client, tenant, mobile="13900000001", roles=("tenant_admin",)):
    secret = kit.staff(tenant, mobile, roles=roles)
    response = kit.web_login(client, mobile, totp_secret=secret)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def products_form(tenant, note="", **changes):
    """The products form as the page shows it, with ``changes`` ({"0.max_amount": "80000"}) typed over it."""
    data = {}
    for index, product in enumerate(tenant.config["products"]):
        for key, value in forms.product_raw(product, tenant.currency).items():
            data[f"products.{index}.{key}"] = value
    for key, value in changes.items():
        data[f"products.{key}"] = value
    data.update(action="save", note=note)
    return data


def rules_form(tenant, **changes):
    raw = forms.rules_raw(service.section_value(tenant.config, "rules"), tenant.currency)
    data = {key: ("y" if value else None) if isinstance(value, bool) else value for key, value in raw.items()}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def versions(tenant, section):
    with tenant_context(tenant):
        return db.session.scalars(select(ConfigVersion.number).where(ConfigVersion.section == section)).all()


def consumer(tenant):
    return next(p for p in tenant.config["products"] if p["code"] == "consumer")


def use_cn_2016(tenant):
    """Put the tenant under the cn-2016 pack, as if its tenant.yaml said ``compliance: cn-2016``."""
    tenant.file_config = {**tenant.file_config, "compliance": "cn-2016"}
    tenant.config = {**tenant.config, "compliance": "cn-2016"}
    db.session.commit()


# ---------------------------------------------------------------- who may edit


def test_anonymous_visitors_are_sent_to_sign_in(client_a):
    for path in ("/staff/settings/products", "/staff/settings/rules"):
        response = client_a.get(path)
        assert response.status_code == 302 and "/accounts/login" in response.headers["Location"]
    assert client_a.post("/staff/settings/products/rollback/1").status_code == 302


def test_a_reviewer_cannot_edit_products_or_rules(kit, client_a, tenant_a):
    admin(kit, client_a, tenant_a, roles=("reviewer",))
    assert client_a.get("/staff/settings/products").status_code == 403
    assert client_a.post("/staff/settings/products", data=products_form(tenant_a, **{"0.max_amount": "80000"})).status_code == 403
    assert client_a.get("/staff/settings/rules").status_code == 403
    assert client_a.post("/staff/settings/rules/rollback/1").status_code == 403
    assert consumer(tenant_a)["max_amount"] == 5_000_000 and versions(tenant_a, "products") == []


def test_a_risk_officer_edits_the_rules_but_not_the_products(kit, client_a, tenant_a):
    admin(kit, client_a, tenant_a, roles=("risk_officer",))
    assert client_a.get("/staff/settings/products").status_code == 403
    page = client_a.get("/staff/settings/rules").get_data(as_text=True)
    assert "Lending rules" in page and 'href="/staff/settings/products"' not in page
    response = client_a.post("/staff/settings/rules", data=rules_form(tenant_a, **{"credit.grades.AAA.limit": "250000"}))
    assert response.status_code == 302
    assert tenant_a.config["credit"]["grades"]["AAA"]["limit"] == 25_000_000


# ---------------------------------------------------------------- products


def test_a_saved_product_change_is_on_the_site_at_once(kit, client_a, tenant_a):
    admin(kit, client_a, tenant_a)
    page = client_a.get("/staff/settings/products").get_data(as_text=True)
    assert 'name="products.0.max_amount" value="50000"' in page and 'name="products.1.code" value="sme"' in page
    assert 'name="products.0.annual_rate_max" value="18"' in page  # "0.18" shown as a percentage
    response = client_a.post("/staff/settings/products", data=products_form(
        tenant_a, note="bigger consumer loans", **{"0.max_amount": "80,000", "0.late_fee": "60.5", "0.annual_rate_max": "19.5"}))
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    product = consumer(tenant_a)
    assert product["max_amount"] == 8_000_000 and product["late_fee"] == 6_050 and product["annual_rate_max"] == "0.195"
    assert versions(tenant_a, "products") == [1]

    kit.register(client_a, "13800000077", roles=("borrower",))
    client_a.post("/accounts/logout")
    assert kit.web_login(client_a, "13800000077").status_code == 302
    apply_page = client_a.get("/loans/apply").get_data(as_text=True)
    assert "80,000.00" in apply_page and "19.50%" in apply_page


def test_saving_without_a_change_makes_no_version(kit, client_a, tenant_a):
    admin(kit, client_a, tenant_a)
    response = client_a.post("/staff/settings/products", data=products_form(tenant_a), follow_redirects=True)
    assert "Nothing changed, so no new version was made." in response.get_data(as_text=True)
    assert client_a.post("/staff/settings/rules", data=rules_form(tenant_a)).status_code == 302
    assert versions(tenant_a, "products") == [] and versions(tenant_a, "rules") == []


def test_a_change_saved_by_someone_else_meanwhile_is_not_overwritten(kit, client_a, tenant_a):
    admin(kit, client_a, tenant_a)
    assert 'name="base" value="0"' in client_a.get("/staff/settings/products").get_data(as_text=True)
    first = products_form(tenant_a, **{"0.max_amount": "60000"})
    first["base"] = "0"
    assert client_a.post("/staff/settings/products", data=first).status_code == 302
    late = products_form(tenant_a, **{"0.min_amount": "2000"})  # opened before version 1 was saved
    late["base"] = "0"
    response = client_a.post("/staff/settings/products", data=late)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Version 1 was saved by user:" in page and 'name="base" value="0"' in page
    assert consumer(tenant_a)["min_amount"] == 100_000 and versions(tenant_a, "products") == [1]


def test_products_are_added_and_removed(kit, client_a, tenant_a):
    admin(kit, client_a, tenant_a)
    form = products_form(tenant_a)
    form["action"] = "add"
    page = client_a.post("/staff/settings/products", data=form).get_data(as_text=True)
    assert 'id="product-2"' in page and 'name="products.2.code" value=""' in page
    assert versions(tenant_a, "products") == []  # adding a fieldset saves nothing
    form.update({
        "action": "save", "products.2.code": "car", "products.2.name.en": "Car loan", "products.2.name.zh_CN": "汽车贷",
        "products.2.borrower_type": "person", "products.2.min_amount": "5000", "products.2.max_amount": "150000",
        "products.2.terms_months": "12, 24，36", "products.2.repayment_methods": ["equal_installment", "equal_principal"],
        "products.2.annual_rate_min": "7", "products.2.annual_rate_max": "12.5",
        "products.2.grade_rates.AAA.min": "7", "products.2.grade_rates.AAA.max": "9",
        "products.2.min_bid": "100", "products.2.bid_step": "1",
    })
    assert client_a.post("/staff/settings/products", data=form).status_code == 302
    car = tenant_a.config["products"][2]
    assert (car["code"], car["min_amount"], car["max_amount"], car["terms_months"]) == ("car", 500_000, 15_000_000, [12, 24, 36])
    assert car["repayment_methods"] == ["equal_installment", "equal_principal"]
    assert car["grade_rates"] == {"AAA": {"min": "0.07", "max": "0.09"}} and car["annual_rate_max"] == "0.125"
    assert car["max_bid_per_investor"] is None and car["grace_days"] == 3  # left empty: no limit; the default

    form = products_form(tenant_a)
    form["action"] = "remove:0"
    page = client_a.post("/staff/settings/products", data=form).get_data(as_text=True)
    assert 'value="consumer"' not in page and 'name="products.0.code" value="sme"' in page
    form = {k.replace("products.1.", "products.0.").replace("products.2.", "products.1."): v
            for k, v in products_form(tenant_a).items() if not k.startswith("products.0.")}
    assert client_a.post("/staff/settings/products", data=form).status_code == 302
    assert [p["code"] for p in tenant_a.config["products"]] == ["sme", "car"]


def test_every_problem_is_shown_at_its_field_and_nothing_is_saved(kit, client_a, tenant_a):
    admin(kit, client_a, tenant_a)
    response = client_a.post("/staff/settings/products", data=products_form(tenant_a, **{
        "0.max_amount": "lots", "0.min_bid": "12.345", "0.annual_rate_min": "150", "0.terms_months": "3, six",
        "1.min_amount": "600000", "1.code": "consumer", "1.grade_rates.AA.min": "9", "1.grade_rates.AA.max": "",
        "1.repayment_methods": [], "0.name.en": "", "0.name.zh_CN": "",
    }))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    expected = {
        "products-0-max_amount": "Enter a number",
        "products-0-min_bid": "at most 2 decimal places",
        "products-0-annual_rate_min": "from 0 up to (not including) 100",
        "products-0-terms_months": "List the terms in months",
        "products-0-name": "in at least one language",
        "products-1-min_amount": "is above max_amount",
        "products-1-code": "used twice",
        "products-1-grade_rates-AA": "both ends of the band",
        "products-1-repayment_methods": "at least one repayment method",
    }
    for anchor, words in expected.items():
        at = page.index(f'id="{anchor}"')
        assert words in page[at:at + 2500], anchor  # the problem is shown right by its field
        assert f'href="#{anchor}"' in page  # and listed at the top
    assert "Nothing was saved: 9 problems to correct." in page
    assert 'value="lots"' in page  # what was typed is kept
    assert versions(tenant_a, "products") == [] and consumer(tenant_a)["max_amount"] == 5_000_000


def test_the_compliance_pack_refuses_a_person_product_above_its_cap(kit, client_a, tenant_a):
    use_cn_2016(tenant_a)
    admin(kit, client_a, tenant_a)
    page = client_a.get("/staff/settings/products").get_data(as_text=True)
    assert "cn-2016" in page
    response = client_a.post("/staff/settings/products", data=products_form(tenant_a, **{"0.max_amount": "200000.01"}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    message = ("cn-2016 §17: a person may owe at most CNY 200,000.00 on one platform; "
               "this product lends up to CNY 200,000.01")
    assert message in page
    at = page.index('id="products-0-max_amount"')
    assert message in page[at:at + 1500]
    assert versions(tenant_a, "products") == [] and consumer(tenant_a)["max_amount"] == 5_000_000
    # exactly at the cap is allowed; the enterprise product may go to its own cap
    response = client_a.post("/staff/settings/products", data=products_form(
        tenant_a, **{"0.max_amount": "200000", "1.max_amount": "1000000"}))
    assert response.status_code == 302
    assert consumer(tenant_a)["max_amount"] == 20_000_000


def test_history_shows_who_changed_what_and_an_old_version_is_restored(kit, client_a, tenant_a):
    admin(kit, client_a, tenant_a)
    client_a.post("/staff/settings/products", data=products_form(tenant_a, note="first", **{"0.max_amount": "60000"}))
    client_a.post("/staff/settings/products", data=products_form(tenant_a, note="second", **{"0.max_amount": "70000", "0.grace_days": "5"}))
    assert consumer(tenant_a)["max_amount"] == 7_000_000
    page = client_a.get("/staff/settings/products").get_data(as_text=True)
    versions_html = page[page.index('id="versions-title"'):]
    assert "#2" in versions_html and "#1" in versions_html and "second" in versions_html
    assert "user:" in versions_html and "139****0001" in versions_html  # who: the staff member, mobile masked
    two = versions_html[versions_html.index('id="version-2"'):versions_html.index('id="version-1"')]
    assert "Personal consumer loan (consumer) · Largest loan" in two
    assert "CN¥60,000.00" in two and "CN¥70,000.00" in two and "Grace days after the due date" in two
    one = versions_html[versions_html.index('id="version-1"'):]
    assert "CN¥50,000.00" in one and "CN¥60,000.00" in one  # version 1 against tenant.yaml

    assert client_a.post("/staff/settings/products/rollback/1").status_code == 302
    assert consumer(tenant_a)["max_amount"] == 6_000_000 and consumer(tenant_a)["grace_days"] == 3
    assert versions(tenant_a, "products") == [1, 2, 3]
    assert "restored" in client_a.get("/staff/settings/products").get_data(as_text=True)
    assert client_a.post("/staff/settings/products/rollback/42").status_code == 404
    with tenant_context(tenant_a):
        events = db.session.scalars(select(AuditRecord.event).order_by(AuditRecord.seq)).all()
        details = db.session.scalars(select(AuditRecord.details).where(AuditRecord.event.like("settings.%"))).all()
    assert [e for e in events if e.startswith("settings.")] == [
        "settings.products.saved", "settings.products.saved", "settings.products.rolled_back"]
    assert "products.consumer.max_amount" in details[0]


def test_a_restore_is_refused_when_it_breaks_todays_rules(kit, client_a, tenant_a):
    admin(kit, client_a, tenant_a)
    client_a.post("/staff/settings/products", data=products_form(tenant_a, **{"0.max_amount": "300000"}))
    client_a.post("/staff/settings/products", data=products_form(tenant_a, **{"0.max_amount": "100000"}))
    use_cn_2016(tenant_a)  # the vendor switched the pack on since
    response = client_a.post("/staff/settings/products/rollback/1", follow_redirects=True)
    assert "Version 1 breaks today&#39;s rules" in response.get_data(as_text=True) and "cn-2016 §17" in response.get_data(as_text=True)
    assert consumer(tenant_a)["max_amount"] == 10_000_000 and versions(tenant_a, "products") == [1, 2]


# ---------------------------------------------------------------- rules


def test_rules_apply_at_once_and_the_calculator_shows_them(kit, client_a, tenant_a):
    admin(kit, client_a, tenant_a)
    page = client_a.get("/staff/settings/rules").get_data(as_text=True)
    assert 'name="credit.grades.AAA.rate_min" value="6"' in page and 'name="credit.grades.AAA.limit" value="200000"' in page
    response = client_a.post("/staff/settings/rules", data=rules_form(
        tenant_a, **{"credit.grades.AAA.rate_min": "5.5", "credit.grades.C.rate_max": "19", "credit.refuse.court_judgment": None}))
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    credit = tenant_a.config["credit"]
    assert credit["grades"]["AAA"]["rate_min"] == "0.055" and credit["refuse"]["court_judgment"] is False
    calculator = client_a.get("/calculator").get_data(as_text=True)
    assert "5.50%" in calculator and "19.00%" in calculator
    history = client_a.get("/staff/settings/rules").get_data(as_text=True)
    assert "Grade AAA · Lowest rate (%)" in history and "6%" in history and "5.5%" in history


def test_invalid_rules_are_shown_at_their_fields(kit, client_a, tenant_a):
    admin(kit, client_a, tenant_a)
    response = client_a.post("/staff/settings/rules", data=rules_form(tenant_a, **{
        "credit.scorecard.weights.bureau_score": "45", "credit.grades.AA.rate_max": "7", "credit.grades.B.limit": "",
        "credit.report_max_age_days": "400",
    }))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for anchor, words in {
        "credit-scorecard-weights": "must add up to 100, not 105",
        "credit-grades-AA-rate_max": "must not be below rate_min",
        "credit-grades-B-limit": "Fill this in",
        "credit-report_max_age_days": "between 0 and 366",
    }.items():
        at = page.index(f'id="{anchor}"')
        assert words in page[at:at + 2500], anchor
    assert versions(tenant_a, "rules") == [] and tenant_a.config["credit"]["grades"]["AA"]["rate_max"] == "0.10"


def test_the_compliance_pack_keeps_the_reserve_from_paying_investors(kit, client_a, tenant_a):
    admin(kit, client_a, tenant_a)
    assert client_a.post("/staff/settings/rules", data=rules_form(tenant_a, **{"risk.reserve_pays_investors": "y"})).status_code == 302
    assert tenant_a.config["risk"]["reserve_pays_investors"] is True  # the "none" pack allows it
    client_a.post("/staff/settings/rules", data=rules_form(tenant_a, **{"risk.reserve_pays_investors": None}))
    use_cn_2016(tenant_a)
    response = client_a.post("/staff/settings/rules", data=rules_form(tenant_a, **{"risk.reserve_pays_investors": "y"}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    at = page.index('id="risk-reserve_pays_investors"')
    assert "cn-2016 §10(3)" in page[at:at + 1500]
    assert tenant_a.config["risk"]["reserve_pays_investors"] is False and versions(tenant_a, "rules") == [1, 2]
    assert client_a.post("/staff/settings/rules/rollback/1").status_code == 302  # version 1 switched it on
    assert tenant_a.config["risk"]["reserve_pays_investors"] is False and versions(tenant_a, "rules") == [1, 2]


# ---------------------------------------------------------------- tenants


def test_one_tenants_staff_cannot_see_or_change_anothers_products(kit, client_a, client_b, tenant_a, tenant_b):
    admin(kit, client_a, tenant_a)
    assert client_b.get("/staff/settings/products").status_code == 302  # alpha's session means nothing at beta
    client_b.post("/staff/settings/products", data=products_form(tenant_b, **{"0.max_amount": "1"}))
    client_b.post("/staff/settings/products/rollback/1")
    assert tenant_b.config["products"][0]["max_amount"] == 3_000_000 and versions(tenant_b, "products") == []

    assert client_a.post("/staff/settings/products", data=products_form(tenant_a, **{"0.max_amount": "60000"})).status_code == 302
    page = client_a.get("/staff/settings/products").get_data(as_text=True)
    assert 'value="personal"' not in page  # beta's product is not on alpha's page

    admin(kit, client_b, tenant_b, mobile="13900000002")
    page = client_b.get("/staff/settings/products").get_data(as_text=True)
    assert 'value="personal"' in page and 'value="consumer"' not in page and "尚无修改" in page  # beta reads Chinese
    assert client_b.post("/staff/settings/products/rollback/1").status_code == 404  # alpha's version 1 is not beta's
    assert client_b.post("/staff/settings/products", data=products_form(tenant_b, **{"0.max_amount": "40000"})).status_code == 302
    assert versions(tenant_a, "products") == [1] and versions(tenant_b, "products") == [1]
    assert tenant_b.config["products"][0]["max_amount"] == 4_000_000 and consumer(tenant_a)["max_amount"] == 6_000_000
