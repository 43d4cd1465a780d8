"""Scoring: factor values, the score, the grade, refusals and the reasons staff see — no database."""
import copy
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from core.credit import BureauReport, OpenDebt
from core.credit.scoring import History, grade_for, score_report
from core.credit.settings import DEFAULT_CREDIT, FACTORS, CreditSchema
from plugins.credit_bureau.sandbox import synthetic_report

from credit_support import PERSON

NOW = datetime(2026, 5, 1, tzinfo=timezone.utc)


def report(**changes) -> BureauReport:
    base = BureauReport(
        subject_type="person", subject_id=PERSON["901"], bureau="test", reference="R", generated_at=NOW,
        identity_matched=True, score=900,
    )
    return replace(base, **changes)


def with_credit(**changes) -> dict:
    data = copy.deepcopy(DEFAULT_CREDIT)
    data.update(changes)
    return CreditSchema().load(data)


def test_a_perfect_record_scores_100_and_gets_aaa_with_its_limit_and_band():
    outcome = score_report(report(), History(on_time=10), DEFAULT_CREDIT)
    assert outcome.score == 100 and outcome.grade == "AAA" and not outcome.refused
    assert outcome.limit == 20_000_000
    assert (outcome.rate_min, outcome.rate_max) == (Decimal("0.06"), Decimal("0.08"))


def test_enterprises_get_the_enterprise_limit():
    outcome = score_report(report(subject_type="enterprise"), History(on_time=10), DEFAULT_CREDIT)
    assert outcome.limit == 100_000_000


def test_each_reason_shows_the_factor_weight_value_points_and_figures():
    outcome = score_report(report(score=600, overdue_count_6m=1, overdue_amount_6m=500, overdue_count_24m=1,
                                  overdue_amount_24m=500), History(), DEFAULT_CREDIT)
    reasons = {r.factor: r for r in outcome.reasons}
    assert list(reasons) == list(FACTORS)
    assert reasons["bureau_score"].value == Decimal("0.5000") and reasons["bureau_score"].points == Decimal("20.00")
    assert reasons["bureau_score"].figures == {"score": 600}
    assert reasons["recent_overdue"].points == Decimal("13.33")
    assert reasons["recent_overdue"].figures == {"count": 1, "amount": 500}
    assert reasons["on_time_history"].value == Decimal("0.5000")  # no history yet: the no_history value
    assert reasons["bureau_score"].to_dict()["points"] == "20.00"
    assert outcome.score == round(sum(r.points for r in outcome.reasons))


def test_the_score_is_the_exact_weighted_sum_rounded_half_up_once():
    # 40·(450/600) + 20·(2/3) + 10·(5/6) + 10 + 10·0.5 + 5 + 5 = 30 + 13.33… + 8.33… + 25 = 76.66… → 77
    outcome = score_report(report(score=750, overdue_count_6m=1, overdue_count_24m=1,
                                  overdue_amount_6m=1, overdue_amount_24m=1), History(), DEFAULT_CREDIT)
    assert outcome.score == 77 and outcome.grade == "AA"


@pytest.mark.parametrize("changes, refusal", [
    ({"identity_matched": False, "identity_reason": "not_found"}, "identity_mismatch"),
    ({"identity_matched": False, "identity_reason": "name_mismatch"}, "identity_mismatch"),
    ({"blacklisted": True}, "blacklisted"),
    ({"court_judgment": True}, "court_judgment"),
    ({"score": 300, "overdue_count_6m": 5, "overdue_count_24m": 9, "overdue_amount_6m": 1, "overdue_amount_24m": 1,
      "open_debts": (OpenDebt("bank", "B", 90_000_000),)}, "score_too_low"),
])
def test_refusal_rules_refuse_whatever_else_the_report_says(changes, refusal):
    outcome = score_report(report(**changes), History(on_time=50), DEFAULT_CREDIT)
    assert outcome.refused and outcome.refusal == refusal
    assert outcome.grade is None and outcome.limit == 0 and outcome.rate_min is None
    assert len(outcome.reasons) == len(FACTORS)  # staff still see the figures


