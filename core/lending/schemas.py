"""The lending API's request and response bodies. Amounts are int minor units with the loan's ``currency``."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from core.lending.models import LOAN_STATES
from core.lending.schedule import METHODS


class Strict(Schema):
    class Meta:
        unknown = RAISE


class LoanQuerySchema(Strict):
    status = fields.Str(load_default="listed", validate=validate.OneOf(LOAN_STATES))


class LoanSchema(Schema):
    id = fields.Int()
    number = fields.Str()
    status = fields.Str()
    product_code = fields.Str()
    borrower_type = fields.Str()
    amount = fields.Int()
    currency = fields.Str()
    annual_rate = fields.Decimal(as_string=True)
    months = fields.Int()
    method = fields.Str()
    purpose = fields.Str()
    repayment_source = fields.Str()
    safeguards = fields.Str()
    grade = fields.Str(allow_none=True)
    risk_assessment = fields.Str()
    #: What the listing discloses about the borrower (masked identity, income, debts, overdues…).
    disclosure = fields.Dict()
    bid_total = fields.Int()
    frozen_total = fields.Int()
    remaining = fields.Int()
    listed_at = fields.DateTime(allow_none=True)
    deadline = fields.DateTime(allow_none=True)
    disbursed_on = fields.Date(allow_none=True)
    principal_outstanding = fields.Int()
    review_step = fields.Str(allow_none=True)


class ApplicationSchema(Strict):
    product_code = fields.Str(required=True)
    amount = fields.Int(required=True, strict=True)
    months = fields.Int(required=True, strict=True)
    method = fields.Str(required=True, validate=validate.OneOf(METHODS))
    annual_rate = fields.Str(load_default=None, allow_none=True)
    purpose = fields.Str(required=True)
    repayment_source = fields.Str(required=True)
    industry = fields.Str(required=True)
    monthly_income = fields.Int(load_default=0, strict=True, validate=validate.Range(min=0))
    safeguards = fields.Str(load_default="")
    #: False keeps it a draft (submit later with POST /loans/{id}/submit).
    submit = fields.Bool(load_default=True)


class ReviewSchema(Strict):
    decision = fields.Str(required=True, validate=validate.OneOf(("approved", "rejected")))
    reason = fields.Str(required=True)


class BidRequestSchema(Strict):
    amount = fields.Int(required=True, strict=True)
    transaction_password = fields.Str(required=True, load_only=True)
    #: The client's idempotency key: the same key twice makes one bid.
    key = fields.Str(load_default=None, validate=validate.Length(1, 120))


class BidSchema(Schema):
    id = fields.Int()
    loan_id = fields.Int()
    amount = fields.Int()
    requested = fields.Int()
    state = fields.Str()
    auto = fields.Bool()
    reason = fields.Str(allow_none=True)
    created_at = fields.DateTime()


class LoanInstallmentSchema(Schema):
    id = fields.Int()
    number = fields.Int()
    due_date = fields.Date()
    principal = fields.Int()
    interest = fields.Int()
    management_fee = fields.Int()
    penalty = fields.Int()
    late_fee = fields.Int()
    total_due = fields.Int()
    status = fields.Str()
    overdue_since = fields.Date(allow_none=True)
    advanced_on = fields.Date(allow_none=True)
    paid_on = fields.Date(allow_none=True)


class RepayRequestSchema(Strict):
    transaction_password = fields.Str(required=True, load_only=True)
    installment_id = fields.Int(load_default=None, allow_none=True)


class RepaymentSchema(Schema):
    id = fields.Int()
    loan_id = fields.Int()
    installment_id = fields.Int(allow_none=True)
    kind = fields.Str()
    state = fields.Str()
    amount = fields.Int()
    principal = fields.Int()
    interest = fields.Int()
    penalty = fields.Int()
    platform_fee = fields.Int()
    to_reserve = fields.Int()
    day = fields.Date()
    reason = fields.Str(allow_none=True)


class QuoteSchema(Schema):
    principal = fields.Int()
    interest = fields.Int()
    management_fee = fields.Int()
    prepayment_fee = fields.Int()
    total = fields.Int()


class ContractQuerySchema(Strict):
    format = fields.Str(load_default="pdf", validate=validate.OneOf(("pdf", "html")))
    locale = fields.Str(load_default=None)


class NoteRequestSchema(Strict):
    status = fields.Str(required=True)
    note = fields.Str(required=True)


class NoteSchema(Schema):
    id = fields.Int()
    loan_id = fields.Int()
    author_id = fields.Int()
    status = fields.Str()
    note = fields.Str()
    created_at = fields.DateTime()


class ClaimSchema(Schema):
    id = fields.Int()
    loan_id = fields.Int()
    share = fields.Int()
    status = fields.Str()
    price = fields.Int()
    asking_price = fields.Int(allow_none=True)
    acquired_at = fields.DateTime()


class OfferSchema(Strict):
    #: Asking price in minor units; null withdraws the offer.
    price = fields.Int(required=True, allow_none=True, strict=True)


class BuySchema(Strict):
    transaction_password = fields.Str(required=True, load_only=True)
    #: The price the buyer saw; refused if the seller changed it since.
    price = fields.Int(load_default=None, allow_none=True, strict=True)


class AutoBidSchema(Schema):
    grades = fields.List(fields.Str(), required=True)
    terms = fields.List(fields.Int(strict=True), load_default=list)
    max_per_loan = fields.Int(required=True, strict=True)
    min_rate = fields.Decimal(as_string=True, load_default="0")
    keep_available = fields.Int(load_default=0, strict=True)
    active = fields.Bool(load_default=True)
