"""Specification of core.lending.schedule: repayment schedules in integer minor
units for 等额本息, 等额本金, 先息后本 and 一次性还本付息.

Expected figures come from textbook values and from an independent
Decimal calculation in this file, never from the implementation's output.
"""

import dataclasses
import json
from datetime import date, timedelta
from decimal import Context, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.lending.schedule import (
    METHODS,
    Installment,
    Schedule,
    add_months,
    build_schedule,
    payment_formula,
)
from core.money import ROUNDING_MODES

spec = settings(database=None, deadline=None)

WIDE = Context(prec=80)
MODES = sorted(ROUNDING_MODES)
START = date(2024, 1, 15)


def cents(value: Decimal, mode: str = "half_up") -> int:
    """Oracle rounding of a Decimal amount of minor units."""
    return int(value.quantize(Decimal(1), rounding=ROUNDING_MODES[mode], context=WIDE))


def monthly_interest(remaining: int, annual_rate: Decimal, mode: str = "half_up") -> int:
    """Oracle: round(remaining * annual_rate / 12). The product is exact, so a
    tie such as 0.5 stays a tie after the division."""
    return cents(WIDE.divide(WIDE.multiply(Decimal(remaining), annual_rate), 12), mode)


def annuity(principal: int, annual_rate: Decimal, months: int) -> Decimal:
    """Oracle: P·r·(1+r)^n / ((1+r)^n − 1) at 80 significant digits."""
    r = WIDE.divide(annual_rate, 12)
    growth = WIDE.power(WIDE.add(1, r), months)
    return WIDE.divide(WIDE.multiply(WIDE.multiply(principal, r), growth), WIDE.subtract(growth, 1))


def accumulation_factor(annual_rate: Decimal, months: int) -> Decimal:
    """((1+r)^n − 1) / r: the future value of n unit errors (n when r = 0)."""
    r = WIDE.divide(annual_rate, 12)
    if r == 0:
        return Decimal(months)
    return WIDE.divide(WIDE.subtract(WIDE.power(WIDE.add(1, r), months), 1), r)


principals = st.integers(1, 10**10)
rates = st.integers(0, 3600).map(lambda k: Decimal(k).scaleb(-4))  # 0 .. 0.36, 4 places
terms = st.integers(1, 60)
# (principal, months) with at least 10.00 of principal per month
sizeable_loans = terms.flatmap(lambda n: st.tuples(st.integers(1000 * n, 10**10), st.just(n)))
starts = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


# --- add_months ------------------------------------------------------------


@pytest.mark.parametrize(
    "start, months, expected",
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2100, 1, 31), 1, date(2100, 2, 28)),  # century, not a leap year
        (date(2000, 1, 31), 1, date(2000, 2, 29)),  # 400-year leap year
        (date(2024, 1, 31), 2, date(2024, 3, 31)),  # not chained through Feb 29
        (date(2024, 1, 31), 3, date(2024, 4, 30)),
        (date(2024, 1, 31), 13, date(2025, 2, 28)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 3, 31), 1, date(2024, 4, 30)),
        (date(2024, 12, 31), 1, date(2025, 1, 31)),
        (date(2024, 8, 31), 6, date(2025, 2, 28)),
        (date(2024, 1, 15), 360, date(2054, 1, 15)),
        (date(2024, 5, 17), 0, date(2024, 5, 17)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2024, 1, 31), -2, date(2023, 11, 30)),
    ],
)
def test_add_months_clamps_to_month_end(start, months, expected):
    assert add_months(start, months) == expected


@spec
@given(starts, st.integers(-600, 600))
def test_add_months_moves_the_calendar_month_and_keeps_the_day_if_it_exists(d, months):
    result = add_months(d, months)
    assert (result.year * 12 + result.month) - (d.year * 12 + d.month) == months
    if result.day != d.day:
        assert result.day < d.day
        assert (result + timedelta(days=1)).month != result.month  # clamped to month end


@spec
@given(starts.filter(lambda d: d.day <= 28), st.integers(0, 120), st.integers(0, 120))
def test_add_months_composes_when_no_clamping_happens(d, a, b):
    assert add_months(add_months(d, a), b) == add_months(d, a + b)


def test_schedule_due_dates_from_a_month_end_are_not_chained():
    s = build_schedule(1_200_00, Decimal("0.12"), 6, "equal_principal", date(2024, 1, 31))
    assert [i.due_date for i in s.installments] == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
        date(2024, 6, 30),
        date(2024, 7, 31),
    ]


# --- invariants for every method ---------------------------------------------


