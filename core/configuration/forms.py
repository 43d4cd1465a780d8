"""The products and rules forms of the admin console: which fields, how they read and how they are written.

A form shows money in major units (yuan, dollars) and rates in percent; the
section it saves holds minor units and decimal rate strings, exactly as
``tenant.yaml`` does. Conversions are exact (:func:`core.money.to_minor`,
``Decimal.scaleb``), never through a float.

Inputs are named after the field they change, the way the schemas name their
problems: ``products.0.max_amount``, ``credit.grades.AA.rate_max``, so every
problem lands next to its field. A form's *raw* values are the strings typed
(kept as typed when the page is shown again with its problems).
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from marshmallow import fields as mfields
from marshmallow import missing

from core.credit.settings import FACTORS, GRADES, CreditSchema
from core.lending.products import BORROWER_TYPES, ProductSchema
from core.lending.schedule import METHODS
from core.money import from_minor, minor_units, to_minor
from core.tenancy.config import SUPPORTED_LOCALES


@dataclass(frozen=True)
class Field:
    #: The key inside a product (``min_amount``) or the path inside the rules (``credit.grades.AA.limit``).
    name: str
    label: object
    #: ``money`` (major units on the form), ``percent``, ``int``, ``decimal``, ``terms``, ``text``, ``bool``.
    kind: str
    hint: object = None
    #: Blank is allowed (the schema's default applies, or "no limit").
    optional: bool = False


# ---------------------------------------------------------------- products

BORROWER_LABELS = {"person": _l("Persons"), "enterprise": _l("Enterprises")}
METHOD_LABELS = {
    "equal_installment": _l("Equal monthly installments"),
    "equal_principal": _l("Equal principal, falling interest"),
    "interest_first": _l("Interest monthly, principal at the end"),
    "bullet": _l("Principal and interest in one payment at the end"),
}

#: The product form's groups, each ``(key, title, fields)``; ``terms``, methods and grade bands have their own widgets.
PRODUCT_GROUPS = (
    ("amounts", _l("Amounts and terms"), (
        Field("min_amount", _l("Smallest loan"), "money"),
        Field("max_amount", _l("Largest loan"), "money"),
        Field("terms_months", _l("Terms offered (months)"), "terms", _l("Separate with commas, for example 3, 6, 12.")),
    )),
    ("rates", _l("Interest rates"), (
        Field("annual_rate_min", _l("Lowest annual rate (%)"), "percent", _l("Percent a year: 8 means 8%.")),
        Field("annual_rate_max", _l("Highest annual rate (%)"), "percent", _l("Percent a year: 18 means 18%.")),
    )),
    ("fees", _l("Fees and risk reserve"), (
        Field("service_fee_rate", _l("Service fee (percent of the principal)"), "percent", _l("Taken once, at disbursement."), True),
        Field("management_fee_rate", _l("Management fee (percent of the principal, a month)"), "percent", _l("Taken with every installment."), True),
        Field("investor_fee_rate", _l("Investor fee (percent of the interest)"), "percent", _l("Of the interest investors receive."), True),
        Field("reserve_rate", _l("Risk-reserve contribution (percent of the principal)"), "percent", _l("Taken once, at disbursement."), True),
        Field("prepayment_fee_rate", _l("Prepayment fee (percent of the principal repaid early)"), "percent", None, True),
    )),
    ("bidding", _l("Listing and bidding"), (
        Field("funding_days", _l("Listing open for (days)"), "int", None, True),
        Field("min_bid", _l("Smallest bid"), "money", None, True),
        Field("bid_step", _l("Bids in steps of"), "money", None, True),
        Field("max_bid_per_investor", _l("Most one investor may bid on a loan"), "money", _l("Leave empty for no limit."), True),
    )),
    ("overdue", _l("Overdue and default"), (
        Field("grace_days", _l("Grace days after the due date"), "int", None, True),
        Field("penalty_daily_rate", _l("Penalty interest (percent a day)"), "percent", _l("A day, on what is overdue: 0.05 means 0.05 percent a day."), True),
        Field("late_fee", _l("Late fee per overdue installment"), "money", None, True),
        Field("reserve_pays_after_days", _l("Reserve pays investors after (days overdue)"), "int", _l("Used only where the lending rules let the reserve pay investors."), True),
        Field("default_after_days", _l("Defaulted after (days overdue)"), "int", None, True),
        Field("write_off_after_days", _l("Written off after (days overdue)"), "int", None, True),
    )),
)
PRODUCT_FIELDS = {f.name: f for _, _, group in PRODUCT_GROUPS for f in group}
#: Labels of the product fields without a Field above (for the history).
PRODUCT_LABELS = {
    "code": _l("Code"), "name": _l("Product name"), "borrower_type": _l("Borrowers"),
    "repayment_methods": _l("Repayment methods"), "grade_rates": _l("Rate band per grade"),
    **{name: f.label for name, f in PRODUCT_FIELDS.items()},
}


def _major(amount: int | None, currency: str) -> str:
    """``5000000`` fen → ``"50000"``; ``12345`` → ``"123.45"``; None → ``""``."""
    if amount is None:
        return ""
    value = from_minor(amount, currency)
    return str(int(value)) if value == value.to_integral_value() else format(value, "f")


def percent_text(rate) -> str:
    """``"0.0825"`` → ``"8.25"``, ``"0.0005"`` → ``"0.05"``."""
    if rate is None or rate == "":
        return ""
    return format(Decimal(str(rate)).scaleb(2).normalize(), "f")


def _default(name: str):
    field = ProductSchema._declared_fields[name]
    default = field.load_default
    return None if default is missing else (default() if callable(default) else default)


def blank_product() -> dict:
    """A new product's raw values: empty where the schema needs an answer, its defaults elsewhere."""
    product = {name: _default(name) for name in ProductSchema._declared_fields if _default(name) is not None}
    product.update(code="", name={}, borrower_type="person", terms_months=[], repayment_methods=["equal_installment"])
    return product


