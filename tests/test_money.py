"""Specification of core.money: integer minor units, Decimal rates, explicit
rounding and exact largest-remainder allocation."""

from decimal import Context, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.money import (
    ROUNDING_MODES,
    allocate,
    apply_rate,
    from_minor,
    minor_units,
    round_minor,
    split_pro_rata,
    to_minor,
)

# No example database on disk, no wall-clock deadline (CI machines vary).
spec = settings(database=None, deadline=None)

MODES = sorted(ROUNDING_MODES)
WIDE = Context(prec=200)


def decimal_round(value: Decimal, mode: str) -> int:
    """Oracle: the decimal module's own rounding, at ample precision."""
    return int(value.quantize(Decimal(1), rounding=ROUNDING_MODES[mode], context=WIDE))


# --- rounding modes -------------------------------------------------------


def test_rounding_modes_are_the_four_documented_names():
    assert set(ROUNDING_MODES) == {"half_up", "half_even", "down", "up"}


@pytest.mark.parametrize(
    "value, mode, expected",
    [
        ("2.5", "half_up", 3),
        ("-2.5", "half_up", -3),  # ties away from zero
        ("2.5", "half_even", 2),
        ("3.5", "half_even", 4),
        ("-2.5", "half_even", -2),
        ("2.9", "down", 2),
        ("-2.9", "down", -2),  # toward zero
        ("2.1", "up", 3),
        ("-2.1", "up", -3),  # away from zero
        ("7", "up", 7),
        ("0.4999999999999999999999999999999999", "half_up", 0),
    ],
)
def test_round_minor_examples(value, mode, expected):
    assert round_minor(Decimal(value), mode) == expected


@spec
@given(st.decimals(min_value=-10**15, max_value=10**15, places=6), st.sampled_from(MODES))
def test_round_minor_agrees_with_decimal_quantize(value, mode):
    assert round_minor(value, mode) == decimal_round(value, mode)


def test_round_minor_defaults_to_half_up():
    assert round_minor(Decimal("0.5")) == 1


def test_round_minor_rejects_floats_and_unknown_modes():
    with pytest.raises(TypeError):
        round_minor(0.5)
    with pytest.raises(ValueError, match="rounding"):
        round_minor(Decimal("0.5"), "nearest")


# --- currencies -----------------------------------------------------------


@pytest.mark.parametrize("currency, exponent", [("CNY", 2), ("USD", 2), ("EUR", 2), ("JPY", 0)])
def test_minor_units(currency, exponent):
    assert minor_units(currency) == exponent


@pytest.mark.parametrize("currency", ["ZZZ", "cny", "", "DOLLARS"])
def test_minor_units_rejects_unknown_currency(currency):
    with pytest.raises(ValueError, match="currency"):
        minor_units(currency)


@pytest.mark.parametrize(
    "value, currency, mode, expected",
    [
        ("12.345", "CNY", "half_up", 1235),
        ("12.345", "CNY", "half_even", 1234),
        ("12.355", "CNY", "half_even", 1236),
        ("12.349", "CNY", "down", 1234),
        ("12.341", "CNY", "up", 1235),
        ("-12.345", "CNY", "half_up", -1235),
        (Decimal("100000.00"), "CNY", "half_up", 10_000_000),
        (5, "USD", "half_up", 500),
        ("1234.5", "JPY", "half_up", 1235),
        ("1234", "JPY", "half_up", 1234),
        ("123456789012345678901234567890.01", "USD", "half_up", 12345678901234567890123456789001),
    ],
)
def test_to_minor_examples(value, currency, mode, expected):
    assert to_minor(value, currency, mode) == expected


def test_to_minor_rejects_floats_garbage_and_bad_modes():
    with pytest.raises(TypeError):
        to_minor(12.34, "CNY")
    with pytest.raises(ValueError):
        to_minor("12,34", "CNY")
    with pytest.raises(ValueError):
        to_minor("NaN", "CNY")
    with pytest.raises(ValueError, match="rounding"):
        to_minor("1", "CNY", "bankers")


def test_from_minor_is_exact_with_the_currency_exponent():
    assert from_minor(1235, "CNY") == Decimal("12.35")
    assert str(from_minor(1235, "CNY")) == "12.35"
    assert str(from_minor(0, "USD")) == "0.00"
    assert str(from_minor(-5, "USD")) == "-0.05"
    assert str(from_minor(1235, "JPY")) == "1235"
    assert from_minor(10**30 + 1, "CNY") == Decimal("10000000000000000000000000000.01")


def test_from_minor_rejects_non_int_amounts():
    with pytest.raises(TypeError):
        from_minor(12.5, "CNY")
    with pytest.raises(TypeError):
        from_minor(Decimal("12"), "CNY")


@spec
@given(st.integers(-10**20, 10**20), st.sampled_from(["CNY", "USD", "JPY", "KWD"]))
def test_minor_to_major_round_trip(amount, currency):
    assert to_minor(from_minor(amount, currency), currency) == amount
    assert to_minor(str(from_minor(amount, currency)), currency) == amount


# --- allocate -------------------------------------------------------------


@pytest.mark.parametrize(
    "total, weights, expected",
    [
        (100, [1, 1, 1], [34, 33, 33]),  # equal remainders: lower index first
        (-100, [1, 1, 1], [-34, -33, -33]),  # negative: mirror of the positive split
        (10, [1, 0, 1], [5, 0, 5]),
        (5, [3, 3, 4], [2, 1, 2]),
        (2, [1, 3], [0, 2]),  # equal remainders (.5, .5): larger weight first
        (1, [2, 1], [1, 0]),  # larger remainder (.67 vs .33) first
        (0, [5, 7], [0, 0]),
        (7, [4], [7]),
        (3, [0, 0, 1, 0], [0, 0, 3, 0]),
    ],
)
def test_allocate_examples(total, weights, expected):
    assert allocate(total, weights) == expected