@spec
@given(principals, rates, terms, st.sampled_from(METHODS), starts, st.sampled_from(MODES))
def test_every_schedule_repays_exactly_the_principal(principal, rate, months, method, start, mode):
    s = build_schedule(principal, rate, months, method, start, mode)
    inst = s.installments
    assert (s.principal, s.annual_rate, s.months, s.method) == (principal, rate, months, method)
    assert len(inst) == (1 if method == "bullet" else months)
    assert [i.number for i in inst] == list(range(1, len(inst) + 1))
    assert sum(i.principal for i in inst) == principal
    assert all(i.principal >= 0 and i.interest >= 0 for i in inst)
    assert inst[-1].remaining == 0
    owed = principal
    for i in inst:
        owed -= i.principal
        assert i.remaining == owed
        assert i.payment == i.principal + i.interest
    assert s.total_interest == sum(i.interest for i in inst)
    assert s.total_payment == principal + s.total_interest
    offsets = [months] if method == "bullet" else range(1, months + 1)
    assert [i.due_date for i in inst] == [add_months(start, k) for k in offsets]


@spec
@given(principals, terms, st.sampled_from(METHODS), st.sampled_from(MODES))
def test_zero_rate_charges_no_interest(principal, months, method, mode):
    s = build_schedule(principal, Decimal(0), months, method, START, mode)
    assert s.total_interest == 0
    assert s.total_payment == principal


@spec
@given(principals, rates, terms, st.sampled_from(METHODS))
def test_to_dict_is_plain_json(principal, rate, months, method):
    s = build_schedule(principal, rate, months, method, START)
    d = json.loads(json.dumps(s.to_dict()))
    assert d["principal"] == principal
    assert Decimal(d["annual_rate"]) == rate
    assert (d["months"], d["method"]) == (months, method)
    assert d["total_interest"] == s.total_interest
    assert d["total_payment"] == s.total_payment
    assert [row["due_date"] for row in d["installments"]] == [
        i.due_date.isoformat() for i in s.installments
    ]
    assert [(r["principal"], r["interest"], r["payment"], r["remaining"]) for r in d["installments"]] == [
        (i.principal, i.interest, i.payment, i.remaining) for i in s.installments
    ]


def test_schedule_and_installment_are_frozen():
    s = build_schedule(10_000, "0.1", 2, "equal_installment", START)
    assert isinstance(s, Schedule) and isinstance(s.installments[0], Installment)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.principal = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.installments[0].interest = 0


def test_string_rate_is_accepted_and_kept_as_decimal():
    s = build_schedule(10_000, "0.0850", 3, "interest_first", START)
    assert s.annual_rate == Decimal("0.085")
    assert s.to_dict()["annual_rate"] == "0.0850"


# --- equal_installment (等额本息) ---------------------------------------------


@spec
@given(principals, rates.filter(bool), terms, st.sampled_from(MODES))
def test_equal_installment_pays_the_rounded_annuity_until_the_last_installment(
    principal, rate, months, mode
):
    s = build_schedule(principal, rate, months, "equal_installment", START, mode)
    exact = annuity(principal, rate, months)
    payment = cents(exact, mode)
    owed = principal
    for i in s.installments:
        assert i.interest == monthly_interest(owed, rate, mode)
        if i.number < months:
            # Only loans of a few cents per month can be paid off early by
            # rounding; the installments after that repay the nothing left.
            assert i.payment == payment or i.remaining == 0
        owed = i.remaining
    # The last installment absorbs every rounding error. Each month adds at
    # most one cent of error, compounding at r, hence the accumulation factor
    # (about `months` cents at low rates).
    last = s.installments[-1].payment
    assert abs(last - exact) <= accumulation_factor(rate, months) + 1


@spec
@given(sizeable_loans, rates.filter(bool), st.sampled_from(MODES))
def test_equal_installment_is_level_for_loans_of_ten_units_a_month_or_more(loan, rate, mode):
    principal, months = loan
    s = build_schedule(principal, rate, months, "equal_installment", START, mode)
    payment = cents(annuity(principal, rate, months), mode)
    assert {i.payment for i in s.installments[:-1]} <= {payment}
    assert all(i.remaining > 0 for i in s.installments[:-1])


@spec
@given(sizeable_loans, rates.filter(bool))
def test_equal_installment_interest_falls_and_principal_share_grows(loan, rate):
    principal, months = loan
    inst = build_schedule(principal, rate, months, "equal_installment", START).installments
    interests = [i.interest for i in inst]
    assert interests == sorted(interests, reverse=True)
    level = [i.principal for i in inst[:-1]]
    assert level == sorted(level)