def product_raw(product: dict, currency: str) -> dict:
    """A loaded product as the form's strings: ``{"min_amount": "1000", "name.en": "…", "grade_rates.AA.min": "8", …}``."""
    raw = {"code": product.get("code", ""), "borrower_type": product.get("borrower_type", "person"),
           "repayment_methods": list(product.get("repayment_methods") or []),
           "terms_months": ", ".join(str(m) for m in product.get("terms_months") or [])}
    for locale in SUPPORTED_LOCALES:
        raw[f"name.{locale}"] = (product.get("name") or {}).get(locale, "")
    for name, field in PRODUCT_FIELDS.items():
        if field.kind == "money":
            raw[name] = _major(product.get(name), currency)
        elif field.kind == "percent":
            raw[name] = percent_text(product.get(name))
        elif field.kind == "int":
            raw[name] = "" if product.get(name) is None else str(product[name])
    for grade in GRADES:
        band = (product.get("grade_rates") or {}).get(grade) or {}
        raw[f"grade_rates.{grade}.min"] = percent_text(band.get("min"))
        raw[f"grade_rates.{grade}.max"] = percent_text(band.get("max"))
    return raw


def read_products(form) -> list[dict]:
    """The raw products of a posted form (a werkzeug MultiDict), in the order shown."""
    indexes = sorted({int(m.group(1)) for key in form for m in [re.fullmatch(r"products\.(\d+)\.code", key)] if m})
    found = []
    for index in indexes:
        prefix = f"products.{index}."
        raw = {key[len(prefix):]: form.get(key, "") for key in form if key.startswith(prefix)}
        raw["repayment_methods"] = form.getlist(prefix + "repayment_methods")
        found.append(raw)
    return found


class _Problem(Exception):
    pass


def _clean(text) -> str:
    return (text or "").strip().replace(",", "").replace("，", "").replace(" ", "")


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _Problem(_l("Enter a number, for example 12.5.")) from None
    if not value.is_finite():
        raise _Problem(_l("Enter a number, for example 12.5."))
    return value


