"""What a credit bureau says about a person or an enterprise: :class:`BureauReport`.

A report is a frozen value: amounts in minor units (fen; bureaus report in
CNY), counts as ints, flags as bools. :class:`ReportSchema` is its JSON form,
used on the wire by the ``http`` bureau, and for the copy stored in
``credit_report.raw``; anything that does not fit the schema is not a report.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

#: Who a report is about: a natural person (resident identity number) or an
#: enterprise or other organisation (unified social credit code).
SUBJECT_TYPES = ("person", "enterprise")

#: Kinds of lender behind an open debt. ``platform`` is an online lending
#: platform (网络借贷信息中介机构): these balances count towards cross-platform caps.
LENDER_TYPES = ("platform", "bank", "other")


@dataclass(frozen=True)
class OpenDebt:
    """One debt the subject owes now, as the bureau knows it."""

    #: ``platform``, ``bank`` or ``other`` (see :data:`LENDER_TYPES`).
    lender_type: str
    #: The lender's name as the bureau reports it.
    lender: str
    #: Principal still owed, minor units.
    balance: int
    #: Part of it that is overdue, minor units.
    overdue: int = 0


@dataclass(frozen=True)
class BureauReport:
    """A credit report. Amounts in minor units of ``currency`` (CNY)."""

    subject_type: str
    subject_id: str
    #: Provider name (``sandbox``, ``http``) and the bureau's own report number.
    bureau: str
    reference: str
    generated_at: datetime
    #: Does the identity exist and (when a name was given) belong to that name?
    identity_matched: bool
    #: Why not, when not matched: ``not_found``, ``name_mismatch``.
    identity_reason: str | None = None
    #: The bureau's score, 300 (worst) to 900 (best); None when it has none.
    score: int | None = None
    open_debts: tuple[OpenDebt, ...] = field(default_factory=tuple)
    #: Installments reported overdue in the last 6 and 24 months (24 includes 6), and their amounts.
    overdue_count_6m: int = 0
    overdue_amount_6m: int = 0
    overdue_count_24m: int = 0
    overdue_amount_24m: int = 0
    #: An unresolved court judgment or enforcement against the subject.
    court_judgment: bool = False
    #: On a dishonesty blacklist (失信被执行人名单).
    blacklisted: bool = False
    currency: str = "CNY"

    @property
    def platform_balance(self) -> int:
        """What the subject owes on online lending platforms (the bureau's cross-platform balance)."""
        return sum(d.balance for d in self.open_debts if d.lender_type == "platform")

    @property
    def total_balance(self) -> int:
        """Everything the subject owes, to every kind of lender."""
        return sum(d.balance for d in self.open_debts)

    def to_dict(self) -> dict:
        """Plain JSON values (the :class:`ReportSchema` form)."""
        return ReportSchema().dump(self)

    @classmethod
    def from_dict(cls, data: dict) -> BureauReport:
        """Parse the JSON form; raise :class:`marshmallow.ValidationError` if it is not a report."""
        return ReportSchema().load(data)


_amount = dict(strict=True, validate=validate.Range(min=0))


class OpenDebtSchema(Schema):
    class Meta:
        unknown = RAISE

    lender_type = fields.Str(required=True, validate=validate.OneOf(LENDER_TYPES))
    lender = fields.Str(required=True, validate=validate.Length(1, 200))
    balance = fields.Int(required=True, **_amount)
    overdue = fields.Int(load_default=0, **_amount)

    @post_load
    def _make(self, data, **kwargs):
        return OpenDebt(**data)


class ReportSchema(Schema):
    """The JSON form of a :class:`BureauReport`; strict, so a malformed answer is refused."""

    class Meta:
        unknown = RAISE
        ordered = True

    subject_type = fields.Str(required=True, validate=validate.OneOf(SUBJECT_TYPES))
    subject_id = fields.Str(required=True, validate=validate.Length(1, 64))
    bureau = fields.Str(required=True, validate=validate.Length(1, 63))
    reference = fields.Str(required=True, validate=validate.Length(1, 64))
    generated_at = fields.AwareDateTime(required=True)
    identity_matched = fields.Bool(required=True, truthy={True}, falsy={False})
    identity_reason = fields.Str(load_default=None, allow_none=True, validate=validate.Length(1, 40))
    score = fields.Int(load_default=None, allow_none=True, strict=True, validate=validate.Range(300, 900))
    open_debts = fields.List(fields.Nested(OpenDebtSchema), load_default=list)
    overdue_count_6m = fields.Int(required=True, **_amount)
    overdue_amount_6m = fields.Int(required=True, **_amount)
    overdue_count_24m = fields.Int(required=True, **_amount)
    overdue_amount_24m = fields.Int(required=True, **_amount)
    court_judgment = fields.Bool(required=True, truthy={True}, falsy={False})
    blacklisted = fields.Bool(required=True, truthy={True}, falsy={False})
    currency = fields.Str(load_default="CNY", validate=validate.Regexp(r"^[A-Z]{3}$"))

    @validates_schema
    def _consistent(self, data, **kwargs):
        if data.get("overdue_count_24m", 0) < data.get("overdue_count_6m", 0):
            raise ValidationError("must count at least the overdue installments of the last 6 months", "overdue_count_24m")
        if data.get("overdue_amount_24m", 0) < data.get("overdue_amount_6m", 0):
            raise ValidationError("must be at least the overdue amount of the last 6 months", "overdue_amount_24m")
        if not data.get("identity_matched") and not data.get("identity_reason"):
            raise ValidationError("is required when the identity did not match", "identity_reason")

    @post_load
    def _make(self, data, **kwargs):
        data["open_debts"] = tuple(data["open_debts"])
        return BureauReport(**data)
