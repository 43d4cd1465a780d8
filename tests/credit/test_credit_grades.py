"""Stored reports and grades: freshness reuse, regrading, re-rating, summaries, applications, tenants apart."""
import copy
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from core.credit import BureauUnavailable
from core.credit.grades import (
    assess_application,
    credit_summary,
    grade_subject,
    regrade,
    regrade_all,
    repayment_changed,
)
from core.credit.models import CreditGrade, CreditReport
from core.credit.reports import obtain_report
from core.credit.scoring import History
from core.credit.settings import DEFAULT_CREDIT
from core.extensions import db
from core.tenancy import TenantNotBound, tenant_context
from core.tenancy.models import Tenant

from credit_support import ENTERPRISE, PERSON, CountingBureau

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
YUAN = 100


@pytest.fixture
def counting():
    return CountingBureau()


def set_config(tenant, **changes):
    """Change a tenant's stored configuration (the fixture's object may be detached by tenant_context)."""
    row = db.session.get(Tenant, tenant.id)
    row.config = {**row.config, **changes}
    db.session.commit()


def use_pack(tenant, name):
    set_config(tenant, compliance=name)


def text(app, message) -> str:
    """A lazy message as a person reading English would see it."""
    with app.test_request_context("/"):
        return str(message)


def grade(tenant, code, key="k1", *, bureau, subject_type="person", now=NOW, **kwargs):
    numbers = PERSON if subject_type == "person" else ENTERPRISE
    with tenant_context(tenant):
        row = grade_subject(tenant, subject_type, numbers[code], key, bureau=bureau, now=now, **kwargs)
        db.session.commit()
        return row.status, row.grade, row.refusal, row.credit_limit


@pytest.mark.parametrize("code, expected", [
    ("901", ("graded", "AAA", None, 20_000_000)),
    ("903", ("graded", "A", None, 10_000_000)),
    ("905", ("graded", "C", None, 2_000_000)),
    ("906", ("refused", None, "score_too_low", 0)),
    ("990", ("refused", None, "blacklisted", 0)),
    ("998", ("refused", None, "identity_mismatch", 0)),
])
def test_grading_stores_the_report_and_the_grade(tenant_a, counting, code, expected):
    assert grade(tenant_a, code, bureau=counting) == expected
    with tenant_context(tenant_a):
        stored = CreditGrade.for_subject("k1")
        assert stored.report.subject_key == "k1" and stored.currency == "CNY"
        assert len(stored.reasons) == 7 and {"factor", "weight", "value", "points", "figures"} <= set(stored.reasons[0])
        if stored.status == "graded":
            assert isinstance(stored.rate_min, Decimal) and stored.rate_min <= stored.rate_max


def test_the_stored_report_keeps_the_raw_json_with_the_identity_masked(tenant_a, counting):
    grade(tenant_a, "921", bureau=counting)
    with tenant_context(tenant_a):
        row = CreditReport.latest("k1")
        assert row.raw["subject_id"] == "1101**********9219"
        assert PERSON["921"] not in str(row.raw)
        assert row.platform_balance == 100_000_000 and row.report.platform_balance == 100_000_000
        assert row.bureau == "sandbox" and row.identity_matched and row.score == 870


def test_a_report_is_reused_within_the_freshness_window_and_fetched_after_it(tenant_a, counting):
    for offset in (0, 1, 29):
        grade(tenant_a, "901", bureau=counting, now=NOW + timedelta(days=offset, hours=23))
    assert counting.fetches == 1
    grade(tenant_a, "901", bureau=counting, now=NOW + timedelta(days=30, hours=23, seconds=1))
    assert counting.fetches == 2
    grade(tenant_a, "901", bureau=counting, now=NOW + timedelta(days=31), force_refresh=True)
    assert counting.fetches == 3
    with tenant_context(tenant_a):
        assert db.session.query(CreditReport).count() == 3


def test_the_freshness_window_is_per_tenant(tenant_a, counting):
    set_config(tenant_a, credit={"report_max_age_days": 0})
    grade(tenant_a, "901", bureau=counting)
    grade(tenant_a, "901", bureau=counting)
    assert counting.fetches == 2


def test_a_fresh_report_is_regraded_and_replaces_the_grade(tenant_a, counting):
    grade(tenant_a, "901", bureau=counting)
    with tenant_context(tenant_a):
        first = CreditGrade.for_subject("k1")
        first_report = first.report_id
    # the bureau now says something else about this subject
    counting.inner.fetch_report = lambda t, n, name=None: CountingBureau().inner.fetch_report(t, PERSON["904"])
    grade(tenant_a, "901", bureau=counting, force_refresh=True)
    with tenant_context(tenant_a):
        again = CreditGrade.for_subject("k1")
        assert (again.grade, again.id) == ("B", first.id) and again.report_id != first_report
        assert db.session.query(CreditGrade).count() == 1