totals = st.integers(-10**15, 10**15)
weight_lists = st.lists(st.integers(0, 10**9), min_size=1, max_size=30).filter(any)


@spec
@given(totals, weight_lists)
def test_allocate_parts_sum_exactly_to_total(total, weights):
    assert sum(allocate(total, weights)) == total


@spec
@given(totals, weight_lists)
def test_allocate_each_part_is_floor_or_ceil_of_exact_share(total, weights):
    for part, w in zip(allocate(total, weights), weights):
        share = Fraction(total * w, sum(weights))
        assert abs(part - share) < 1
        assert part in (share.__floor__(), share.__ceil__())


@spec
@given(totals, weight_lists)
def test_allocate_is_deterministic(total, weights):
    assert allocate(total, weights) == allocate(total, list(weights))
    assert allocate(total, weights) == allocate(total, tuple(weights))


@spec
@given(st.integers(0, 10**15), weight_lists)
def test_allocate_larger_weight_never_gets_less(total, weights):
    parts = allocate(total, weights)
    for i, wi in enumerate(weights):
        for j, wj in enumerate(weights):
            if wi > wj:
                assert parts[i] >= parts[j]
            if wi == wj:
                assert abs(parts[i] - parts[j]) <= 1


@spec
@given(st.integers(0, 10**15), weight_lists)
def test_allocate_negative_total_mirrors_positive(total, weights):
    assert allocate(-total, weights) == [-p for p in allocate(total, weights)]


@spec
@given(totals, weight_lists)
def test_allocate_zero_weight_gets_nothing(total, weights):
    for part, w in zip(allocate(total, weights), weights):
        if w == 0:
            assert part == 0


@spec
@given(st.integers(0, 10**6), st.integers(1, 50))
def test_allocate_equal_weights_front_loads_the_extra_units(total, n):
    parts = allocate(total, [1] * n)
    assert parts == sorted(parts, reverse=True)
    assert max(parts) - min(parts) <= 1


@pytest.mark.parametrize(
    "total, weights, error, message",
    [
        (100, [], ValueError, "weights"),
        (100, [0, 0], ValueError, "weights"),
        (100, [1, -1, 3], ValueError, "non-negative"),
        (100.0, [1, 1], TypeError, "total"),
        (Decimal(100), [1, 1], TypeError, "total"),
        (True, [1, 1], TypeError, "total"),
        (100, [1, 0.5], TypeError, "weights"),
        (100, [Decimal(1)], TypeError, "weights"),
    ],
)
def test_allocate_rejects_bad_input(total, weights, error, message):
    with pytest.raises(error, match=message):
        allocate(total, weights)


# --- split_pro_rata -------------------------------------------------------


def test_split_pro_rata_example():
    holdings = {"alice": 5000, "bob": 3000, "carol": 2000}
    assert split_pro_rata(1001, holdings) == {"alice": 501, "bob": 300, "carol": 200}


@spec
@given(
    st.integers(-10**12, 10**12),
    st.dictionaries(st.text(max_size=5), st.integers(0, 10**9), min_size=1, max_size=20).filter(
        lambda d: any(d.values())
    ),
)
def test_split_pro_rata_keeps_key_order_and_sums(total, holdings):
    result = split_pro_rata(total, holdings)
    assert list(result) == list(holdings)
    assert sum(result.values()) == total
    assert list(result.values()) == allocate(total, list(holdings.values()))


def test_split_pro_rata_rejects_empty_holdings():
    with pytest.raises(ValueError):
        split_pro_rata(100, {})


# --- apply_rate -----------------------------------------------------------


@pytest.mark.parametrize(
    "amount, rate, mode, expected",
    [
        (10_000, Decimal("0.015"), "half_up", 150),  # 1.5% fee of 100.00
        (10_001, Decimal("0.015"), "half_up", 150),  # 150.015
        (10_034, Decimal("0.015"), "half_up", 151),  # 150.51
        (10_034, Decimal("0.015"), "down", 150),
        (10_001, Decimal("0.015"), "up", 151),
        (100, Decimal("0.005"), "half_up", 1),  # tie 0.5
        (100, Decimal("0.005"), "half_even", 0),
        (-100, Decimal("0.005"), "half_up", -1),
        (12_345, "0.1", "half_up", 1235),  # str rates accepted
        (12_345, 1, "half_up", 12_345),
        (10**20 + 5, Decimal("0.1"), "half_even", 10**19),  # exact beyond 28 digits
    ],
)
def test_apply_rate_examples(amount, rate, mode, expected):
    assert apply_rate(amount, rate, mode) == expected


@spec
@given(
    st.integers(-10**15, 10**15),
    st.decimals(min_value=-1, max_value=1, places=8),
    st.sampled_from(MODES),
)
def test_apply_rate_agrees_with_decimal_arithmetic(amount, rate, mode):
    assert apply_rate(amount, rate, mode) == decimal_round(WIDE.multiply(Decimal(amount), rate), mode)


def test_apply_rate_rejects_floats_and_non_int_amounts():
    with pytest.raises(TypeError, match="rate"):
        apply_rate(10_000, 0.015)
    with pytest.raises(TypeError, match="amount"):
        apply_rate(100.0, Decimal("0.015"))
    with pytest.raises(ValueError, match="rate"):
        apply_rate(100, "1.5%")
    with pytest.raises(ValueError, match="rounding"):
        apply_rate(100, "0.1", "HALF_UP")
