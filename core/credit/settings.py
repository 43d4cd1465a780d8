"""The ``credit`` section of ``tenant.yaml``: scorecard, grades, refusal rules, report freshness.

Every key has a default, so a tenant file without a ``credit`` section gets
:data:`DEFAULT_CREDIT`. Amounts are ints in the tenant currency's minor unit;
rates are decimal strings (``"0.08"``) — a YAML float is refused, as
everywhere money or rates are concerned. ``docs/credit.md`` shows an example.

The loaded section holds only JSON values (it is stored with the tenant), and
loading it again gives the same result, so :func:`credit_settings` can
re-validate what a tenant row holds.
"""
from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import RAISE, ValidationError, fields, post_load, validate, validates_schema

from core.credit.report import SUBJECT_TYPES
from core.i18n_validation import Schema
from core.money import to_decimal

#: Credit grades, best first.
GRADES = ("AAA", "AA", "A", "B", "C")

#: Scorecard factors; each maps the report and the platform history to a value
#: from 0 to 1 that is multiplied by the factor's weight (see core.credit.scoring).
FACTORS = (
    "bureau_score",
    "recent_overdue",
    "overdue_history",
    "debt_load",
    "on_time_history",
    "current_overdue",
    "utilisation",
)

#: Scorecard weights add up to this, so a score runs from 0 to 100.
TOTAL_WEIGHT = 100

DEFAULT_WEIGHTS = {
    "bureau_score": 40,
    "recent_overdue": 20,
    "overdue_history": 10,
    "debt_load": 10,
    "on_time_history": 10,
    "current_overdue": 5,
    "utilisation": 5,
}

DEFAULT_GRADES = {
    "AAA": {"min_score": 85, "limit": 20_000_000, "enterprise_limit": 100_000_000, "rate_min": "0.06", "rate_max": "0.08"},
    "AA": {"min_score": 75, "limit": 15_000_000, "enterprise_limit": 80_000_000, "rate_min": "0.08", "rate_max": "0.10"},
    "A": {"min_score": 65, "limit": 10_000_000, "enterprise_limit": 50_000_000, "rate_min": "0.10", "rate_max": "0.12"},
    "B": {"min_score": 50, "limit": 5_000_000, "enterprise_limit": 20_000_000, "rate_min": "0.12", "rate_max": "0.15"},
    "C": {"min_score": 35, "limit": 2_000_000, "enterprise_limit": 10_000_000, "rate_min": "0.15", "rate_max": "0.18"},
}


class Rate(fields.Field):
    """An annual rate as a decimal string, ``0 <= rate < 1``, at most 6 decimal places; kept as the string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float):
            raise ValidationError(_('write rates as quoted decimal strings, e.g. "%(value)s"', value=value))
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValidationError(_('must be a decimal string such as "0.08"'))
        try:
            rate = to_decimal(value)
        except (TypeError, ValueError):
            raise ValidationError(_('must be a decimal string such as "0.08"')) from None
        if not Decimal(0) <= rate < Decimal(1):
            raise ValidationError(_("must be at least 0 and below 1 (0.08 is 8% a year)"))
        if rate.as_tuple().exponent < -6:
            raise ValidationError(_("may have at most 6 decimal places"))
        return str(value).strip()


class Fraction01(Rate):
    """A decimal string from 0 to 1 inclusive (a factor value)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            try:
                if to_decimal(value) == 1:
                    return str(value).strip()
            except (TypeError, ValueError):
                pass
        return super()._deserialize(value, attr, data, **kwargs)


_positive_amount = dict(strict=True, validate=validate.Range(min=1, error=_l("must be a positive amount in minor units")))


class GradeSchema(Schema):
    """One grade: the lowest score that earns it, its credit limits and its annual rate band."""

    class Meta:
        unknown = RAISE

    min_score = fields.Int(required=True, strict=True, validate=validate.Range(0, TOTAL_WEIGHT, error=_l("must be between {min} and {max}")))
    #: Credit limit of a person, minor units.
    limit = fields.Int(required=True, **_positive_amount)
    #: Credit limit of an enterprise; the person's limit when left out.
    enterprise_limit = fields.Int(load_default=None, **_positive_amount)
    rate_min = Rate(required=True)
    rate_max = Rate(required=True)

    @validates_schema
    def _band(self, data, **kwargs):
        if "rate_min" in data and "rate_max" in data and Decimal(data["rate_min"]) > Decimal(data["rate_max"]):
            raise ValidationError(_("must not be below rate_min (%(rate_min)s)", rate_min=data["rate_min"]), "rate_max")

    @post_load
    def _enterprise_limit(self, data, **kwargs):
        if data.get("enterprise_limit") is None:
            data["enterprise_limit"] = data["limit"]
        return data


