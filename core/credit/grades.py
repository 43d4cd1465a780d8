"""Credit grades: computed from the stored report and the platform history, kept per subject.

* :func:`grade_subject` — fetch (or reuse) the report, then :func:`regrade`.
* :func:`regrade` — recompute a subject's grade from its latest report.
* :func:`repayment_changed` — what the lending module calls when an
  installment is paid or falls late, with the borrower's figures on this platform.
* :func:`regrade_all` — the scheduled re-rating of every graded subject of a tenant.
* :func:`credit_summary` — what a borrower sees: grade, limit, available limit, rate band.
* :func:`assess_application` — may this borrower borrow that much now? eligible,
  refused (naming why) or try later (bureau unavailable) — never a silent approval.

Services flush; callers commit (except :func:`regrade_all`, a job, which commits per subject).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.credit import BureauUnavailable
from core.credit.compliance import Decision, check_borrowing, tenant_pack
from core.credit.models import CreditGrade, CreditReport
from core.credit.reports import bound_to, is_fresh, obtain_report
from core.credit.scoring import History, score_report
from core.credit.settings import credit_settings
from core.extensions import db
from core.money import from_minor
from core.tenancy.models import aware
from core.tenancy.scoping import TenantNotBound, current_tenant_id

log = logging.getLogger("lendkit.credit")

#: Why a borrower is refused, for people (translated when rendered).
REFUSAL_MESSAGES = {
    "identity_mismatch": _l("The credit bureau could not confirm this identity."),
    "blacklisted": _l("The credit bureau lists this borrower as a dishonest judgment debtor."),
    "court_judgment": _l("The credit bureau reports an unresolved court judgment against this borrower."),
    "score_too_low": _l("The credit score is below this platform's lowest grade."),
}
TRY_LATER = _l("The credit bureau cannot be reached right now. Nothing was decided; please try again later.")


def _bound_tenant():
    from core.tenancy.models import Tenant

    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenantNotBound("no tenant is bound; regrade needs one")
    return db.session.get(Tenant, tenant_id)


def regrade(
    subject_key: str,
    *,
    report: CreditReport | None = None,
    history: History | None = None,
    now: datetime | None = None,
) -> CreditGrade:
    """Recompute the bound tenant's grade of ``subject_key`` from ``report`` (default: its
    latest stored report) and ``history`` (default: the figures used last time).

    The current limit in the history (for ``utilisation``) defaults to the
    subject's current limit. Flushes; LookupError when the subject has no report.
    """
    tenant = _bound_tenant()
    settings = credit_settings(tenant)
    report = report or CreditReport.latest(subject_key)
    if report is None:
        raise LookupError("no credit report stored for this subject")
    if report.subject_key != subject_key:
        raise ValueError("the report belongs to another subject")
    current = CreditGrade.for_subject(subject_key)
    if history is None:
        history = current.history if current is not None else History()
    elif history.limit is None and current is not None and current.status == "graded":
        history = replace(history, limit=current.credit_limit)
    outcome = score_report(report.report, history, settings)
    values = dict(
        subject_type=report.subject_type,
        report_id=report.id,
        status="refused" if outcome.refused else "graded",
        refusal=outcome.refusal,
        score=outcome.score,
        grade=outcome.grade,
        credit_limit=outcome.limit,
        currency=tenant.currency,
        rate_min=outcome.rate_min,
        rate_max=outcome.rate_max,
        reasons=[r.to_dict() for r in outcome.reasons],
        on_time_count=history.on_time,
        late_count=history.late,
        overdue_amount=history.overdue_now,
        owed_amount=history.owed,
        computed_at=now or datetime.now(timezone.utc),
    )
    if current is None:
        # A concurrent first grading of the same subject fails the flush on
        # (tenant_id, subject_key); the caller's retry then updates that row.
        current = CreditGrade(subject_key=subject_key, **values)
        db.session.add(current)
    else:
        for name, value in values.items():
            setattr(current, name, value)
    db.session.flush()
    return current


def grade_subject(
    tenant,
    subject_type: str,
    subject_id: str,
    subject_key: str,
    *,
    history: History | None = None,
    name: str | None = None,
    force_refresh: bool = False,
    bureau=None,
    now: datetime | None = None,
) -> CreditGrade:
    """Obtain the subject's report (reused while fresh) and regrade from it.

    Raises :class:`BureauUnavailable` when a new report is needed and the
    bureau cannot answer; the subject's grade is then left as it was.
    """
    with bound_to(tenant) as tenant:
        report = obtain_report(
            tenant, subject_type, subject_id, subject_key, name=name, bureau=bureau, force=force_refresh, now=now
        )
        return regrade(subject_key, report=report, history=history, now=now)


def repayment_changed(subject_key: str, history: History, *, now: datetime | None = None) -> CreditGrade | None:
    """An installment of this borrower was paid or fell late: regrade with ``history``, the
    borrower's figures on this platform now (absolute, so calling twice changes nothing).

    Uses the stored report (no bureau call). None when the subject was never graded.
    """
    if CreditReport.latest(subject_key) is None:
        return None
    return regrade(subject_key, history=history, now=now)


@dataclass(frozen=True)
class RegradeSummary:
    regraded: int = 0
    #: Reports fetched anew because the stored one was stale.
    refreshed: int = 0
    #: Stale reports the bureau could not refresh (regraded from the old one).
    unavailable: int = 0
    #: Subjects whose grade, limit or refusal changed.
    changed: int = 0


def regrade_all(
    tenant,
    *,
    resolve_subject: Callable[[str], tuple[str, str]] | None = None,
    bureau=None,
    now: datetime | None = None,
    computed_before: datetime | None = None,
) -> RegradeSummary:
    """Re-rate every graded subject of ``tenant`` (the scheduled job); commits per subject.

    ``resolve_subject(subject_key) -> (subject_type, subject_id)`` lets stale
    reports be refreshed from the bureau (the accounts module decrypts the
    identity); without it every subject is regraded from its stored report
    under the current scorecard. ``computed_before`` limits the run to grades
    computed before that moment (the daily job passes ``now`` minus
    ``credit.regrade_every_days``). Running it twice changes nothing the second time.
    """
    now = now or datetime.now(timezone.utc)
    counts = dict(regraded=0, refreshed=0, unavailable=0, changed=0)
    with bound_to(tenant) as tenant:
        max_age = credit_settings(tenant)["report_max_age_days"]
        due = select(CreditGrade.subject_key).order_by(CreditGrade.id)
        if computed_before is not None:
            due = due.where(CreditGrade.computed_at < computed_before)
        keys = list(db.session.scalars(due))
        for key in keys:
            grade = CreditGrade.for_subject(key)
            before = (grade.status, grade.grade, grade.credit_limit, grade.refusal)
            report = CreditReport.latest(key)
            identity = resolve_subject(key) if resolve_subject is not None and not is_fresh(report, max_age, now) else None
            if identity is not None:
                subject_type, subject_id = identity
                try:
                    report = obtain_report(tenant, subject_type, subject_id, key, bureau=bureau, force=True, now=now)
                    counts["refreshed"] += 1
                except BureauUnavailable as exc:
                    log.warning("tenant %s: bureau unavailable while re-rating: %s", tenant.slug, exc)
                    counts["unavailable"] += 1
            grade = regrade(key, report=report, now=now)
            counts["regraded"] += 1
            if (grade.status, grade.grade, grade.credit_limit, grade.refusal) != before:
                counts["changed"] += 1
            db.session.commit()
    return RegradeSummary(**counts)


@dataclass(frozen=True)
class CreditSummary:
    """What a borrower sees of their credit."""

    status: str  # graded or refused
    grade: str | None
    #: Grade limit, what the borrower owes here, and what is left (after regulatory caps), minor units.
    limit: int
    owed: int
    available: int
    rate_min: Decimal | None
    rate_max: Decimal | None
    currency: str
    computed_at: datetime
    refusal: str | None = None
    #: What the compliance pack still allows (None when it sets no cap).
    compliance_headroom: int | None = None


def _available(grade: CreditGrade, owed_here: int, pack) -> tuple[int, int | None]:
    if grade.status != "graded":
        return 0, None
    report = db.session.get(CreditReport, grade.report_id)
    decision = check_borrowing(pack, grade.subject_type, owed_here, report.platform_balance, 0)
    room = max(grade.credit_limit - owed_here, 0)
    if decision.headroom is not None:
        room = min(room, decision.headroom)
    return room, decision.headroom


def credit_summary(tenant, subject_key: str, owed_here: int) -> CreditSummary | None:
    """The borrower's grade, limit, available limit and rate band; None when never graded.

    ``owed_here`` is the principal the borrower owes on this platform now
    (from the lending module). The available limit is the grade limit less
    ``owed_here``, and never more than the tenant's compliance pack allows
    given the bureau's cross-platform balance.
    """
    with bound_to(tenant) as tenant:
        grade = CreditGrade.for_subject(subject_key)
        if grade is None:
            return None
        available, headroom = _available(grade, owed_here, tenant_pack(tenant))
        return CreditSummary(
            status=grade.status,
            grade=grade.grade,
            limit=grade.credit_limit,
            owed=owed_here,
            available=available,
            rate_min=grade.rate_min,
            rate_max=grade.rate_max,
            currency=grade.currency,
            computed_at=aware(grade.computed_at),
            refusal=grade.refusal,
            compliance_headroom=headroom,
        )


@dataclass(frozen=True)
class Assessment:
    """The credit side of a loan application."""

    #: ``eligible``, ``refused`` or ``try_later``.
    status: str
    #: Refusal code: identity_mismatch, blacklisted, court_judgment, score_too_low,
    #: over_limit, compliance; ``bureau_unavailable`` with try_later.
    code: str | None = None
    #: One line for people, naming the rule and figures when refused (translated when rendered).
    message: object = ""
    grade: CreditGrade | None = None
    decision: Decision | None = None

    @property
    def eligible(self) -> bool:
        return self.status == "eligible"


def _money(amount: int, currency: str) -> str:
    return f"{currency} {from_minor(amount, currency):,}"


def assess_application(
    tenant,
    *,
    subject_type: str,
    subject_id: str,
    subject_key: str,
    requested: int,
    owed_here: int,
    history: History | None = None,
    name: str | None = None,
    bureau=None,
    now: datetime | None = None,
) -> Assessment:
    """May this borrower borrow ``requested`` more (minor units) now?

    Grades the borrower (report reused while fresh), then checks the grade's
    available limit and the tenant's compliance pack against the bureau's
    cross-platform balance. A bureau that cannot answer gives ``try_later``
    and changes nothing — never an approval.
    """
    with bound_to(tenant) as tenant:
        try:
            grade = grade_subject(
                tenant, subject_type, subject_id, subject_key, history=history, name=name, bureau=bureau, now=now
            )
        except BureauUnavailable as exc:
            log.warning("tenant %s: credit bureau unavailable: %s", tenant.slug, exc)
            return Assessment("try_later", "bureau_unavailable", TRY_LATER)
        if grade.status == "refused":
            return Assessment("refused", grade.refusal, REFUSAL_MESSAGES[grade.refusal], grade)
        room = max(grade.credit_limit - owed_here, 0)
        if requested > room:
            message = _l(
                "%(requested)s is more than the available credit of %(available)s "
                "(grade %(grade)s, limit %(limit)s, owed here %(owed)s).",
                requested=_money(requested, grade.currency), available=_money(room, grade.currency),
                grade=grade.grade, limit=_money(grade.credit_limit, grade.currency), owed=_money(owed_here, grade.currency),
            )
            return Assessment("refused", "over_limit", message, grade)
        report = db.session.get(CreditReport, grade.report_id)
        decision = check_borrowing(tenant_pack(tenant), subject_type, owed_here, report.platform_balance, requested)
        if not decision.allowed:
            return Assessment("refused", "compliance", decision.message, grade, decision)
        return Assessment("eligible", None, "", grade, decision)
