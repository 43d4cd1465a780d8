"""The public loan calculator: one set of rules behind the page, the API and ``lendkit schedule``.

The schedule itself is :func:`core.lending.schedule.build_schedule`; this
module only validates the inputs and shapes the answer. JSON amounts are
``{"amount": <int minor units>, "currency": "CNY"}``, as everywhere in the API.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from core.credit.settings import GRADES
from core.lending.schedule import MAX_MONTHS, METHODS, Schedule, build_schedule
from core.money import to_decimal

#: The largest principal the calculator accepts, minor units (10 billion in major units).
MAX_PRINCIPAL = 1_000_000_000_000


class AnnualRate(fields.Field):
    """An annual rate as a decimal string, ``0 <= rate < 1`` (``0.12`` is 12% a year)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float) or isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            raise ValidationError("must be a decimal string such as 0.12")
        try:
            rate = to_decimal(value)
        except (TypeError, ValueError):
            raise ValidationError("must be a decimal number such as 0.12") from None
        if not Decimal(0) <= rate < Decimal(1):
            raise ValidationError("must be at least 0 and below 1 (0.12 is 12% a year)")
        if rate.as_tuple().exponent < -8:
            raise ValidationError("may have at most 8 decimal places")
        return rate

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else str(value)


class CalculatorQuerySchema(Schema):
    """What the calculator needs: the same for ``GET /api/v1/calculator`` and ``lendkit schedule``."""

    class Meta:
        unknown = RAISE

    principal = fields.Int(
        required=True, strict=False,
        validate=validate.Range(1, MAX_PRINCIPAL, error="must be between {min} and {max} minor units"),
        metadata={"description": "Amount borrowed, in minor units (fen, cents)"},
    )
    annual_rate = AnnualRate(
        load_default=None,
        metadata={"description": "Annual interest rate, e.g. 0.12; the tenant's representative rate when left out",
                  "type": "string"},
    )
    months = fields.Int(
        required=True, validate=validate.Range(1, MAX_MONTHS, error="must be between {min} and {max}"),
        metadata={"description": "Term in months"},
    )
    method = fields.Str(
        load_default="equal_installment", validate=validate.OneOf(METHODS, error="must be one of: {choices}"),
        metadata={"description": "Repayment method: " + ", ".join(METHODS)},
    )
    start = fields.Date(load_default=None, metadata={"description": "Loan start date (default today); "
                                                                   "installment k falls due k months later"})


def public(view):
    """Mark a view as open to anyone (the accounts module's ``@public``, when it is installed)."""
    try:
        from core.accounts.access import public as mark
    except ImportError:
        return view
    return mark(view)


def representative_rate(settings: dict) -> Decimal:
    """The rate the calculator assumes when none is given: the top of grade A's band."""
    return Decimal(settings["grades"]["A"]["rate_max"])


def rate_band(settings: dict) -> tuple[Decimal, Decimal]:
    """The lowest and the highest rate over every grade."""
    grades = settings["grades"]
    return (
        min(Decimal(grades[g]["rate_min"]) for g in GRADES),
        max(Decimal(grades[g]["rate_max"]) for g in GRADES),
    )


def calculate(principal: int, annual_rate: Decimal, months: int, method: str, start: date) -> Schedule:
    """The repayment schedule (:func:`core.lending.schedule.build_schedule`, half-up rounding)."""
    return build_schedule(principal, annual_rate, months, method, start)


def _money(amount: int, currency: str) -> dict:
    return {"amount": amount, "currency": currency}


def schedule_json(schedule: Schedule, currency: str, start: date) -> dict:
    """The calculator's JSON answer (API and ``lendkit schedule --json``)."""
    return {
        "principal": _money(schedule.principal, currency),
        "annual_rate": str(schedule.annual_rate),
        "months": schedule.months,
        "method": schedule.method,
        "start": start.isoformat(),
        "total_interest": _money(schedule.total_interest, currency),
        "total_payment": _money(schedule.total_payment, currency),
        "installments": [
            {
                "number": i.number,
                "due_date": i.due_date.isoformat(),
                "principal": _money(i.principal, currency),
                "interest": _money(i.interest, currency),
                "payment": _money(i.payment, currency),
                "remaining": _money(i.remaining, currency),
            }
            for i in schedule.installments
        ],
    }
