"""Applications and their review: draft → submitted → (reviewer, then risk officer) → approved → listed.

A borrower whose identity is verified (KYC approved) applies for one of the
tenant's products. Submitting checks the product's rules, the borrower's
credit grade and limit and the tenant's compliance caps
(:func:`core.credit.grades.assess_application`), and fixes what the listing
will disclose. Review is two steps, each approve or reject with a reason,
both in the audit log: a reviewer first, then a risk officer (never the same
person, never the borrower). The risk officer's approval lists the loan and
auto-bid rules get their turn.
"""
from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from core.audit import audit
from core.extensions import db
from core.ledger.journal import writing
from core.lending import access  # noqa: F401  (defines the lending permissions)
from core.lending.errors import Conflict, Forbidden, LendingError, TryLater, not_now
from core.lending.lifecycle import bound_tenant, get_loan, lock_loan, move
from core.lending.models import OWING_STATES, Installment, Loan, LoanReview
from core.lending.notices import notify
from core.lending.products import product_of, rate_band
from core.lending.schedule import METHODS
from core.tenancy.models import utcnow

log = logging.getLogger("lendkit.lending")

IN_PROGRESS = ("draft", "submitted", "approved", "listed", "funded")

__all__ = ["create_application", "submit_application", "review", "owed_here", "borrower_history", "report_repayment",
           "identity_of"]


# --------------------------------------------------------------------- the borrower


def identity_of(user):
    """``(kind, number, subject_key, name, masked name, masked number)`` of a verified user, or None."""
    from core.accounts.identity import mask_name
    from core.accounts.kyc import latest_application

    application = latest_application(user)
    if application is None or application.status != "approved":
        return None
    if application.kind == "person":
        return ("person", application.id_number, application.id_number_index, application.name,
                application.masked_name, application.masked_id_number)
    company = application.company_name or ""
    masked_company = company[:2] + "*" * max(len(company) - 6, 2) + company[-4:] if len(company) > 6 else mask_name(company)
    return ("enterprise", application.uscc, application.uscc_index, company, masked_company,
            application.masked_uscc)


def owed_here(borrower_id: int, *, excluding: int | None = None) -> int:
    """Principal the borrower owes on this platform, counting applications in progress."""
    owing = db.session.scalar(
        select(func.coalesce(func.sum(Loan.principal_outstanding), 0))
        .where(Loan.borrower_id == borrower_id, Loan.status.in_(OWING_STATES))
    ) or 0
    query = select(func.coalesce(func.sum(Loan.amount), 0)).where(
        Loan.borrower_id == borrower_id, Loan.status.in_(IN_PROGRESS[1:]))
    if excluding is not None:
        query = query.where(Loan.id != excluding)
    return int(owing) + int(db.session.scalar(query) or 0)


def borrower_history(borrower_id: int):
    """The borrower's record here, as the credit module's :class:`History`."""
    from datetime import timedelta

    from core.credit.scoring import History

    rows = db.session.execute(
        select(Installment.status, Installment.due_date, Installment.paid_on, Installment.overdue_since,
               Installment.principal, Installment.interest, Installment.management_fee, Installment.penalty,
               Installment.late_fee, Loan.terms)
        .join(Loan, Loan.id == Installment.loan_id).where(Loan.borrower_id == borrower_id)
    ).all()
    on_time = late = overdue_now = 0
    for status, due, paid_on, overdue_since, p, i, m, pen, fee, terms in rows:
        grace = timedelta(days=int((terms or {}).get("grace_days", 0)))
        if status == "paid":
            if paid_on is not None and paid_on <= due + grace:
                on_time += 1
            else:
                late += 1
        elif status == "overdue":
            late += 1
            overdue_now += p + i + m + pen + fee
    owed = db.session.scalar(
        select(func.coalesce(func.sum(Loan.principal_outstanding), 0))
        .where(Loan.borrower_id == borrower_id, Loan.status.in_(OWING_STATES))
    ) or 0
    return History(on_time=on_time, late=late, overdue_now=overdue_now, owed=int(owed))


def report_repayment(borrower_ids) -> int:
    """Tell the credit module about borrowers who paid or fell late (``repayment_changed``); returns how many."""
    from core.credit.grades import repayment_changed

    told = 0
    for borrower_id in sorted(set(borrower_ids)):
        key = db.session.scalar(select(Loan.subject_key).where(Loan.borrower_id == borrower_id,
                                                               Loan.subject_key.is_not(None)).limit(1))
        if not key:
            continue
        try:
            if repayment_changed(key, borrower_history(borrower_id)) is not None:
                told += 1
        except Exception:  # noqa: BLE001 - a grade not updated now is updated by the next re-rating
            log.exception("credit update of borrower %s failed", borrower_id)
            db.session.rollback()
    db.session.commit()
    return told


