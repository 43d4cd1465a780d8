"""API schemas of the credit module. Amounts are ``{"amount": int minor units, "currency": "CNY"}``."""
from marshmallow import Schema, fields

from core.credit.calculator import CalculatorQuerySchema  # noqa: F401  (re-exported for the API)


class MoneySchema(Schema):
    amount = fields.Int(metadata={"description": "Minor units (fen, cents)"})
    currency = fields.Str(metadata={"description": "ISO 4217 code"})


class InstallmentSchema(Schema):
    number = fields.Int()
    due_date = fields.Str(metadata={"format": "date", "description": "ISO date"})
    principal = fields.Nested(MoneySchema)
    interest = fields.Nested(MoneySchema)
    payment = fields.Nested(MoneySchema, metadata={"description": "principal + interest"})
    remaining = fields.Nested(MoneySchema, metadata={"description": "principal still owed after this payment"})


class ScheduleSchema(Schema):
    principal = fields.Nested(MoneySchema)
    annual_rate = fields.Str(metadata={"description": "Decimal string, e.g. 0.12"})
    months = fields.Int()
    method = fields.Str()
    start = fields.Str(metadata={"format": "date", "description": "ISO date"})
    total_interest = fields.Nested(MoneySchema, metadata={"description": "The cost of the loan"})
    total_payment = fields.Nested(MoneySchema, metadata={"description": "Everything repaid: principal + interest"})
    installments = fields.List(fields.Nested(InstallmentSchema))


class CreditSummarySchema(Schema):
    """A signed-in borrower's credit (``core.credit.grades.credit_summary``)."""

    status = fields.Str(metadata={"description": "graded or refused"})
    grade = fields.Str(allow_none=True, metadata={"description": "AAA, AA, A, B or C"})
    limit = fields.Method("_limit", metadata={"description": "Credit limit of the grade"})
    owed = fields.Method("_owed", metadata={"description": "Principal owed on this platform"})
    available = fields.Method("_available", metadata={"description": "What may still be borrowed, after regulatory caps"})
    rate_min = fields.Str(allow_none=True, metadata={"description": "Annual rate band, decimal strings"})
    rate_max = fields.Str(allow_none=True)
    computed_at = fields.AwareDateTime()

    def _limit(self, summary):
        return {"amount": summary.limit, "currency": summary.currency}

    def _owed(self, summary):
        return {"amount": summary.owed, "currency": summary.currency}

    def _available(self, summary):
        return {"amount": summary.available, "currency": summary.currency}