def test_a_tenant_may_switch_off_the_blacklist_and_court_rules_but_not_identity():
    lenient = with_credit(refuse={"blacklisted": False, "court_judgment": False})
    assert score_report(report(blacklisted=True, court_judgment=True), History(), lenient).grade == "AAA"
    assert score_report(report(identity_matched=False, identity_reason="not_found"), History(), lenient).refusal == "identity_mismatch"


def test_the_platform_history_moves_the_grade():
    sandbox_a = synthetic_report("person", PERSON["903"])
    new = score_report(sandbox_a, History(), DEFAULT_CREDIT)
    good = score_report(sandbox_a, History(on_time=12, owed=0, limit=10_000_000), DEFAULT_CREDIT)
    bad = score_report(sandbox_a, History(on_time=6, late=6, overdue_now=50_000, owed=10_000_000, limit=10_000_000), DEFAULT_CREDIT)
    assert (new.grade, good.grade, bad.grade) == ("A", "AA", "B")
    assert {r.factor: r.figures for r in bad.reasons}["utilisation"] == {"owed": 10_000_000, "limit": 10_000_000}


def test_utilisation_is_measured_against_the_aaa_limit_before_a_first_grade():
    outcome = score_report(report(), History(owed=10_000_000), DEFAULT_CREDIT)
    assert {r.factor: r.value for r in outcome.reasons}["utilisation"] == Decimal("0.5000")


def test_a_tenants_own_weights_and_thresholds_are_used():
    bureau_only = with_credit(scorecard={"weights": {"bureau_score": 100}})
    grades = copy.deepcopy(DEFAULT_CREDIT["grades"])
    grades["AAA"]["min_score"] = 99
    strict = with_credit(grades=grades)
    assert score_report(report(score=600), History(), bureau_only).score == 50
    assert score_report(report(score=870), History(), strict).grade == "AA"


@pytest.mark.parametrize("score, grade", [(100, "AAA"), (85, "AAA"), (84, "AA"), (75, "AA"), (74, "A"), (65, "A"),
                                          (64, "B"), (50, "B"), (49, "C"), (35, "C"), (34, None), (0, None)])
def test_grade_thresholds_are_inclusive_lower_bounds(score, grade):
    assert grade_for(score, DEFAULT_CREDIT) == grade


def test_history_refuses_negative_or_non_integer_figures():
    with pytest.raises(ValueError):
        History(owed=-1)
    with pytest.raises(ValueError):
        History(on_time=1.5)


reports = st.builds(
    lambda score, c6, extra, debt, platform: report(
        score=score, overdue_count_6m=c6, overdue_amount_6m=c6 * 100, overdue_count_24m=c6 + extra,
        overdue_amount_24m=(c6 + extra) * 100,
        open_debts=(OpenDebt("bank", "B", debt), OpenDebt("platform", "P", platform)),
    ),
    st.one_of(st.none(), st.integers(300, 900)), st.integers(0, 10), st.integers(0, 10),
    st.integers(0, 10**9), st.integers(0, 10**9),
)
histories = st.builds(History, on_time=st.integers(0, 500), late=st.integers(0, 500),
                      overdue_now=st.integers(0, 10**8), owed=st.integers(0, 10**9),
                      limit=st.one_of(st.none(), st.integers(1, 10**9)))


@settings(max_examples=200, deadline=None)
@given(reports, histories)
def test_every_score_is_between_0_and_100_and_graded_scores_carry_their_grade_terms(rep, history):
    outcome = score_report(rep, history, DEFAULT_CREDIT)
    assert 0 <= outcome.score <= 100
    assert all(Decimal(0) <= r.value <= Decimal(1) for r in outcome.reasons)
    if outcome.grade:
        terms = DEFAULT_CREDIT["grades"][outcome.grade]
        assert outcome.limit == terms["limit"] and outcome.score >= terms["min_score"]
    else:
        assert outcome.refusal == "score_too_low" and outcome.score < DEFAULT_CREDIT["grades"]["C"]["min_score"]


@settings(max_examples=100, deadline=None)
@given(reports, histories, st.integers(300, 899))
def test_a_better_bureau_score_never_lowers_the_score(rep, history, lower):
    higher = replace(rep, score=lower + 1)
    assert score_report(higher, history, DEFAULT_CREDIT).score >= score_report(replace(rep, score=lower), history, DEFAULT_CREDIT).score
