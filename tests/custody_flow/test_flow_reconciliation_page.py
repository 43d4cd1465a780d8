"""Finance staff read every reconciliation run and its differences on a page, and run a day's
reconciliation from it (the service `lendkit reconcile` uses); others cannot."""
from datetime import date, timedelta

from sqlalchemy import func, select

from core.custody.models import ReconciliationDifference, ReconciliationRun
from core.extensions import db
from core.tenancy import tenant_context


def _runs(tenant):
    with tenant_context(tenant):
        clean = ReconciliationRun(day=date(2026, 11, 19), currency="CNY", provider="sandbox", status="clean")
        bad = ReconciliationRun(day=date(2026, 11, 20), currency="CNY", provider="sandbox", status="differences", difference_count=1)
        db.session.add_all([clean, bad])
        db.session.flush()
        db.session.add(ReconciliationDifference(run_id=bad.id, kind="missing_in_ledger", request_no="R-42", account="U7", bucket="available", bank_amount=1500, note="bank moved it"))
        db.session.commit()
        return bad.id


def test_finance_staff_see_runs_and_differences(kit, client_a, tenant_a):
    bad_id = _runs(tenant_a)
    secret = kit.staff(tenant_a, "13900000031", roles=("finance",))
    kit.web_login(client_a, "13900000031", totp_secret=secret)
    listing = client_a.get("/staff/finance/reconciliation").get_data(as_text=True)
    assert "2026-11-19" in listing and "2026-11-20" in listing
    detail = client_a.get(f"/staff/finance/reconciliation/{bad_id}").get_data(as_text=True)
    assert "R-42" in detail and "Missing in the ledger" in detail and "missing_in_ledger" not in detail
    assert "15.00" in detail
    assert "lendkit reconcile" not in listing  # a button, not a command line


def _run_count(tenant, day=None):
    with tenant_context(tenant):
        query = select(func.count(ReconciliationRun.id))
        if day is not None:
            query = query.where(ReconciliationRun.day == day)
        return db.session.scalar(query)


def _today(tenant):
    from core.lending.lifecycle import tenant_today

    with tenant_context(tenant):
        return tenant_today(tenant)


def test_finance_staff_reconcile_yesterday_from_the_page(kit, client_a, tenant_a):
    from core.audit.models import AuditRecord

    secret = kit.staff(tenant_a, "13900000034", roles=("finance",))
    kit.web_login(client_a, "13900000034", totp_secret=secret)
    yesterday = _today(tenant_a) - timedelta(days=1)
    page = client_a.get("/staff/finance/reconciliation").get_data(as_text=True)
    assert f'value="{yesterday.isoformat()}"' in page and "Reconcile this day" in page
    done = client_a.post("/staff/finance/reconciliation", data={"day": yesterday.isoformat()}, follow_redirects=True)
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and f"{yesterday.isoformat()} reconciled" in html
    assert _run_count(tenant_a, yesterday) == 1
    with tenant_context(tenant_a):
        assert db.session.scalar(select(AuditRecord.event).where(AuditRecord.event == "reconciliation.run"))
    dashboard = client_a.get("/staff/").get_data(as_text=True)
    assert f"Yesterday ({yesterday.isoformat()}) is reconciled." in dashboard


def test_a_future_or_mistyped_day_is_refused_on_the_page_and_nothing_is_recorded(kit, client_a, tenant_a):
    secret = kit.staff(tenant_a, "13900000035", roles=("finance",))
    kit.web_login(client_a, "13900000035", totp_secret=secret)
    tomorrow = (_today(tenant_a) + timedelta(days=1)).isoformat()
    refused = client_a.post("/staff/finance/reconciliation", data={"day": tomorrow})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "has not ended yet" in html and f'value="{tomorrow}"' in html
    typo = client_a.post("/staff/finance/reconciliation", data={"day": "2026-02-30"})
    assert typo.status_code == 400 and "Enter a day such as" in typo.get_data(as_text=True)
    assert _run_count(tenant_a) == 0


def test_other_roles_cannot_run_it(kit, client_a, tenant_a):
    secret = kit.staff(tenant_a, "13900000037", roles=("reviewer",))
    kit.web_login(client_a, "13900000037", totp_secret=secret)
    assert client_a.post("/staff/finance/reconciliation", data={"day": "2026-01-01"}).status_code == 403
    assert _run_count(tenant_a) == 0


def test_staff_of_another_tenant_run_only_their_own(kit, client_a, client_b, tenant_a, tenant_b):
    _runs(tenant_a)
    secret_b = kit.staff(tenant_b, "13900000038", roles=("finance",))
    kit.web_login(client_b, "13900000038", totp_secret=secret_b)
    day = (_today(tenant_b) - timedelta(days=1)).isoformat()
    done = client_b.post("/staff/finance/reconciliation", data={"day": day}, follow_redirects=True)
    assert done.status_code == 200
    assert _run_count(tenant_a) == 2 and _run_count(tenant_b) == 1
    assert "2026-11-20" not in client_b.get("/staff/").get_data(as_text=True)


def test_other_roles_and_other_tenants_see_nothing(kit, client_a, client_b, tenant_a, tenant_b):
    bad_id = _runs(tenant_a)
    secret = kit.staff(tenant_a, "13900000032", roles=("support",))
    kit.web_login(client_a, "13900000032", totp_secret=secret)
    assert client_a.get("/staff/finance/reconciliation").status_code == 403
    secret_b = kit.staff(tenant_b, "13900000033", roles=("finance",))
    kit.web_login(client_b, "13900000033", totp_secret=secret_b)
    assert client_b.get(f"/staff/finance/reconciliation/{bad_id}").status_code == 404
    assert "R-42" not in client_b.get("/staff/finance/reconciliation").get_data(as_text=True)
