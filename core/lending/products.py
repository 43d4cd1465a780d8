"""Loan products: what a tenant lets borrowers apply for, under which terms and fees.

``products`` in ``tenant.yaml`` (and ``lending.products`` in the requirements
questionnaire) is a list of :class:`ProductSchema` items; both load through
this one definition. Amounts are int minor units, rates quoted decimal
strings (a YAML float is refused), days and months ints::

    products:
      - code: consumer
        name: {en: Personal consumer loan, zh_CN: 个人消费贷}
        borrower_type: person            # person | enterprise
        min_amount: 100000               # CNY 1,000.00
        max_amount: 5000000
        terms_months: [3, 6, 12]
        repayment_methods: [equal_installment, equal_principal]
        annual_rate_min: "0.08"          # the product's band ...
        annual_rate_max: "0.15"
        grade_rates:                     # ... and, optionally, a band per credit grade
          AAA: {min: "0.08", max: "0.10"}
        service_fee_rate: "0.02"         # of the principal, taken at disbursement
        management_fee_rate: "0.001"     # of the principal, with every installment (monthly)
        investor_fee_rate: "0.10"        # of the interest investors receive
        reserve_rate: "0.01"             # risk-reserve contribution, of the principal, at disbursement
        prepayment_fee_rate: "0.01"      # of the principal repaid early
        grace_days: 3                    # days after the due date before an installment is overdue
        penalty_daily_rate: "0.0005"     # penalty interest a day on what is overdue
        late_fee: 5000                   # once per overdue installment
        reserve_pays_after_days: 30      # days overdue before the reserve pays investors (if allowed)
        default_after_days: 90           # days overdue before the loan is defaulted
        write_off_after_days: 180        # days overdue before a defaulted loan is written off
        funding_days: 7                  # how long a listing stays open
        min_bid: 10000
        bid_step: 100
        max_bid_per_investor: 1000000    # null: no limit

Grades a product serves: with ``grade_rates``, only the grades listed there;
without it, every grade whose band (``credit.grades``) overlaps the product's,
the loan's band being the overlap.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import RAISE, ValidationError, fields, validate

from core.i18n_validation import Schema

from core.lending.schedule import METHODS

__all__ = [
    "BORROWER_TYPES",
    "GRADES",
    "Rate",
    "ProductSchema",
    "product_problems",
    "load_products",
    "validate_products",
    "products_of",
    "product_of",
    "rate_band",
]

BORROWER_TYPES = ("person", "enterprise")
#: Credit grades, best first (as in core.credit.settings).
GRADES = ("AAA", "AA", "A", "B", "C")


def _rate(value) -> Decimal:
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError(_("must be a decimal rate such as 0.12")) from None
    if not rate.is_finite() or not (Decimal(0) <= rate < Decimal(1)):
        raise ValidationError(_("must be at least 0 and below 1 (0.12 means 12%)"))
    return rate


class Rate(fields.Str):
    """A rate written as a decimal string ("0.0825"); never a float. Loaded as a normalised string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float):
            raise ValidationError(_('write rates as quoted decimals, e.g. "0.12", never as floats'))
        if isinstance(value, bool):
            raise ValidationError(_("must be a decimal rate such as 0.12"))
        return str(_rate(value))


def _localized_text():
    # core.tenancy.config imports this module lazily; import its field the same way round.
    from core.tenancy.config import LocalizedText

    return LocalizedText(required=True)


class BandSchema(Schema):
    class Meta:
        unknown = RAISE

    min = Rate(required=True)
    max = Rate(required=True)


_days = dict(strict=True)


