"""Finance staff read every reconciliation run and its differences on a page; others cannot."""
from datetime import date

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
    assert "R-42" in detail and "missing_in_ledger" in detail and "15.00" in detail


def test_other_roles_and_other_tenants_see_nothing(kit, client_a, client_b, tenant_a, tenant_b):
    bad_id = _runs(tenant_a)
    secret = kit.staff(tenant_a, "13900000032", roles=("support",))
    kit.web_login(client_a, "13900000032", totp_secret=secret)
    assert client_a.get("/staff/finance/reconciliation").status_code == 403
    secret_b = kit.staff(tenant_b, "13900000033", roles=("finance",))
    kit.web_login(client_b, "13900000033", totp_secret=secret_b)
    assert client_b.get(f"/staff/finance/reconciliation/{bad_id}").status_code == 404
    assert "R-42" not in client_b.get("/staff/finance/reconciliation").get_data(as_text=True)