# --------------------------------------------------------------------- applying


def _text(value, field: str, label, *, required: bool = True, limit: int = 500) -> str:
    text = " ".join(str(value or "").split())
    if required and len(text) < 2:
        raise LendingError(_l("Please fill in: %(field)s.", field=label), code=field, field=field)
    if len(text) > limit:
        raise LendingError(_l("%(field)s is too long (at most %(limit)d characters).", field=label, limit=limit),
                           code=field, field=field)
    return text


def _rate(value) -> Decimal | None:
    if value in (None, ""):
        return None
    if isinstance(value, float):
        raise LendingError(_l("Enter the rate as a decimal such as 0.1."), code="annual_rate", field="annual_rate")
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation:
        raise LendingError(_l("Enter the rate as a decimal such as 0.1."), code="annual_rate", field="annual_rate") from None
    if not rate.is_finite():
        raise LendingError(_l("Enter the rate as a decimal such as 0.1."), code="annual_rate", field="annual_rate")
    return rate


def create_application(borrower, *, product_code: str, amount: int, months: int, method: str, purpose: str,
                       repayment_source: str, industry: str, monthly_income: int = 0, safeguards: str = "",
                       annual_rate=None, submit: bool = True) -> Loan:
    """A borrower's application (a draft, submitted at once unless ``submit=False``). Commits."""
    tenant = bound_tenant()
    identity = identity_of(borrower)
    if identity is None:
        raise Forbidden(_l("Verify your identity before applying for a loan."), code="kyc_required")
    product = product_of(tenant, product_code)
    if product is None:
        raise LendingError(_l("Choose one of the loan products offered."), code="product", field="product_code")
    if product["borrower_type"] != identity[0]:
        raise LendingError(_l("This product is not offered to your kind of account."), code="borrower_type",
                           field="product_code")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise LendingError(_l("Enter the amount to borrow."), code="amount", field="amount")
    if not product["min_amount"] <= amount <= product["max_amount"]:
        from core.lending.bidding import _money

        raise LendingError(_l("Borrow from %(min)s to %(max)s with this product.",
                              min=_money(product["min_amount"], tenant.currency),
                              max=_money(product["max_amount"], tenant.currency)), code="amount", field="amount")
    if months not in product["terms_months"]:
        raise LendingError(_l("Choose one of the product's terms."), code="months", field="months")
    if method not in product["repayment_methods"] or method not in METHODS:
        raise LendingError(_l("Choose one of the product's repayment methods."), code="method", field="method")
    if db.session.scalar(select(Loan.id).where(Loan.borrower_id == borrower.id, Loan.status.in_(IN_PROGRESS)).limit(1)):
        raise Conflict(_l("You already have an application in progress."), code="application_in_progress")
    loan = Loan(
        number="pending", borrower_id=borrower.id, borrower_type=identity[0], product_code=product["code"],
        terms=dict(product), amount=amount, currency=tenant.currency, annual_rate=_rate(annual_rate) or Decimal(0),
        months=months, method=method,
        purpose=_text(purpose, "purpose", _l("Purpose")),
        repayment_source=_text(repayment_source, "repayment_source", _l("Source of repayment")),
        industry=_text(industry, "industry", _l("Industry or occupation"), limit=100),
        monthly_income=max(int(monthly_income or 0), 0),
        safeguards=_text(safeguards, "safeguards", _l("Safeguards"), required=False) or "none",
        status="draft", subject_key=identity[2], disclosure={},
    )
    db.session.add(loan)
    db.session.flush()
    loan.number = f"LN{loan.id:08d}"
    audit("loan.created", actor=borrower, target=loan, details={"amount": amount, "product": product["code"]})
    db.session.commit()
    if submit:
        return submit_application(borrower, loan.id)
    return loan