def test_late_and_paid_installments_regrade_from_the_stored_report(tenant_a, counting):
    grade(tenant_a, "902", bureau=counting)  # AA for a newcomer
    with tenant_context(tenant_a):
        assert repayment_changed("k1", History(on_time=12)).grade == "AAA"
        late = History(on_time=3, late=9, overdue_now=80_000, owed=15_000_000)
        assert repayment_changed("k1", late).grade == "A"
        assert repayment_changed("k1", late).grade == "A"  # the same figures twice change nothing
        row = CreditGrade.for_subject("k1")
        assert (row.on_time_count, row.late_count, row.overdue_amount, row.owed_amount) == (3, 9, 80_000, 15_000_000)
        assert repayment_changed("nobody", late) is None
        db.session.commit()
    assert counting.fetches == 1


def test_regrade_needs_a_bound_tenant_and_a_stored_report(app, tenant_a):
    with pytest.raises(TenantNotBound):
        regrade("k1")
    with tenant_context(tenant_a), pytest.raises(LookupError):
        regrade("k1")


def test_regrade_all_recomputes_under_the_current_scorecard(tenant_a, counting):
    grade(tenant_a, "901", "a", bureau=counting)
    grade(tenant_a, "904", "b", bureau=counting)
    assert regrade_all(tenant_a, now=NOW).regraded == 2
    table = copy.deepcopy(DEFAULT_CREDIT["grades"])
    table["AAA"]["min_score"] = 95
    set_config(tenant_a, credit={"grades": table})
    summary = regrade_all(tenant_a, now=NOW)
    assert (summary.regraded, summary.changed, summary.refreshed) == (2, 1, 0)
    with tenant_context(tenant_a):
        assert CreditGrade.for_subject("a").grade == "AA"
    assert regrade_all(tenant_a, now=NOW).changed == 0  # running twice changes nothing
    assert counting.fetches == 2


def test_regrade_all_refreshes_stale_reports_and_survives_an_outage(tenant_a, counting):
    grade(tenant_a, "901", "a", bureau=counting)
    grade(tenant_a, "902", "b", bureau=counting)
    resolve = {"a": ("person", PERSON["901"]), "b": ("person", PERSON["902"])}.__getitem__
    later = NOW + timedelta(days=45)
    counting.down = True
    summary = regrade_all(tenant_a, resolve_subject=resolve, bureau=counting, now=later)
    assert (summary.regraded, summary.refreshed, summary.unavailable) == (2, 0, 2)
    with tenant_context(tenant_a):
        assert CreditGrade.for_subject("a").grade == "AAA"  # kept, from the old report
    counting.down = False
    summary = regrade_all(tenant_a, resolve_subject=resolve, bureau=counting, now=later)
    assert (summary.refreshed, summary.unavailable) == (2, 0)
    assert regrade_all(tenant_a, resolve_subject=resolve, bureau=counting, now=later).refreshed == 0


def test_the_summary_gives_grade_limit_available_limit_and_rate_band(tenant_a, counting):
    grade(tenant_a, "903", bureau=counting)
    summary = credit_summary(tenant_a, "k1", owed_here=3_000_000)
    assert (summary.status, summary.grade, summary.limit, summary.available) == ("graded", "A", 10_000_000, 7_000_000)
    assert (summary.rate_min, summary.rate_max) == (Decimal("0.10"), Decimal("0.12"))
    assert summary.currency == "CNY" and summary.compliance_headroom is None
    assert credit_summary(tenant_a, "k1", owed_here=12_000_000).available == 0
    assert credit_summary(tenant_a, "nobody", owed_here=0) is None


def test_under_cn_2016_the_available_limit_respects_the_cross_platform_cap(tenant_a, counting):
    use_pack(tenant_a, "cn-2016")
    grade(tenant_a, "920", bureau=counting)  # AA (limit 150,000.00), owes 950,000.00 on other platforms
    summary = credit_summary(tenant_a, "k1", owed_here=10_000 * YUAN)
    assert summary.limit == 150_000 * YUAN
    assert summary.compliance_headroom == 40_000 * YUAN and summary.available == 40_000 * YUAN


def apply(tenant, code, requested, *, bureau, owed_here=0, subject_type="person", key="k1"):
    numbers = PERSON if subject_type == "person" else ENTERPRISE
    with tenant_context(tenant):
        result = assess_application(tenant, subject_type=subject_type, subject_id=numbers[code], subject_key=key,
                                    requested=requested, owed_here=owed_here, bureau=bureau, now=NOW)
        db.session.commit()
        return result


def test_an_application_within_the_limit_and_the_caps_is_eligible(tenant_a, counting):
    use_pack(tenant_a, "cn-2016")
    result = apply(tenant_a, "901", 200_000 * YUAN, bureau=counting)
    assert result.eligible and result.code is None and result.decision.allowed