class ScorecardSchema(Schema):
    class Meta:
        unknown = RAISE

    #: ``{factor: weight}``; factors left out weigh 0; the weights add up to 100.
    weights = fields.Dict(keys=fields.Str(), values=fields.Raw(), load_default=lambda: dict(DEFAULT_WEIGHTS))
    #: The ``on_time_history`` value of a borrower with no installments yet on this platform.
    no_history = Fraction01(load_default="0.5")
    #: ``debt_load`` is 0 when everything owed reaches this (minor units), per borrower type.
    debt_reference = fields.Dict(
        keys=fields.Str(validate=validate.OneOf(SUBJECT_TYPES, error=_l("must be one of: {choices}"))),
        values=fields.Int(**_positive_amount),
        load_default=lambda: {"person": 50_000_000, "enterprise": 250_000_000},
    )

    @validates_schema
    def _weights(self, data, **kwargs):
        weights = data.get("weights", {})
        for name, weight in weights.items():
            if name not in FACTORS:
                raise ValidationError(_("unknown factor %(name)s (known: %(known)s)", name=repr(name), known=", ".join(FACTORS)), "weights")
            if isinstance(weight, bool) or not isinstance(weight, int):
                raise ValidationError(_("%(name)s: a weight must be a whole number, not %(weight)s", name=name, weight=repr(weight)), "weights")
            if weight < 0:
                raise ValidationError(_("%(name)s: a weight may not be negative", name=name), "weights")
        total = sum(weights.values())
        if total != TOTAL_WEIGHT:
            raise ValidationError(_("must add up to %(total_weight)s, not %(total)s", total_weight=TOTAL_WEIGHT, total=total), "weights")
        missing = set(SUBJECT_TYPES) - set(data.get("debt_reference", {}))
        if missing:
            raise ValidationError(_("needs an amount for %(types)s", types=", ".join(sorted(missing))), "debt_reference")


class RefusalRulesSchema(Schema):
    """What refuses a borrower whatever the score. An unmatched identity always does."""

    class Meta:
        unknown = RAISE

    blacklisted = fields.Bool(load_default=True)
    court_judgment = fields.Bool(load_default=True)


def _grades_default():
    return GradesSchema().load(DEFAULT_GRADES)


class CreditSchema(Schema):
    """``credit`` in tenant.yaml."""

    class Meta:
        unknown = RAISE
        ordered = True

    #: A stored bureau report is reused for this many days before a new one is fetched.
    report_max_age_days = fields.Int(load_default=30, strict=True, validate=validate.Range(0, 366, error=_l("must be between {min} and {max} days")))
    #: ``lendkit daily`` recomputes a grade once it is this many days old (refreshing a stale report first).
    regrade_every_days = fields.Int(load_default=7, strict=True, validate=validate.Range(1, 366, error=_l("must be between {min} and {max} days")))
    scorecard = fields.Nested(ScorecardSchema, load_default=lambda: ScorecardSchema().load({}))
    grades = fields.Nested(lambda: GradesSchema(), load_default=_grades_default)
    refuse = fields.Nested(RefusalRulesSchema, load_default=lambda: RefusalRulesSchema().load({}))



class GradesSchema(Schema):
    """Every grade, best first, with strictly descending score thresholds."""

    class Meta:
        unknown = RAISE
        ordered = True

    AAA = fields.Nested(GradeSchema, required=True)
    AA = fields.Nested(GradeSchema, required=True)
    A = fields.Nested(GradeSchema, required=True)
    B = fields.Nested(GradeSchema, required=True)
    C = fields.Nested(GradeSchema, required=True)

    @validates_schema
    def _descending(self, data, **kwargs):
        for better, worse in zip(GRADES, GRADES[1:]):
            high, low = data[better]["min_score"], data[worse]["min_score"]
            if low >= high:
                raise ValidationError(
                    _("grade thresholds must be strictly descending: %(worse)s min_score %(low)s "
                      "is not below %(better)s's %(high)s", worse=worse, low=low, better=better, high=high),
                    f"{worse}",
                )


#: The credit section of a tenant file that has none.
DEFAULT_CREDIT = CreditSchema().load({})


def credit_settings(tenant_or_config) -> dict:
    """The validated credit section of a tenant (or of its loaded config dict), defaults filled in."""
    config = tenant_or_config if isinstance(tenant_or_config, dict) else tenant_or_config.config
    return CreditSchema().load(config.get("credit") or {})


def grade_terms(settings: dict, grade: str, subject_type: str) -> tuple[int, Decimal, Decimal]:
    """``(limit, rate_min, rate_max)`` of ``grade`` for a person or an enterprise."""
    terms = settings["grades"][grade]
    limit = terms["limit"] if subject_type == "person" else terms["enterprise_limit"]
    return limit, Decimal(terms["rate_min"]), Decimal(terms["rate_max"])