@spec
@given(principals, terms)
def test_equal_installment_at_zero_rate_splits_principal_evenly(principal, months):
    s = build_schedule(principal, "0", months, "equal_installment", START)
    q, extra = divmod(principal, months)
    assert [i.payment for i in s.installments] == [q + 1] * extra + [q] * (months - extra)


def test_textbook_100k_cny_at_12_percent_over_12_months_equal_installment():
    s = build_schedule(100_000_00, Decimal("0.12"), 12, "equal_installment", date(2024, 1, 1))
    assert s.installments[0].payment == 8_884_88  # 8,884.88
    assert s.installments[0].interest == 1_000_00
    assert s.installments[0].principal == 7_884_88
    # Independent month-by-month calculation in Decimal (r = 1% exactly).
    owed, total_interest = Decimal("100000.00"), Decimal(0)
    for i in s.installments:
        interest = (owed * Decimal("0.01")).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
        paid = owed if i.number == 12 else Decimal("8884.88") - interest
        owed -= paid
        total_interest += interest
        assert (i.principal, i.interest) == (int(paid * 100), int(interest * 100))
    assert owed == 0
    assert s.total_interest == int(total_interest * 100) == 6_618_53
    assert s.installments[-1].payment == 8_884_85


def test_textbook_1m_cny_mortgage_at_4_9_percent_over_30_years():
    s = build_schedule(1_000_000_00, Decimal("0.049"), 360, "equal_installment", date(2024, 1, 1))
    assert s.installments[0].payment == 5_307_27  # 5,307.27 a month
    assert s.installments[0].interest == 4_083_33
    assert s.installments[-1].due_date == date(2054, 1, 1)
    assert abs(s.total_interest - (5_307_27 * 360 - 1_000_000_00)) <= 360


def test_textbook_200k_usd_mortgage_at_6_5_percent_over_30_years():
    s = build_schedule(200_000_00, Decimal("0.065"), 360, "equal_installment", date(2024, 1, 1))
    assert s.installments[0].payment == 1_264_14  # $1,264.14 a month


# --- equal_principal (等额本金) ----------------------------------------------


@spec
@given(principals, rates, terms, st.sampled_from(MODES))
def test_equal_principal_repays_level_principal_front_loading_the_extra_cents(
    principal, rate, months, mode
):
    s = build_schedule(principal, rate, months, "equal_principal", START, mode)
    q, extra = divmod(principal, months)
    assert [i.principal for i in s.installments] == [q + 1] * extra + [q] * (months - extra)
    owed = principal
    for i in s.installments:
        assert i.interest == monthly_interest(owed, rate, mode)
        owed = i.remaining
    payments = [i.payment for i in s.installments]
    assert payments == sorted(payments, reverse=True)