def read_money(text: str, currency: str) -> int:
    """Major units typed on a form → int minor units, exactly; more decimals than the currency has is an error."""
    value = _decimal(_clean(text))
    places = minor_units(currency)
    if value < 0:
        raise _Problem(_l("Enter an amount of zero or more."))
    if value.as_tuple().exponent < -places:
        raise _Problem(_l("Use at most %(places)d decimal places.", places=places))
    return to_minor(value, currency)


def read_percent(text: str) -> str:
    """``"8.25"`` (percent) → ``"0.0825"``: the decimal rate string tenant.yaml holds."""
    value = _decimal(_clean(text).rstrip("%"))
    if not Decimal(0) <= value < Decimal(100):
        raise _Problem(_l("Enter a percentage from 0 up to (not including) 100."))
    return format(value.scaleb(-2).normalize(), "f")


def read_int(text: str) -> int:
    text = _clean(text)
    if not re.fullmatch(r"-?\d{1,9}", text):
        raise _Problem(_l("Enter a whole number."))
    return int(text)


def read_terms(text: str) -> list[int]:
    parts = [p for p in re.split(r"[,，;\s]+", (text or "").strip()) if p]
    if not parts or not all(re.fullmatch(r"\d{1,3}", p) for p in parts):
        raise _Problem(_l("List the terms in months, separated by commas, for example 3, 6, 12."))
    return sorted({int(p) for p in parts})


def _read(field: Field, text: str, currency: str):
    if field.kind == "money":
        return read_money(text, currency)
    if field.kind == "percent":
        return read_percent(text)
    if field.kind == "int":
        return read_int(text)
    if field.kind == "terms":
        return read_terms(text)
    return (text or "").strip()


def parse_products(raws: list[dict], currency: str) -> tuple[list[dict], dict[str, str]]:
    """Raw products → products as tenant.yaml holds them, and ``{field: problem}`` for what could not be read.

    A field that cannot be read is left out of its product (the schemas then
    see only the rest); its problem is reported under its own name.
    """
    products, problems = [], {}
    for index, raw in enumerate(raws):
        where = f"products.{index}"
        product: dict = {
            "code": (raw.get("code") or "").strip(),
            "name": {loc: raw[f"name.{loc}"].strip() for loc in SUPPORTED_LOCALES if (raw.get(f"name.{loc}") or "").strip()},
            "borrower_type": raw.get("borrower_type") or "",
            "repayment_methods": [m for m in METHODS if m in (raw.get("repayment_methods") or [])],
        }
        if not product["name"]:
            problems[f"{where}.name"] = str(_l("Give the product a name in at least one language."))
        if not product["repayment_methods"]:
            problems[f"{where}.repayment_methods"] = str(_l("Tick at least one repayment method."))
        for name, field in PRODUCT_FIELDS.items():
            text = (raw.get(name) or "").strip()
            if not text:
                if name == "max_bid_per_investor":
                    product[name] = None
                elif not field.optional:
                    problems[f"{where}.{name}"] = str(_l("Fill this in."))
                continue
            try:
                product[name] = _read(field, text, currency)
            except _Problem as exc:
                problems[f"{where}.{name}"] = str(exc.args[0])
        bands = {}
        for grade in GRADES:
            ends = {end: (raw.get(f"grade_rates.{grade}.{end}") or "").strip() for end in ("min", "max")}
            if not any(ends.values()):
                continue
            key, band = f"{where}.grade_rates.{grade}", {}
            for end, text in ends.items():
                try:
                    if not text:
                        raise _Problem(_l("Give both ends of the band, or neither."))
                    band[end] = read_percent(text)
                except _Problem as exc:
                    problems[key] = str(exc.args[0])
            if key not in problems:
                bands[grade] = band
        product["grade_rates"] = bands
        products.append(product)
    return products, problems


# ---------------------------------------------------------------- rules

