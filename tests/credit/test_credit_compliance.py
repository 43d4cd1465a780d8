"""Compliance packs: cn-2016 borrowing caps at their boundaries, and the none pack — no database."""
import pytest
from flask import Flask
from flask_babel import Babel, force_locale
from hypothesis import given, settings, strategies as st

from core.credit.compliance import ALL_PLATFORMS, PLATFORM, CompliancePack, check_borrowing, compliance_packs, get_pack
from core.credit.packs import Cn2016

YUAN = 100
CAPS = {  # (here, across all platforms), fen
    "person": (200_000 * YUAN, 1_000_000 * YUAN),
    "enterprise": (1_000_000 * YUAN, 5_000_000 * YUAN),
}


def test_the_core_registers_cn_2016_and_none_through_the_hook():
    packs = compliance_packs()
    assert {"cn-2016", "none"} <= set(packs)
    assert isinstance(packs["cn-2016"], CompliancePack) and packs["cn-2016"].name == "cn-2016"
    with pytest.raises(KeyError, match="no compliance pack named 'gb-2020'.*cn-2016"):
        get_pack("gb-2020")


@pytest.mark.parametrize("borrower", ["person", "enterprise"])
def test_exactly_at_the_platform_cap_is_allowed_one_fen_over_is_not(borrower):
    here_cap, _ = CAPS[borrower]
    owed = here_cap // 4
    at_cap = check_borrowing("cn-2016", borrower, owed, 0, here_cap - owed)
    assert at_cap.allowed and at_cap.headroom == here_cap - owed
    over = check_borrowing("cn-2016", borrower, owed, 0, here_cap - owed + 1)
    assert not over.allowed
    assert (over.rule, over.scope, over.cap, over.owed) == ("cn-2016 §17", PLATFORM, here_cap, owed)


@pytest.mark.parametrize("borrower", ["person", "enterprise"])
def test_exactly_at_the_cross_platform_cap_is_allowed_one_fen_over_is_not(borrower):
    here_cap, all_cap = CAPS[borrower]
    here, elsewhere = 10_000 * YUAN, all_cap - 60_000 * YUAN
    at_cap = check_borrowing("cn-2016", borrower, here, elsewhere, 50_000 * YUAN)
    assert at_cap.allowed and at_cap.headroom == 50_000 * YUAN
    over = check_borrowing("cn-2016", borrower, here, elsewhere, 50_000 * YUAN + 1)
    assert not over.allowed and over.scope == ALL_PLATFORMS and over.owed == here + elsewhere


def test_a_person_is_held_to_the_persons_caps_and_an_enterprise_to_its_own():
    amount = 300_000 * YUAN  # over a person's platform cap, within an enterprise's
    assert not check_borrowing("cn-2016", "person", 0, 0, amount).allowed
    assert check_borrowing("cn-2016", "enterprise", 0, 0, amount).allowed
    across = 2_000_000 * YUAN  # over a person's cross-platform cap, within an enterprise's
    assert not check_borrowing("cn-2016", "person", 0, across, 1).allowed
    assert check_borrowing("cn-2016", "enterprise", 0, across, 1).allowed


def test_the_refusal_names_the_rule_and_the_figures():
    decision = check_borrowing(Cn2016(), "person", 150_000 * YUAN, 0, 60_000 * YUAN)
    assert str(decision.message) == (
        "cn-2016 §17: a person may owe at most CNY 200,000.00 on one platform; owes 150,000.00, asks 60,000.00"
    )
    across = check_borrowing(Cn2016(), "enterprise", 100 * YUAN, 4_999_950 * YUAN, 51 * YUAN)
    assert str(across.message) == (
        "cn-2016 §17: an enterprise may owe at most CNY 5,000,000.00 across all platforms; "
        "owes 5,000,050.00 (100.00 here, 4,999,950.00 elsewhere), asks 51.00"
    )


def test_the_platform_cap_is_named_before_the_cross_platform_one():
    decision = check_borrowing("cn-2016", "person", 200_000 * YUAN, 800_000 * YUAN, 1)
    assert decision.scope == PLATFORM


def test_the_refusal_is_translated_when_rendered():
    app = Flask(__name__)
    Babel(app)
    decision = check_borrowing("cn-2016", "person", 150_000 * YUAN, 0, 60_000 * YUAN)
    with app.test_request_context(), force_locale("zh_CN"):
        assert "cn-2016 §17" in str(decision.message) and "200,000.00" in str(decision.message)


def test_the_none_pack_sets_no_cap():
    decision = check_borrowing("none", "person", 10**12, 10**12, 10**12)
    assert decision.allowed and decision.headroom is None and not decision.message


@pytest.mark.parametrize("args, error", [
    (("person", -1, 0, 0), ValueError),
    (("person", 0, 0, 1.5), TypeError),
    (("person", 0, True, 0), TypeError),
    (("robot", 0, 0, 0), ValueError),
])
def test_bad_figures_are_refused(args, error):
    with pytest.raises(error):
        check_borrowing("cn-2016", *args)


amounts = st.integers(0, 7_000_000 * YUAN)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["person", "enterprise"]), amounts, amounts, amounts)
def test_allowed_exactly_when_both_caps_hold_and_headroom_is_the_most_that_passes(borrower, here, elsewhere, requested):
    here_cap, all_cap = CAPS[borrower]
    decision = check_borrowing("cn-2016", borrower, here, elsewhere, requested)
    assert decision.allowed == (here + requested <= here_cap and here + elsewhere + requested <= all_cap)
    room = decision.headroom
    assert room == max(0, min(here_cap - here, all_cap - here - elsewhere))
    if here <= here_cap and here + elsewhere <= all_cap:
        assert check_borrowing("cn-2016", borrower, here, elsewhere, room).allowed
    assert not check_borrowing("cn-2016", borrower, here, elsewhere, room + 1).allowed
