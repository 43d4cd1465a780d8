"""Credit pages: the public loan calculator (``/calculator``), a plain GET form rendered on the server."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import Blueprint, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, NumberRange, ValidationError

from core.credit.calculator import MAX_PRINCIPAL, calculate, public, rate_band, representative_rate
from core.credit.resources import tenant_today
from core.credit.settings import credit_settings
from core.lending.schedule import MAX_MONTHS
from core.money import from_minor, minor_units
from core.web.nav import nav_item

pages = Blueprint("credit_pages", __name__)

nav_item("credit_pages.calculator", _l("Loan calculator"), order=40, active_prefix="credit_pages.calculator")

#: Repayment methods as borrowers know them.
METHOD_LABELS = {
    "equal_installment": _l("Equal monthly installments"),
    "equal_principal": _l("Equal principal, falling interest"),
    "interest_first": _l("Interest monthly, principal at the end"),
    "bullet": _l("Principal and interest in one payment at the end"),
}


def _method_choices():
    try:  # WTForms 3.3 names its choices; older versions take (value, label) pairs
        from wtforms.fields.choices import SelectChoice
    except ImportError:
        return list(METHOD_LABELS.items())
    return [SelectChoice(value, label) for value, label in METHOD_LABELS.items()]


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal((text or "").strip().replace(",", "").replace("，", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


class CalculatorForm(FlaskForm):
    """Amount in major units (yuan, dollars), rate in percent a year, term in months."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    amount = StringField(
        _l("Amount to borrow"),
        validators=[InputRequired(_l("Enter the amount you want to borrow."))],
        render_kw={"inputmode": "decimal"},
    )
    months = IntegerField(
        _l("Term in months"),
        render_kw={"inputmode": "numeric", "min": 1, "max": MAX_MONTHS},
        validators=[
            InputRequired(_l("Enter the term in months.")),
            NumberRange(1, MAX_MONTHS, _l("The term must be between %(min)s and %(max)s months.")),
        ],
    )
    method = SelectField(_l("Repayment method"), choices=_method_choices)
    rate = StringField(
        _l("Annual interest rate (%)"),
        validators=[InputRequired(_l("Enter the annual interest rate."))],
        render_kw={"inputmode": "decimal"},
    )

    def validate_amount(self, field):
        currency = g.tenant.currency
        value = _decimal(field.data)
        places = minor_units(currency)
        if value is None:
            raise ValidationError(_l("Enter the amount as a number, for example 50000."))
        if value <= 0:
            raise ValidationError(_l("The amount must be more than zero."))
        if value.as_tuple().exponent < -places:
            raise ValidationError(_l("Use at most %(places)d decimal places.", places=places))
        if value * 10**places > MAX_PRINCIPAL:
            raise ValidationError(_l("The amount may be at most %(max)s.", max=f"{from_minor(MAX_PRINCIPAL, currency):,}"))

    def validate_rate(self, field):
        value = _decimal(field.data)
        if value is None:
            raise ValidationError(_l("Enter the rate as a number, for example 8.5."))
        if not Decimal(0) <= value < Decimal(100):
            raise ValidationError(_l("The rate must be at least 0 and below 100%."))
        if value.as_tuple().exponent < -6:
            raise ValidationError(_l("Use at most 6 decimal places."))

    def principal(self) -> int:
        return int(_decimal(self.amount.data) * 10 ** minor_units(g.tenant.currency))

    def annual_rate(self) -> Decimal:
        return _decimal(self.rate.data) / 100


@pages.route("/calculator")
@public
def calculator():
    """Amount, term and method → the repayment schedule and what the loan costs."""
    settings = credit_settings(g.tenant)
    default_rate = representative_rate(settings)
    form = CalculatorForm(
        formdata=request.args if request.args else None,
        data={"amount": "10000", "months": 12, "method": "equal_installment", "rate": f"{default_rate * 100:f}".rstrip("0").rstrip(".")},
    )
    schedule = start = None
    if request.args and form.validate():
        start = tenant_today()
        schedule = calculate(form.principal(), form.annual_rate(), form.months.data, form.method.data, start)
    lowest, highest = rate_band(settings)
    return render_template(
        "credit/calculator.html",
        form=form,
        schedule=schedule,
        start=start,
        method_label=METHOD_LABELS.get(form.method.data, ""),
        lowest_rate=lowest,
        highest_rate=highest,
    )