GRADE_FIELDS = (
    Field("min_score", _l("Lowest score"), "int"),
    Field("limit", _l("Credit limit, person"), "money"),
    Field("enterprise_limit", _l("Credit limit, enterprise"), "money"),
    Field("rate_min", _l("Lowest rate (%)"), "percent"),
    Field("rate_max", _l("Highest rate (%)"), "percent"),
)
FACTOR_LABELS = {
    "bureau_score": _l("Bureau score"),
    "recent_overdue": _l("Recent overdue payments"),
    "overdue_history": _l("Overdue history"),
    "debt_load": _l("Debt load"),
    "on_time_history": _l("On-time payments here"),
    "current_overdue": _l("Currently overdue"),
    "utilisation": _l("Credit utilisation"),
}
#: Whole-number settings at the top of ``credit`` (labels of the ones lendkit knows; others show their key).
CREDIT_NUMBER_LABELS = {
    "report_max_age_days": _l("Reuse a bureau report for (days)"),
    "regrade_every_days": _l("Recompute grades every (days)"),
}
RULE_FIELDS = (
    *(Field(f"credit.grades.{g}.{f.name}", f.label, f.kind) for g in GRADES for f in GRADE_FIELDS),
    *(Field(f"credit.scorecard.weights.{factor}", FACTOR_LABELS.get(factor, factor), "int") for factor in FACTORS),
    Field("credit.scorecard.no_history", _l("On-time value with no history here (0 to 1)"), "decimal",
          _l("A decimal from 0 to 1: 0.5 counts a newcomer as half-way.")),
    Field("credit.scorecard.debt_reference.person", _l("Debt that scores zero, person"), "money"),
    Field("credit.scorecard.debt_reference.enterprise", _l("Debt that scores zero, enterprise"), "money"),
    Field("credit.refuse.blacklisted", _l("Refuse blacklisted borrowers"), "bool"),
    Field("credit.refuse.court_judgment", _l("Refuse borrowers with a court judgment"), "bool"),
    Field("risk.reserve_pays_investors", _l("The risk reserve pays investors when a borrower is late"), "bool",
          _l("When on, each product's “reserve pays investors after” days apply.")),
)


def credit_number_fields() -> tuple[Field, ...]:
    """The whole-number settings at the top of the credit schema (report age, regrading…)."""
    return tuple(
        Field(f"credit.{name}", CREDIT_NUMBER_LABELS.get(name, name), "int")
        for name, field in CreditSchema._declared_fields.items() if isinstance(field, mfields.Int)
    )


def rule_fields() -> dict[str, Field]:
    return {f.name: f for f in (*credit_number_fields(), *RULE_FIELDS)}


def _get(data: dict, path: str):
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _set(data: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def rules_raw(rules: dict, currency: str) -> dict:
    """The rules section (``{"credit": …, "risk": …}``) as the form's strings, keyed by path."""
    raw = {}
    for path, field in rule_fields().items():
        value = _get(rules, path)
        if field.kind == "money":
            raw[path] = _major(value, currency)
        elif field.kind == "percent":
            raw[path] = percent_text(value)
        elif field.kind == "bool":
            raw[path] = bool(value)
        elif value is None and path.startswith("credit.scorecard.weights."):
            raw[path] = "0"  # a factor left out of the file weighs 0
        else:
            raw[path] = "" if value is None else str(value)
    return raw


def read_rules(form) -> dict:
    """The raw rules of a posted form: every known path; a checkbox not sent is off."""
    return {path: (path in form) if field.kind == "bool" else form.get(path, "")
            for path, field in rule_fields().items()}


def parse_rules(raw: dict, current: dict, currency: str) -> tuple[dict, dict[str, str]]:
    """Raw rules over the ``current`` rules section → the new section, and ``{path: problem}``.

    Settings the form does not show are kept as they are.
    """
    rules = copy.deepcopy(current)
    problems = {}
    for path, field in rule_fields().items():
        value = raw.get(path)
        if field.kind == "bool":
            _set(rules, path, bool(value))
            continue
        text = (value or "").strip()
        if not text:
            problems[path] = str(_l("Fill this in."))
            continue
        try:
            _set(rules, path, text if field.kind == "decimal" else _read(field, text, currency))
        except _Problem as exc:
            problems[path] = str(exc.args[0])
    return rules, problems
