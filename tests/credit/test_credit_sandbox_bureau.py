"""The sandbox bureau: every documented identity is valid and reaches its documented grade or refusal."""
import re
from pathlib import Path

import pytest

from core.accounts.identity import validate_resident_id, validate_uscc
from core.credit import BureauReport, BureauUnavailable
from core.credit.scoring import History, score_report
from core.credit.settings import DEFAULT_CREDIT
from plugins.credit_bureau.sandbox import PROFILES, SandboxBureau, synthetic_report

from credit_support import ENTERPRISE, PERSON

ROOT = Path(__file__).parent.parent.parent
DOCS = [ROOT / "docs" / "credit.md", ROOT / "plugins" / "credit_bureau" / "README.md"]

#: What each documented code gives under the default scorecard, for a borrower new to the platform.
EXPECTED = {
    "901": ("AAA", None), "902": ("AA", None), "903": ("A", None), "904": ("B", None), "905": ("C", None),
    "906": (None, "score_too_low"),
    "920": ("AA", None), "921": ("AA", None),
    "990": (None, "blacklisted"), "991": (None, "court_judgment"),
    "998": (None, "identity_mismatch"), "999": (None, "identity_mismatch"),
}


def sandbox():
    return SandboxBureau({}, tenant_slug="test")


def test_every_profile_has_an_expected_outcome():
    assert set(EXPECTED) == set(PROFILES)


@pytest.mark.parametrize("code", sorted(PROFILES))
def test_the_documented_identities_have_valid_check_digits(code):
    assert validate_resident_id(PERSON[code]).number == PERSON[code]
    assert validate_uscc(ENTERPRISE[code]).code == ENTERPRISE[code]


@pytest.mark.parametrize("subject_type", ["person", "enterprise"])
@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_each_documented_identity_reaches_its_grade_or_refusal(code, subject_type):
    number = (PERSON if subject_type == "person" else ENTERPRISE)[code]
    report = sandbox().fetch_report(subject_type, number)
    outcome = score_report(report, History(), DEFAULT_CREDIT)
    assert (outcome.grade, outcome.refusal) == EXPECTED[code]


def test_every_grade_and_every_refusal_is_reachable():
    outcomes = [score_report(sandbox().fetch_report("person", n), History(), DEFAULT_CREDIT) for n in PERSON.values()]
    assert {o.grade for o in outcomes} >= {"AAA", "AA", "A", "B", "C"}
    assert {o.refusal for o in outcomes} >= {"identity_mismatch", "blacklisted", "court_judgment", "score_too_low"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_the_docs_list_every_sandbox_identity(doc):
    text = doc.read_text(encoding="utf-8")
    for code in PROFILES:
        assert PERSON[code] in text, f"{doc.name} does not list {PERSON[code]} ({code})"
        assert ENTERPRISE[code] in text, f"{doc.name} does not list {ENTERPRISE[code]} ({code})"


def test_the_docs_table_gives_each_identity_its_outcome():
    text = (ROOT / "docs" / "credit.md").read_text(encoding="utf-8")
    for code, (grade, refusal) in EXPECTED.items():
        row = next(line for line in text.splitlines() if PERSON[code] in line)
        cells = [c.strip(" `") for c in row.split("|")]
        assert (grade or refusal) in cells, row


def test_cross_platform_balances_for_the_cap_identities():
    assert sandbox().fetch_report("person", PERSON["920"]).platform_balance == 95_000_000
    assert sandbox().fetch_report("person", PERSON["921"]).platform_balance == 100_000_000
    assert sandbox().fetch_report("enterprise", ENTERPRISE["921"]).platform_balance == 500_000_000


def test_reports_are_deterministic_and_round_trip_through_json():
    first, second = (synthetic_report("person", "110105198512310017") for _ in range(2))
    assert first.reference == second.reference and first.score == second.score
    assert first.open_debts == second.open_debts
    assert BureauReport.from_dict(first.to_dict()) == first


def test_a_number_failing_its_check_digit_is_not_found():
    bad = PERSON["901"][:-1] + ("0" if PERSON["901"][-1] != "0" else "1")
    report = sandbox().fetch_report("person", bad)
    assert not report.identity_matched and report.identity_reason == "not_found"


def test_the_identity_check_keeps_its_documented_behaviour():
    bureau = sandbox()
    assert bureau.verify_identity("张三", PERSON["999"]).reason == "not_found"
    assert bureau.verify_identity("张三", PERSON["998"]).reason == "name_mismatch"
    assert bureau.verify_identity("张三", PERSON["901"]).matched
    assert sandbox().fetch_report("person", PERSON["998"]).identity_reason == "name_mismatch"


def test_the_outage_setting_makes_every_call_unavailable():
    bureau = SandboxBureau({"outage": True}, tenant_slug="test")
    with pytest.raises(BureauUnavailable):
        bureau.fetch_report("person", PERSON["901"])
    with pytest.raises(BureauUnavailable):
        bureau.verify_identity("张三", PERSON["901"])


def test_enterprise_amounts_are_five_times_a_persons():
    person, enterprise = (sandbox().fetch_report(t, n) for t, n in (("person", PERSON["904"]), ("enterprise", ENTERPRISE["904"])))
    assert enterprise.total_balance == 5 * person.total_balance
    assert enterprise.overdue_amount_24m == 5 * person.overdue_amount_24m
    assert re.fullmatch(r"SBX-[0-9A-F]{12}", enterprise.reference)
