"""Repayment schedules for fixed-rate loans.

Amounts are int minor units, the annual rate is a Decimal and the monthly rate
is ``r = annual_rate / 12`` kept exact (as a rational), so every rounded figure
is the exact value rounded once with the chosen mode (see
:data:`core.money.ROUNDING_MODES`).

Methods (:data:`METHODS`):

* ``equal_installment`` (等额本息): constant payment
  ``A = round(P·r·(1+r)^n / ((1+r)^n − 1))`` (``r = 0``: principal split
  evenly with :func:`core.money.allocate`); each month
  ``interest = round(remaining·r)`` and ``principal = A − interest``; the last
  installment repays all remaining principal, absorbing rounding.
* ``equal_principal`` (等额本金): principal ``allocate(P, [1]*n)`` (earlier
  installments take the extra cents), ``interest = round(remaining·r)``.
* ``interest_first`` (先息后本): ``round(P·r)`` interest monthly, all principal
  with the last installment.
* ``bullet`` (一次性还本付息): one installment ``n`` months after the start,
  principal ``P`` and interest ``round(P·r·n)``.

Installment ``k`` falls due :func:`add_months` ``(start, k)``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Context, Decimal
from fractions import Fraction
from typing import Any

from core.money import ROUNDING_MODES, allocate, round_minor, to_decimal

__all__ = [
    "METHODS",
    "MAX_MONTHS",
    "Installment",
    "Schedule",
    "add_months",
    "build_schedule",
    "payment_formula",
]

METHODS = ("equal_installment", "equal_principal", "interest_first", "bullet")
MAX_MONTHS = 360


@dataclass(frozen=True, slots=True)
class Installment:
    """One due payment; ``remaining`` is the principal still owed after it."""

    number: int
    due_date: date
    principal: int
    interest: int
    remaining: int

    @property
    def payment(self) -> int:
        """Total due: principal + interest."""
        return self.principal + self.interest

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (ints, ISO date string)."""
        return {
            "number": self.number,
            "due_date": self.due_date.isoformat(),
            "principal": self.principal,
            "interest": self.interest,
            "payment": self.payment,
            "remaining": self.remaining,
        }


@dataclass(frozen=True, slots=True)
class Schedule:
    """A loan's full repayment plan."""

    principal: int
    annual_rate: Decimal
    months: int
    method: str
    installments: tuple[Installment, ...]

    @property
    def total_interest(self) -> int:
        """Sum of all installments' interest."""
        return sum(i.interest for i in self.installments)

    @property
    def total_payment(self) -> int:
        """Principal plus total interest."""
        return sum(i.payment for i in self.installments)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values: amounts as ints, dates as ISO strings,
        the rate as a string."""
        return {
            "principal": self.principal,
            "annual_rate": str(self.annual_rate),
            "months": self.months,
            "method": self.method,
            "total_interest": self.total_interest,
            "total_payment": self.total_payment,
            "installments": [i.to_dict() for i in self.installments],
        }


def add_months(d: date, months: int) -> date:
    """``d`` plus ``months`` calendar months, clamped to the target month's
    last day (Jan 31 + 1 month = Feb 28, or Feb 29 in a leap year)."""
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _validate(
    principal: Any, annual_rate: Any, months: Any, method: Any
) -> Decimal:
    if isinstance(principal, bool) or not isinstance(principal, int):
        raise ValueError(
            f"principal must be an int in minor units, got {type(principal).__name__}"
        )
    if principal <= 0:
        raise ValueError(f"principal must be > 0, got {principal}")
    try:
        rate = to_decimal(annual_rate, "annual_rate")
    except TypeError as exc:
        raise ValueError(str(exc)) from None
    if not Decimal(0) <= rate < Decimal(1):
        raise ValueError(f"annual_rate must be in [0, 1), got {annual_rate!r}")
    if isinstance(months, bool) or not isinstance(months, int):
        raise ValueError(f"months must be an int, got {type(months).__name__}")
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"months must be between 1 and {MAX_MONTHS}, got {months}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return rate


def _annuity(principal: int, monthly: Fraction, months: int) -> Fraction:
    if monthly == 0:
        return Fraction(principal, months)
    growth = (1 + monthly) ** months
    return principal * monthly * growth / (growth - 1)


def payment_formula(principal: int, annual_rate: Decimal | str, months: int) -> Decimal:
    """Unrounded annuity payment ``P·r·(1+r)^n / ((1+r)^n − 1)`` (``P/n`` if
    ``r = 0``) in minor units, ``r = annual_rate / 12``, correctly rounded to
    50 significant digits (exact if it has no more)."""
    rate = _validate(principal, annual_rate, months, METHODS[0])
    exact = _annuity(principal, Fraction(rate) / 12, months)
    return Context(prec=50).divide(Decimal(exact.numerator), Decimal(exact.denominator))


def build_schedule(
    principal: int,
    annual_rate: Decimal | str,
    months: int,
    method: str,
    start: date,
    rounding: str = "half_up",
) -> Schedule:
    """Build the repayment schedule of a loan of ``principal`` minor units at
    ``annual_rate`` over ``months`` months starting ``start``.

    Raises ValueError naming the argument unless ``principal`` is an int > 0,
    ``0 <= annual_rate < 1``, ``1 <= months <= 360``, ``method`` is in
    :data:`METHODS` and ``rounding`` is in :data:`~core.money.ROUNDING_MODES`.
    The principals always sum to ``principal``, none is negative, and the
    last installment leaves ``remaining == 0``.
    """
    rate = _validate(principal, annual_rate, months, method)
    if not isinstance(start, date):
        raise ValueError(f"start must be a date, got {type(start).__name__}")
    if rounding not in ROUNDING_MODES:
        raise ValueError(
            f"rounding must be one of {sorted(ROUNDING_MODES)}, got {rounding!r}"
        )
    monthly = Fraction(rate) / 12

    def interest_on(amount: int) -> int:
        return round_minor(amount * monthly, rounding)

    if method == "bullet":
        rows = [(months, principal, round_minor(principal * monthly * months, rounding))]
    elif method == "interest_first":
        interest = interest_on(principal)
        rows = [(k, 0, interest) for k in range(1, months)]
        rows.append((months, principal, interest))
    elif method == "equal_principal" or monthly == 0:
        rows, remaining = [], principal
        for k, part in enumerate(allocate(principal, [1] * months), start=1):
            rows.append((k, part, interest_on(remaining)))
            remaining -= part
    else:  # equal_installment with r > 0
        payment = round_minor(_annuity(principal, monthly, months), rounding)
        rows, remaining = [], principal
        for k in range(1, months + 1):
            interest = interest_on(remaining)
            if k == months:
                part = remaining
            else:
                # payment >= round(P·r) >= interest, so part >= 0; the cap only
                # binds for loans of a few cents per month, which rounding can
                # pay off early.
                part = min(payment - interest, remaining)
            rows.append((k, part, interest))
            remaining -= part

    installments, remaining = [], principal
    for number, (offset, part, interest) in enumerate(rows, start=1):
        remaining -= part
        installments.append(
            Installment(
                number=number,
                due_date=add_months(start, offset),
                principal=part,
                interest=interest,
                remaining=remaining,
            )
        )
    return Schedule(
        principal=principal,
        annual_rate=rate,
        months=months,
        method=method,
        installments=tuple(installments),
    )
