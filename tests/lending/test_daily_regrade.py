"""`lendkit daily` re-rates borrowers on a schedule: grades older than ``credit.regrade_every_days``
are recomputed, stale bureau reports refreshed through the identity the accounts module holds."""
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select

from core.accounts.kyc import subject_of
from core.credit.grades import grade_subject
from core.credit.models import CreditGrade, CreditReport
from core.extensions import db
from core.lending.applications import identity_of
from core.lending.daily import run_day
from core.tenancy import tenant_context
from core.tenancy.models import Tenant

GRADED = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)


def _graded_borrower(world, profile="901"):
    borrower = world.user("borrower", profile=profile)
    kind, number, key, *_ = identity_of(borrower)
    grade_subject(world.tenant, kind, number, key, now=GRADED)
    db.session.commit()
    return key


def _set_credit(tenant_id, **credit):
    tenant = db.session.get(Tenant, tenant_id)
    tenant.config = {**tenant.config, "credit": {**tenant.config.get("credit", {}), **credit}}
    db.session.commit()


def _reports(key):
    return db.session.scalar(select(func.count(CreditReport.id)).where(CreditReport.subject_key == key))


def test_the_accounts_module_tells_the_credit_module_who_a_key_is(world, tenant_b):
    borrower = world.user("borrower", profile="902")
    kind, number, key, *_ = identity_of(borrower)
    assert subject_of(key) == ("person", number)
    assert subject_of("no-such-key") is None
    company = world.user("borrower", kind="enterprise")
    kind, code, key_company, *_ = identity_of(company)
    assert subject_of(key_company) == ("enterprise", code)
    with tenant_context(tenant_b):  # another tenant's keys mean nothing here
        assert subject_of(key) is None


def test_grades_are_recomputed_once_they_are_older_than_the_interval(world):
    key = _graded_borrower(world)
    _set_credit(world.tenant.id, regrade_every_days=7)
    assert run_day(date(2026, 3, 5), steps=("regrade",))["regrade"]["regraded"] == 0  # 3 days old
    counts = run_day(date(2026, 3, 10), steps=("regrade",))["regrade"]
    assert counts == {"regraded": 1, "refreshed": 0, "unavailable": 0, "changed": 0}  # report still fresh
    grade = CreditGrade.for_subject(key)
    assert grade.computed_at.date() >= date(2026, 3, 10) and grade.grade == "AAA"
    assert run_day(date(2026, 3, 10), steps=("regrade",)) == {"regrade": None}  # the same day twice
    assert run_day(date(2026, 3, 11), steps=("regrade",))["regrade"]["regraded"] == 0  # just recomputed


def test_a_stale_report_is_refreshed_from_the_bureau_before_regrading(world):
    key = _graded_borrower(world, profile="902")
    _set_credit(world.tenant.id, regrade_every_days=1, report_max_age_days=5)
    assert _reports(key) == 1
    counts = run_day(date(2026, 3, 20), steps=("regrade",))["regrade"]
    assert (counts["regraded"], counts["refreshed"], counts["unavailable"]) == (1, 1, 0)
    assert _reports(key) == 2
    latest = CreditReport.latest(key)
    assert latest.fetched_at.date() >= date(2026, 3, 20) and CreditGrade.for_subject(key).report_id == latest.id


def test_a_bureau_outage_keeps_the_old_grade_and_says_so(world, monkeypatch):
    from plugins.credit_bureau.sandbox import SandboxBureau
    from core.credit import BureauUnavailable

    key = _graded_borrower(world)
    _set_credit(world.tenant.id, regrade_every_days=1, report_max_age_days=5)

    def down(self, *args, **kwargs):
        raise BureauUnavailable("sandbox bureau switched off")

    monkeypatch.setattr(SandboxBureau, "fetch_report", down)
    counts = run_day(date(2026, 3, 20), steps=("regrade",))["regrade"]
    assert (counts["regraded"], counts["refreshed"], counts["unavailable"]) == (1, 0, 1)
    assert CreditGrade.for_subject(key).grade == "AAA" and _reports(key) == 1


def test_regrade_every_days_is_validated(world):
    from core.credit.settings import CreditSchema
    from marshmallow import ValidationError
    import pytest

    assert CreditSchema().load({})["regrade_every_days"] == 7
    with pytest.raises(ValidationError) as err:
        CreditSchema().load({"regrade_every_days": 0})
    assert "between 1 and 366" in str(err.value)
    assert timedelta(days=CreditSchema().load({"regrade_every_days": 30})["regrade_every_days"]).days == 30