def test_textbook_100k_cny_at_12_percent_over_12_months_equal_principal():
    s = build_schedule(100_000_00, Decimal("0.12"), 12, "equal_principal", date(2024, 1, 1))
    # 100,000.00 / 12 = 8,333.33 r 4 cents: the first four installments take 8,333.34.
    assert [i.principal for i in s.installments] == [8_333_34] * 4 + [8_333_33] * 8
    assert s.installments[0].payment == 9_333_34  # 8,333.34 + 1,000.00
    assert s.installments[1].interest == 916_67  # 1% of 91,666.66
    owed, expected_interest = Decimal("100000.00"), []
    for i in s.installments:
        expected_interest.append((owed * Decimal("0.01")).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP"))
        owed -= Decimal(i.principal) / 100
    assert [i.interest for i in s.installments] == [int(x * 100) for x in expected_interest]
    assert s.total_interest == 6_500_00  # P·r·(n+1)/2, the rounding cancels out here
    assert s.installments[-1].payment == 8_416_66  # 8,333.33 + 83.33


def test_textbook_1m_cny_mortgage_equal_principal():
    s = build_schedule(1_000_000_00, Decimal("0.049"), 360, "equal_principal", date(2024, 1, 1))
    assert s.installments[0].payment == 6_861_11  # 2,777.78 + 4,083.33
    assert s.installments[0].payment - s.installments[1].payment == 11_34  # monthly decrease


# --- interest_first (先息后本) and bullet (一次性还本付息) ----------------------


@spec
@given(principals, rates, terms, st.sampled_from(MODES))
def test_interest_first_pays_level_interest_then_all_principal(principal, rate, months, mode):
    inst = build_schedule(principal, rate, months, "interest_first", START, mode).installments
    interest = monthly_interest(principal, rate, mode)
    assert [i.interest for i in inst] == [interest] * months
    assert [i.principal for i in inst] == [0] * (months - 1) + [principal]
    assert all(i.remaining == principal for i in inst[:-1])


@spec
@given(principals, rates, terms, st.sampled_from(MODES), starts)
def test_bullet_is_one_installment_at_maturity(principal, rate, months, mode, start):
    (only,) = build_schedule(principal, rate, months, "bullet", start, mode).installments
    expected = cents(WIDE.divide(WIDE.multiply(principal * months, rate), 12), mode)
    assert (only.number, only.due_date) == (1, add_months(start, months))
    assert (only.principal, only.interest, only.remaining) == (principal, expected, 0)


def test_textbook_100k_cny_at_12_percent_interest_first_and_bullet():
    s = build_schedule(100_000_00, Decimal("0.12"), 12, "interest_first", date(2024, 1, 31))
    assert [i.payment for i in s.installments] == [1_000_00] * 11 + [101_000_00]
    b = build_schedule(100_000_00, Decimal("0.12"), 12, "bullet", date(2024, 1, 31))
    assert [(i.due_date, i.principal, i.interest) for i in b.installments] == [
        (date(2025, 1, 31), 100_000_00, 12_000_00)
    ]


def test_rounding_mode_applies_to_interest():
    # 0.01 * 0.10 / 12 = 0.000833 of a cent for a month.
    assert build_schedule(1, "0.10", 1, "bullet", START, "half_up").total_interest == 0
    assert build_schedule(1, "0.10", 1, "bullet", START, "up").total_interest == 1
    # 60 cents at 10% for a month is exactly half a cent.
    assert build_schedule(60, "0.10", 1, "bullet", START, "half_up").total_interest == 1
    assert build_schedule(60, "0.10", 1, "bullet", START, "half_even").total_interest == 0
    assert build_schedule(60, "0.10", 1, "bullet", START, "down").total_interest == 0


# --- payment_formula -----------------------------------------------------------


def test_payment_formula_examples():
    exact = payment_formula(100_000_00, Decimal("0.12"), 12)  # 888,487.886783... cents
    assert exact.quantize(Decimal("0.000001")) == Decimal("888487.886783")
    assert payment_formula(1200, "0", 12) == 100
    assert payment_formula(1000, "0", 3) == Decimal("333." + "3" * 47)  # 50 significant digits


@spec
@given(principals, rates, st.integers(1, 360))
def test_payment_formula_matches_the_annuity_formula(principal, rate, months):
    expected = annuity(principal, rate, months) if rate else WIDE.divide(principal, months)
    assert abs(payment_formula(principal, rate, months) - expected) <= expected.scaleb(-45)


# --- bad input -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"principal": 0}, "principal"),
        ({"principal": -100}, "principal"),
        ({"principal": 100.0}, "principal"),
        ({"principal": Decimal(100)}, "principal"),
        ({"principal": "100"}, "principal"),
        ({"principal": True}, "principal"),
        ({"annual_rate": Decimal("-0.01")}, "annual_rate"),
        ({"annual_rate": Decimal(1)}, "annual_rate"),
        ({"annual_rate": "1.5"}, "annual_rate"),
        ({"annual_rate": 0.1}, "annual_rate"),
        ({"annual_rate": "ten percent"}, "annual_rate"),
        ({"annual_rate": "NaN"}, "annual_rate"),
        ({"annual_rate": Decimal("Infinity")}, "annual_rate"),
        ({"annual_rate": None}, "annual_rate"),
        ({"months": 0}, "months"),
        ({"months": 361}, "months"),
        ({"months": 12.0}, "months"),
        ({"months": True}, "months"),
        ({"method": "balloon"}, "method"),
        ({"method": "EQUAL_INSTALLMENT"}, "method"),
        ({"start": "2024-01-01"}, "start"),
        ({"rounding": "nearest"}, "rounding"),
    ],
)
def test_build_schedule_rejects_bad_input_naming_the_argument(kwargs, argument):
    args = {
        "principal": 100_000_00,
        "annual_rate": Decimal("0.12"),
        "months": 12,
        "method": "equal_installment",
        "start": START,
    } | kwargs
    with pytest.raises(ValueError, match=argument):
        build_schedule(**args)


@pytest.mark.parametrize(
    "args, argument",
    [
        ((0, "0.1", 12), "principal"),
        ((100, "1", 12), "annual_rate"),
        ((100, "0.1", 0), "months"),
    ],
)
def test_payment_formula_rejects_bad_input(args, argument):
    with pytest.raises(ValueError, match=argument):
        payment_formula(*args)


def test_methods_are_the_four_documented_ones():
    assert METHODS == ("equal_installment", "equal_principal", "interest_first", "bullet")


def test_longest_allowed_term_builds_quickly():
    s = build_schedule(10**10, "0.3599", 360, "equal_installment", START)
    assert len(s.installments) == 360 and s.installments[-1].remaining == 0
