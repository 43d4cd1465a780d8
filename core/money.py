"""Money arithmetic: integer minor units, Decimal rates, explicit rounding.

Conventions used across lendkit:

* An amount of money is an ``int`` in the currency's minor unit (fen, cents).
* A rate is a :class:`decimal.Decimal` (``str`` and ``int`` are accepted and
  converted exactly); ``float`` is rejected everywhere.
* Every rounding step is explicit and takes one of the mode names in
  :data:`ROUNDING_MODES`.
* Products of amounts and rates are computed exactly (as rationals) and rounded
  once, so no intermediate precision loss can move a result across a rounding
  boundary.
"""

from __future__ import annotations

import decimal
import heapq
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import TypeVar

from babel.numbers import get_currency_precision, is_currency

__all__ = [
    "ROUNDING_MODES",
    "allocate",
    "apply_rate",
    "from_minor",
    "minor_units",
    "round_minor",
    "split_pro_rata",
    "to_decimal",
    "to_minor",
]

K = TypeVar("K")

#: Our rounding mode names -> :mod:`decimal` rounding constants.
#: ``half_up`` rounds ties away from zero, ``half_even`` rounds ties to even
#: (banker's rounding), ``down`` truncates toward zero, ``up`` rounds away
#: from zero.
ROUNDING_MODES: Mapping[str, str] = MappingProxyType(
    {
        "half_up": decimal.ROUND_HALF_UP,
        "half_even": decimal.ROUND_HALF_EVEN,
        "down": decimal.ROUND_DOWN,
        "up": decimal.ROUND_UP,
    }
)


def _check_rounding(rounding: str) -> str:
    if rounding not in ROUNDING_MODES:
        raise ValueError(
            f"rounding must be one of {sorted(ROUNDING_MODES)}, got {rounding!r}"
        )
    return rounding


def _check_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return value


def to_decimal(value: Decimal | str | int, name: str = "value") -> Decimal:
    """Convert ``value`` to a finite Decimal exactly; floats, bools and
    non-finite values are rejected (TypeError / ValueError)."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except decimal.InvalidOperation:
            raise ValueError(f"{name} is not a decimal number: {value!r}") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        result = Decimal(value)
    else:
        raise TypeError(
            f"{name} must be a Decimal, str or int, got {type(value).__name__}"
        )
    if not result.is_finite():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return result


def _round_fraction(value: Fraction, rounding: str) -> int:
    """Round an exact rational to an int with the named mode."""
    magnitude = abs(value)
    whole, rest = divmod(magnitude.numerator, magnitude.denominator)
    if rest:
        twice, den = 2 * rest, magnitude.denominator
        if rounding == "up":
            whole += 1
        elif rounding == "half_up":
            whole += twice >= den
        elif rounding == "half_even":
            whole += twice > den or (twice == den and whole % 2 == 1)
        # "down": keep the truncated value
    return -whole if value < 0 else whole


def round_minor(value: Decimal | Fraction | int, rounding: str = "half_up") -> int:
    """Round an amount expressed in minor units (e.g. ``Decimal("12.5")``
    cents) to an int with the named rounding mode. Exact, never uses floats."""
    _check_rounding(rounding)
    if isinstance(value, (Decimal, str)) or (
        isinstance(value, int) and not isinstance(value, bool)
    ):
        exact = Fraction(to_decimal(value))
    elif isinstance(value, Fraction):
        exact = value
    else:
        raise TypeError(
            f"value must be a Decimal, Fraction or int, got {type(value).__name__}"
        )
    return _round_fraction(exact, rounding)


def minor_units(currency: str) -> int:
    """Number of decimal places of the currency's minor unit
    (CNY 2, USD 2, JPY 0), per CLDR via Babel."""
    if not isinstance(currency, str) or not is_currency(currency):
        raise ValueError(f"unknown currency code: {currency!r}")
    return get_currency_precision(currency)


def to_minor(
    value: Decimal | str | int, currency: str, rounding: str = "half_up"
) -> int:
    """Major units -> int minor units, e.g. ``to_minor("12.345", "CNY")`` is
    1235; excess digits are rounded with ``rounding``."""
    _check_rounding(rounding)
    exact = Fraction(to_decimal(value)) * 10 ** minor_units(currency)
    return _round_fraction(exact, rounding)


def from_minor(amount: int, currency: str) -> Decimal:
    """Int minor units -> exact Decimal in major units with the currency's
    exponent, e.g. ``from_minor(1235, "CNY") == Decimal("12.35")``."""
    _check_int(amount, "amount")
    return Decimal(f"{amount}E-{minor_units(currency)}")


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` into parts proportional to ``weights`` (largest remainder).

    The parts sum exactly to ``total`` and each part is the floor or the
    ceiling of its exact share ``total * w / sum(weights)``. The cents left
    after flooring go one each to the parties ranked by: larger remainder
    first, then larger weight, then lower index. A negative ``total`` is
    allocated as ``-allocate(-total, weights)``. Zero weights get 0; a larger
    weight never gets a smaller part.

    Raises TypeError unless ``total`` and every weight are ints, and
    ValueError if a weight is negative or ``weights`` is empty or sums to 0.
    """
    _check_int(total, "total")
    weights = list(weights)
    if not all(type(w) is int and w >= 0 for w in weights):  # the fast check; the slow one says which
        for i, w in enumerate(weights):
            _check_int(w, f"weights[{i}]")
            if w < 0:
                raise ValueError(f"weights must be non-negative, weights[{i}] is {w}")
    weight_sum = sum(weights)
    if weight_sum <= 0:
        raise ValueError("weights must be non-empty and sum to more than 0")
    if total < 0:
        return [-part for part in allocate(-total, weights)]

    pairs = [divmod(total * w, weight_sum) for w in weights]
    parts = [floor for floor, _rest in pairs]
    leftover = total - sum(parts)  # 0 <= leftover < len(weights)
    if leftover:
        ranked = heapq.nsmallest(leftover, range(len(weights)), key=lambda i: (-pairs[i][1], -weights[i], i))
        for i in ranked:
            parts[i] += 1
    return parts


def split_pro_rata(total: int, holdings: Mapping[K, int]) -> dict[K, int]:
    """:func:`allocate` ``total`` over a mapping such as claim holder ->
    principal held; the result keeps the mapping's key order."""
    keys = list(holdings)
    return dict(zip(keys, allocate(total, [holdings[k] for k in keys])))


def apply_rate(
    amount: int, rate: Decimal | str | int, rounding: str = "half_up"
) -> int:
    """``amount * rate`` rounded to int minor units, e.g. a 1.5% fee:
    ``apply_rate(10_001, Decimal("0.015")) == 150``."""
    _check_int(amount, "amount")
    _check_rounding(rounding)
    return _round_fraction(amount * Fraction(to_decimal(rate, "rate")), rounding)