class ProductSchema(Schema):
    """One loan product (see the module's docstring for every field)."""

    class Meta:
        unknown = RAISE
        ordered = True

    code = fields.Str(required=True, validate=validate.Regexp(r"^[a-z0-9_-]{1,40}$", error=_l("must be short lower-case letters, digits, - or _")))
    name = _localized_text()
    borrower_type = fields.Str(required=True, validate=validate.OneOf(BORROWER_TYPES))
    #: Amounts in minor units (fen, cents).
    min_amount = fields.Int(required=True, strict=True, validate=validate.Range(min=1))
    max_amount = fields.Int(required=True, strict=True, validate=validate.Range(min=1))
    terms_months = fields.List(fields.Int(strict=True, validate=validate.Range(1, 360)), required=True, validate=validate.Length(min=1))
    repayment_methods = fields.List(fields.Str(validate=validate.OneOf(METHODS)), required=True, validate=validate.Length(min=1))
    annual_rate_min = Rate(required=True)
    annual_rate_max = Rate(required=True)
    grade_rates = fields.Dict(keys=fields.Str(validate=validate.OneOf(GRADES)), values=fields.Nested(BandSchema), load_default=dict)
    service_fee_rate = Rate(load_default="0")
    management_fee_rate = Rate(load_default="0")
    investor_fee_rate = Rate(load_default="0")
    reserve_rate = Rate(load_default="0")
    prepayment_fee_rate = Rate(load_default="0")
    grace_days = fields.Int(load_default=3, validate=validate.Range(0, 30), **_days)
    penalty_daily_rate = Rate(load_default="0.0005")
    late_fee = fields.Int(load_default=0, strict=True, validate=validate.Range(min=0))
    reserve_pays_after_days = fields.Int(load_default=30, validate=validate.Range(1, 365), **_days)
    default_after_days = fields.Int(load_default=90, validate=validate.Range(1, 3650), **_days)
    write_off_after_days = fields.Int(load_default=180, validate=validate.Range(1, 3650), **_days)
    funding_days = fields.Int(load_default=7, validate=validate.Range(1, 60), **_days)
    min_bid = fields.Int(load_default=10_000, strict=True, validate=validate.Range(min=1))
    bid_step = fields.Int(load_default=100, strict=True, validate=validate.Range(min=1))
    max_bid_per_investor = fields.Int(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1))


def product_problems(product: dict) -> dict[str, str]:
    """Answers of one loaded product that are each valid but do not fit together: ``{field: problem}``."""
    problems: dict[str, str] = {}
    if product["min_amount"] > product["max_amount"]:
        problems["min_amount"] = _("is above max_amount")
    if Decimal(product["annual_rate_min"]) > Decimal(product["annual_rate_max"]):
        problems["annual_rate_min"] = _("is above annual_rate_max")
    if product["min_bid"] > product["max_amount"]:
        problems["min_bid"] = _("is above the product's max_amount")
    low, high = Decimal(product["annual_rate_min"]), Decimal(product["annual_rate_max"])
    for grade, band in (product.get("grade_rates") or {}).items():
        if Decimal(band["min"]) > Decimal(band["max"]):
            problems[f"grade_rates.{grade}"] = _("min is above max")
        elif Decimal(band["min"]) < low or Decimal(band["max"]) > high:
            problems[f"grade_rates.{grade}"] = _("must lie within the product's band %(low)s–%(high)s", low=low, high=high)
    if product["write_off_after_days"] < product["default_after_days"]:
        problems["write_off_after_days"] = _("is before default_after_days")
    if product.get("max_bid_per_investor") is not None and product["max_bid_per_investor"] < product["min_bid"]:
        problems["max_bid_per_investor"] = _("is below min_bid")
    return problems


def load_products(value) -> list[dict]:
    """Load the ``products`` list of tenant.yaml: each a :class:`ProductSchema`, consistent, codes unique.

    Raises ValidationError with ``{index: {field: [problem]}}``.
    """
    if not isinstance(value, list):
        raise ValidationError(_("must be a list of products"))
    products = ProductSchema(many=True).load(value)
    validate_products(products)
    return products


def validate_products(products: list) -> None:
    """Every product consistent (:func:`product_problems`), every code used once."""
    errors: dict = {}
    seen: set[str] = set()
    for index, product in enumerate(products):
        problems = product_problems(product)
        if product["code"] in seen:
            problems["code"] = _("product code %(code)s is used twice", code=repr(product["code"]))
        seen.add(product["code"])
        if problems:
            errors[index] = {field: [problem] for field, problem in problems.items()}
    if errors:
        raise ValidationError(errors)


def products_of(tenant) -> list[dict]:
    """The tenant's products as loaded from tenant.yaml (empty when it offers none)."""
    return list((tenant.config or {}).get("products") or [])


def product_of(tenant, code: str) -> dict | None:
    """The tenant's product ``code``, or None."""
    return next((p for p in products_of(tenant) if p["code"] == code), None)


def rate_band(tenant, product: dict, grade: str | None) -> tuple[Decimal, Decimal] | None:
    """The annual rate band a borrower of ``grade`` may choose in ``product``; None when it serves no such grade."""
    if grade is None:
        return None
    bands = product.get("grade_rates") or {}
    if bands:
        band = bands.get(grade)
        return (Decimal(band["min"]), Decimal(band["max"])) if band else None
    from core.credit.settings import credit_settings

    terms = credit_settings(tenant)["grades"].get(grade)
    if terms is None:
        return None
    low = max(Decimal(product["annual_rate_min"]), Decimal(terms["rate_min"]))
    high = min(Decimal(product["annual_rate_max"]), Decimal(terms["rate_max"]))
    return (low, high) if low <= high else None