def test_an_application_over_the_grade_limit_is_refused_with_the_figures(app, tenant_a, counting):
    result = apply(tenant_a, "903", 80_000 * YUAN, owed_here=30_000 * YUAN, bureau=counting)
    assert (result.status, result.code) == ("refused", "over_limit")
    assert text(app, result.message) == ("CNY 80,000.00 is more than the available credit of CNY 70,000.00 "
                                   "(grade A, limit CNY 100,000.00, owed here CNY 30,000.00).")


def test_an_application_over_a_regulatory_cap_names_the_rule(app, tenant_a, counting):
    use_pack(tenant_a, "cn-2016")
    result = apply(tenant_a, "920", 50_000 * YUAN + 1, owed_here=0, bureau=counting)
    assert (result.status, result.code) == ("refused", "compliance")
    assert text(app, result.message).startswith("cn-2016 §17: a person may owe at most CNY 1,000,000.00 across all platforms")
    assert apply(tenant_a, "920", 50_000 * YUAN, bureau=counting).eligible  # exactly at the cap
    assert apply(tenant_a, "921", 1, key="k2", bureau=counting).code == "compliance"
    assert apply(tenant_a, "921", 1, subject_type="enterprise", key="e1", bureau=counting).code == "compliance"


def test_the_same_application_passes_where_the_tenant_chose_no_pack(tenant_a, counting):
    assert apply(tenant_a, "921", 1, bureau=counting).eligible


@pytest.mark.parametrize("code, refusal", [("906", "score_too_low"), ("990", "blacklisted"),
                                           ("991", "court_judgment"), ("999", "identity_mismatch")])
def test_a_refused_borrower_cannot_apply(app, tenant_a, counting, code, refusal):
    result = apply(tenant_a, code, 100, bureau=counting)
    assert (result.status, result.code) == ("refused", refusal) and text(app, result.message)


def test_a_bureau_outage_means_try_later_never_an_approval(app, tenant_a, counting):
    counting.down = True
    result = apply(tenant_a, "901", 100, bureau=counting)
    assert (result.status, result.code) == ("try_later", "bureau_unavailable") and not result.eligible
    assert "try again later" in text(app, result.message)
    with tenant_context(tenant_a):
        assert db.session.query(CreditReport).count() == 0 and db.session.query(CreditGrade).count() == 0


def test_the_sandbox_outage_setting_gives_try_later_through_the_tenants_own_provider(tenant_a):
    providers = {**tenant_a.config["providers"], "credit_bureau": {"name": "sandbox", "settings": {"outage": True}}}
    set_config(tenant_a, providers=providers)
    with tenant_context(tenant_a):
        result = assess_application(tenant_a, subject_type="person", subject_id=PERSON["901"], subject_key="k1",
                                    requested=100, owed_here=0)
        assert result.status == "try_later"
        with pytest.raises(BureauUnavailable):
            obtain_report(tenant_a, "person", PERSON["901"], "k1")


def test_an_outage_after_a_grade_leaves_the_grade_alone_while_the_report_is_fresh(tenant_a, counting):
    grade(tenant_a, "901", bureau=counting)
    counting.down = True
    assert apply(tenant_a, "901", 100, bureau=counting).eligible  # the stored report is still fresh


# --- tenants apart --------------------------------------------------------------------------


def test_reports_and_grades_of_one_tenant_are_invisible_to_another(tenant_a, tenant_b, counting):
    grade(tenant_a, "901", "shared-key", bureau=counting)
    with tenant_context(tenant_b):
        assert CreditGrade.for_subject("shared-key") is None and CreditReport.latest("shared-key") is None
        assert db.session.query(CreditGrade).count() == 0
        with pytest.raises(LookupError):
            regrade("shared-key")
    assert credit_summary(tenant_b, "shared-key", owed_here=0) is None
    assert regrade_all(tenant_b).regraded == 0


def test_the_same_subject_key_may_be_graded_at_two_tenants_in_their_own_currencies(tenant_a, tenant_b, counting):
    grade(tenant_a, "901", "same", bureau=counting)
    grade(tenant_b, "905", "same", bureau=counting)
    a, b = credit_summary(tenant_a, "same", 0), credit_summary(tenant_b, "same", 0)
    assert (a.grade, a.currency) == ("AAA", "CNY") and (b.grade, b.currency) == ("C", "USD")
    assert counting.fetches == 2  # beta does not reuse alpha's report


def test_a_summary_for_another_tenant_than_the_bound_one_is_refused(tenant_a, tenant_b):
    with tenant_context(tenant_a), pytest.raises(RuntimeError, match="another tenant"):
        credit_summary(tenant_b, "k1", 0)


def test_a_stored_report_about_another_number_is_not_reused_under_the_same_key(tenant_a, counting):
    grade(tenant_a, "901", bureau=counting)
    assert grade(tenant_a, "990", bureau=counting)[2] == "blacklisted"
    assert counting.fetches == 2