def submit_application(borrower, loan_id: int, *, bureau=None) -> Loan:
    """draft → submitted, after the credit and compliance checks. Commits; refusals change nothing."""
    from core.credit.grades import assess_application

    tenant = bound_tenant()
    loan = get_loan(loan_id)
    if loan.borrower_id != borrower.id:
        raise Forbidden(_l("This is not your application."), code="not_yours")
    if loan.status != "draft":
        raise not_now(loan, _l("submitting"))
    identity = identity_of(borrower)
    if identity is None:
        raise Forbidden(_l("Verify your identity before applying for a loan."), code="kyc_required")
    kind, number, subject_key, name, masked_name, masked_id = identity
    assessment = assess_application(
        tenant, subject_type=kind, subject_id=number, subject_key=subject_key, requested=loan.amount,
        owed_here=owed_here(borrower.id, excluding=loan.id), history=borrower_history(borrower.id),
        name=name if kind == "person" else None, bureau=bureau,
    )
    if assessment.status == "try_later":
        db.session.commit()
        raise TryLater(assessment.message, code="bureau_unavailable")
    if not assessment.eligible:
        db.session.commit()  # the grade computed stays; the loan stays a draft
        raise LendingError(assessment.message, code=assessment.code or "refused")
    grade = assessment.grade
    band = rate_band(tenant, loan.terms, grade.grade)
    if band is None:
        db.session.commit()
        raise LendingError(_l("This product is not offered to borrowers of grade %(grade)s.", grade=grade.grade),
                           code="grade_not_served")
    rate = loan.annual_rate if loan.annual_rate else band[0]
    if not band[0] <= rate <= band[1]:
        db.session.commit()
        raise LendingError(_l("For grade %(grade)s the annual rate is from %(low)s to %(high)s.", grade=grade.grade,
                              low=f"{band[0] * 100:.2f}%", high=f"{band[1] * 100:.2f}%"), code="annual_rate",
                           field="annual_rate")
    from core.credit.models import CreditReport

    report = db.session.get(CreditReport, grade.report_id)
    with writing():
        loan = lock_loan(loan_id)
        if loan.status != "draft":
            raise not_now(loan, _l("submitting"))
        loan.annual_rate = rate
        loan.grade = grade.grade
        loan.submitted_at = utcnow()
        loan.review_step = "review"
        loan.disclosure = {
            "borrower_type": kind,
            "name": masked_name,
            "identity": masked_id,
            "industry": loan.industry,
            "monthly_income": loan.monthly_income,
            "debts_total": int(report.total_balance),
            "platform_balance": int(report.platform_balance),
            "overdue_count_6m": int(report.report.overdue_count_6m),
            "overdue_amount_6m": int(report.report.overdue_amount_6m),
            "grade": grade.grade,
            "score": grade.score,
            "report_date": report.fetched_at.date().isoformat() if isinstance(report.fetched_at, datetime) else "",
            "currency": report.currency,
        }
        move(loan, "submitted", actor=f"user:{borrower.id}")
        audit("loan.submitted", actor=borrower, target=loan, details={"grade": grade.grade, "rate": str(rate)})
        notify(loan.borrower_id, "submitted", f"submitted:{loan.id}", loan=loan, amount=loan.amount)
    return get_loan(loan_id)


# --------------------------------------------------------------------- review


STEP_PERMISSION = {"review": "loans.first_review", "risk": "loans.risk_review"}


def review(staff, loan_id: int, decision: str, reason: str) -> Loan:
    """One review step: the reviewer's (``review``), then the risk officer's (``risk``). Commits.

    ``decision`` is ``approved`` or ``rejected``; ``reason`` is required and
    recorded with the decision in the audit log. The risk officer's approval
    is the loan's risk assessment, disclosed on its listing.
    """
    if decision not in ("approved", "rejected"):
        raise LendingError(_l("Approve or reject."), code="decision", field="decision")
    reason = " ".join(str(reason or "").split())
    if not 2 <= len(reason) <= 2000:
        raise LendingError(_l("Give the reason for the decision (up to 2000 characters)."), code="reason", field="reason")
    listed = False
    with writing():
        loan = lock_loan(loan_id)
        if loan.status != "submitted":
            raise not_now(loan, _l("review"))
        step = loan.review_step or "review"
        if not staff.can(STEP_PERMISSION[step]):
            raise Forbidden(_l("This step needs a reviewer first, then a risk officer."), code="wrong_reviewer")
        if staff.id == loan.borrower_id:
            raise Forbidden(_l("You cannot review your own application."), code="own_application")
        if step == "risk" and db.session.scalar(
            select(LoanReview.id).where(LoanReview.loan_id == loan.id, LoanReview.reviewer_id == staff.id)
        ):
            raise Forbidden(_l("The second step needs a different person."), code="same_reviewer")
        db.session.add(LoanReview(loan_id=loan.id, step=step, decision=decision, reason=reason, reviewer_id=staff.id))
        audit(f"loan.review.{decision}", actor=staff, target=loan, details={"step": step, "reason": reason})
        if decision == "rejected":
            loan.review_step = None
            move(loan, "rejected", actor=f"user:{staff.id}", reason=reason)
            notify(loan.borrower_id, "rejected", f"rejected:{loan.id}", loan=loan, reason=reason)
        elif step == "review":
            loan.review_step = "risk"
        else:
            loan.review_step = None
            loan.risk_assessment = reason
            move(loan, "approved", actor=f"user:{staff.id}", reason=reason)
            from core.lending.bidding import list_loan

            list_loan(loan)
            listed = True
    if listed:
        from core.jobs import dispatch

        dispatch("lending.auto_bid", loan_id)
    return get_loan(loan_id)
