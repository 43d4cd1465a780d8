"""Scorecard → score → grade: pure functions over plain values.

Each factor of the tenant's scorecard turns the bureau report and the
borrower's history on this platform into a value from 0 (worst) to 1 (best);
the score is ``Σ weight × value`` over the factors (weights add up to 100),
computed exactly and rounded half up once. The best grade whose ``min_score``
the score reaches is the borrower's; below grade C's threshold, or when a
refusal rule applies, the borrower is refused. Every factor's contribution is
kept as a :class:`Reason`, for staff to see why.

Factors (``value`` from 0 to 1):

==================  ==========================================================
``bureau_score``    ``(score − 300) / 600``; 0 when the bureau has no score
``recent_overdue``  ``1 − n/3`` for ``n`` installments overdue in 6 months (0 from 3)
``overdue_history`` ``1 − n/6`` for ``n`` installments overdue in 24 months (0 from 6)
``debt_load``       ``1 − owed / debt_reference`` over every open debt (0 at the reference)
``on_time_history`` share of installments paid on time here; ``no_history`` when none yet
``current_overdue`` 1 when nothing is overdue here now, else 0
``utilisation``     ``1 − owed here / current limit`` (the AAA limit before a first grade)
==================  ==========================================================
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from core.credit.report import BureauReport
from core.credit.settings import FACTORS, GRADES, grade_terms
from core.money import round_minor

#: Refusal codes, in the order they are checked.
REFUSALS = ("identity_mismatch", "blacklisted", "court_judgment", "score_too_low")

RECENT_OVERDUE_ZERO_AT = 3
HISTORY_OVERDUE_ZERO_AT = 6
SCORE_FLOOR, SCORE_CEILING = 300, 900


@dataclass(frozen=True)
class History:
    """The borrower's record on this platform (all amounts minor units)."""

    #: Installments paid on time, and paid late (or still unpaid past due).
    on_time: int = 0
    late: int = 0
    #: Amount overdue on this platform now.
    overdue_now: int = 0
    #: Principal owed on this platform now.
    owed: int = 0
    #: The borrower's current credit limit, for ``utilisation``; None before a first grade.
    limit: int | None = None

    def __post_init__(self):
        for name in ("on_time", "late", "overdue_now", "owed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        if self.limit is not None and (isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 0):
            raise ValueError(f"limit must be an int >= 0 or None, got {self.limit!r}")


@dataclass(frozen=True)
class Reason:
    """One factor's part in a score."""

    factor: str
    weight: int
    #: The factor's value, 0 to 1, to 4 decimal places.
    value: Decimal
    #: ``weight × value``, to 2 decimal places.
    points: Decimal
    #: The figures the value came from, e.g. ``{"score": 870}``.
    figures: dict

    def to_dict(self) -> dict:
        return {"factor": self.factor, "weight": self.weight, "value": str(self.value),
                "points": str(self.points), "figures": dict(self.figures)}


@dataclass(frozen=True)
class Outcome:
    """A scored borrower: graded (grade, limit, rate band) or refused (why)."""

    score: int
    reasons: tuple[Reason, ...]
    #: ``AAA`` … ``C``; None when refused.
    grade: str | None = None
    #: One of :data:`REFUSALS`; None when graded.
    refusal: str | None = None
    #: Credit limit, minor units (0 when refused).
    limit: int = 0
    rate_min: Decimal | None = None
    rate_max: Decimal | None = None

    @property
    def refused(self) -> bool:
        return self.refusal is not None


def _clamp(value: Fraction) -> Fraction:
    return min(max(value, Fraction(0)), Fraction(1))


def factor_values(report: BureauReport, history: History, settings: dict) -> dict[str, tuple[Fraction, dict]]:
    """Each factor's exact value (0 to 1) and the figures it came from."""
    card = settings["scorecard"]
    subject_type = report.subject_type
    values: dict[str, tuple[Fraction, dict]] = {}

    if report.score is None:
        values["bureau_score"] = (Fraction(0), {"score": None})
    else:
        values["bureau_score"] = (
            _clamp(Fraction(report.score - SCORE_FLOOR, SCORE_CEILING - SCORE_FLOOR)), {"score": report.score}
        )
    values["recent_overdue"] = (
        _clamp(1 - Fraction(report.overdue_count_6m, RECENT_OVERDUE_ZERO_AT)),
        {"count": report.overdue_count_6m, "amount": report.overdue_amount_6m},
    )
    values["overdue_history"] = (
        _clamp(1 - Fraction(report.overdue_count_24m, HISTORY_OVERDUE_ZERO_AT)),
        {"count": report.overdue_count_24m, "amount": report.overdue_amount_24m},
    )
    reference = card["debt_reference"][subject_type]
    values["debt_load"] = (
        _clamp(1 - Fraction(report.total_balance, reference)),
        {"owed": report.total_balance, "reference": reference},
    )
    installments = history.on_time + history.late
    if installments:
        on_time = Fraction(history.on_time, installments)
    else:
        on_time = Fraction(Decimal(card["no_history"]))
    values["on_time_history"] = (on_time, {"on_time": history.on_time, "late": history.late})
    values["current_overdue"] = (Fraction(0 if history.overdue_now else 1), {"overdue": history.overdue_now})
    limit = history.limit if history.limit else grade_terms(settings, GRADES[0], subject_type)[0]
    values["utilisation"] = (_clamp(1 - Fraction(history.owed, limit)), {"owed": history.owed, "limit": limit})
    return values


def _places(value: Fraction, places: int) -> Decimal:
    scaled = round_minor(value * 10**places, "half_up")
    return Decimal(scaled).scaleb(-places)


def grade_for(score: int, settings: dict) -> str | None:
    """The best grade whose threshold ``score`` reaches; None below the last one."""
    for grade in GRADES:
        if score >= settings["grades"][grade]["min_score"]:
            return grade
    return None


def refusal_for(report: BureauReport, settings: dict) -> str | None:
    """The refusal rule ``report`` breaks, whatever the score (first of :data:`REFUSALS`)."""
    if not report.identity_matched:
        return "identity_mismatch"
    rules = settings["refuse"]
    if rules["blacklisted"] and report.blacklisted:
        return "blacklisted"
    if rules["court_judgment"] and report.court_judgment:
        return "court_judgment"
    return None


def score_report(report: BureauReport, history: History, settings: dict) -> Outcome:
    """Score and grade a borrower from the bureau ``report``, their ``history`` here and the
    tenant's credit ``settings`` (:func:`core.credit.settings.credit_settings`)."""
    weights = settings["scorecard"]["weights"]
    values = factor_values(report, history, settings)
    total = Fraction(0)
    reasons = []
    for factor in FACTORS:
        weight = weights.get(factor, 0)
        value, figures = values[factor]
        points = weight * value
        total += points
        reasons.append(Reason(factor, weight, _places(value, 4), _places(points, 2), figures))
    score = round_minor(total, "half_up")
    refusal = refusal_for(report, settings)
    grade = grade_for(score, settings) if refusal is None else None
    if refusal is None and grade is None:
        refusal = "score_too_low"
    if refusal is not None:
        return Outcome(score=score, reasons=tuple(reasons), refusal=refusal)
    limit, rate_min, rate_max = grade_terms(settings, grade, report.subject_type)
    return Outcome(score=score, reasons=tuple(reasons), grade=grade, limit=limit, rate_min=rate_min, rate_max=rate_max)
