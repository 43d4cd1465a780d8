"""The lending pages: listings with their disclosure, applying, bidding, repaying, the investor's
portfolio (claims, transfers, auto-bid) and the staff's review and collection pages.

Amounts are typed in major units (yuan, dollars) and converted exactly with
:func:`core.money.to_minor`. A refusal is flashed and shown next to its field.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget

from core.accounts.access import current_principal, public, requires
from core.accounts.policy import AccountRefused
from core.extensions import db
from core.lending import access
from core.lending.errors import LendingError
from core.lending.lifecycle import get_loan
from core.lending.models import (
    AutoBidRule,
    Bid,
    Claim,
    CollectionNote,
    Installment,
    Loan,
    LoanContract,
    LoanEvent,
    LoanReview,
)
from core.lending.products import GRADES, products_of
from core.money import minor_units, to_minor
from core.tenancy.models import utcnow
from core.web.nav import nav_item

pages = Blueprint("lending", __name__)

METHOD_LABELS = {
    "equal_installment": _l("Equal monthly installments"),
    "equal_principal": _l("Equal principal, falling interest"),
    "interest_first": _l("Interest monthly, principal at the end"),
    "bullet": _l("Principal and interest in one payment at the end"),
}
STATUS_LABELS = {
    "draft": _l("Draft"), "submitted": _l("Under review"), "approved": _l("Approved"), "listed": _l("Open for bids"),
    "funded": _l("Fully funded"), "disbursed": _l("Disbursed"), "repaying": _l("Repaying"), "overdue": _l("Overdue"),
    "paid_off": _l("Paid off"), "rejected": _l("Rejected"), "failed": _l("Not funded"), "defaulted": _l("Defaulted"),
    "written_off": _l("Written off"),
}
COLLECTION_LABELS = {
    "none": _l("None yet"), "contacted": _l("Contacted"), "promised": _l("Promised to pay"),
    "negotiating": _l("Negotiating"), "legal": _l("Legal action"),
}


def _signed_in() -> bool:
    return current_principal() is not None


def _can(permission: str) -> bool:
    user = current_principal()
    return bool(user is not None and user.can(permission))


nav_item("lending.listings", _l("Invest"), order=20, active_prefix="lending.listing")
nav_item("lending.my_loans", _l("My loans"), order=30, when=lambda: _can("borrow"), active_prefix="lending.my_loans")
nav_item("lending.portfolio", _l("My investments"), order=31, when=lambda: _can("invest"), active_prefix="lending.portfolio")


@pages.app_template_global()
def loan_status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


@pages.app_template_global()
def method_label(method: str) -> str:
    return str(METHOD_LABELS.get(method, method))


BID_STATE_LABELS = {
    "pending": _l("waiting for the bank"),
    "frozen": _l("frozen"),
    "void": _l("not placed"),
    "released": _l("unfrozen"),
    "settled": _l("invested"),
}


@pages.app_template_global()
def bid_state_label(state: str) -> str:
    return str(BID_STATE_LABELS.get(state, state))


INSTALLMENT_LABELS = {"due": _l("Due"), "overdue": _l("Overdue"), "paid": _l("Paid"), "written_off": _l("Written off")}
CLAIM_LABELS = {"active": _l("Earning"), "transferred": _l("Sold"), "closed": _l("Closed")}
REVIEW_STEP_LABELS = {"review": _l("First review"), "risk": _l("Risk review")}
REVIEW_DECISION_LABELS = {"approved": _l("Approved"), "rejected": _l("Rejected")}
_DAYS_OVERDUE = re.compile(r"^(\d+) days overdue$")


@pages.app_template_global()
def installment_status_label(status: str) -> str:
    return str(INSTALLMENT_LABELS.get(status, status))


@pages.app_template_global()
def claim_status_label(status: str) -> str:
    return str(CLAIM_LABELS.get(status, status))


@pages.app_template_global()
def review_label(step: str, decision: str) -> str:
    """``review``/``approved`` → "First review: Approved"."""
    return _("%(step)s: %(decision)s", step=REVIEW_STEP_LABELS.get(step, step),
             decision=REVIEW_DECISION_LABELS.get(decision, decision))


@pages.app_template_global()
def collection_label(status: str) -> str:
    return str(COLLECTION_LABELS.get(status, status))


@pages.app_template_global()
def event_reason(event) -> str:
    """Why a loan changed status: a staff member's words as written; the daily job's reasons in the reader's language."""
    reason = event.reason or ""
    if event.actor != "daily":
        return reason
    if reason == "deadline passed":
        return _("the funding deadline passed")
    late = _DAYS_OVERDUE.match(reason)
    if late:
        return ngettext("%(num)d day overdue", "%(num)d days overdue", int(late.group(1)))
    return reason


# ------------------------------------------------------------------ forms


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _major_to_minor(text, field: str) -> int:
    try:
        value = Decimal(str(text or "").strip().replace(",", "").replace("，", ""))
    except InvalidOperation:
        raise LendingError(_l("Enter an amount such as 5000."), code=field, field=field) from None
    if not value.is_finite():
        raise LendingError(_l("Enter an amount such as 5000."), code=field, field=field)
    if value <= 0:
        raise LendingError(_l("The amount must be more than zero."), code=field, field=field)
    if value.as_tuple().exponent < -minor_units(g.tenant.currency):
        raise LendingError(_l("Enter the amount to the cent at most, such as 5000.50."), code=field, field=field)
    return to_minor(value, g.tenant.currency)


class ApplyForm(FlaskForm):
    product_code = SelectField(_l("Loan product"))
    amount = StringField(_l("Amount to borrow"), render_kw={"inputmode": "decimal"})
    months = SelectField(_l("Term in months"), coerce=int)
    method = SelectField(_l("Repayment method"), choices=list(METHOD_LABELS.items()))
    purpose = StringField(_l("Purpose"))
    repayment_source = StringField(_l("Source of repayment"))
    industry = StringField(_l("Industry or occupation"))
    monthly_income = StringField(_l("Monthly income"), render_kw={"inputmode": "decimal"})
    safeguards = StringField(_l("Safeguards (guarantee, collateral), if any"))


class BidForm(FlaskForm):
    amount = StringField(_l("Amount to invest"), render_kw={"inputmode": "decimal"})
    transaction_password = PasswordField(_l("Transaction password"))


class ReviewForm(FlaskForm):
    decision = SelectField(_l("Decision"), choices=[("approved", _l("Approve")), ("rejected", _l("Reject"))])
    reason = TextAreaField(_l("Reason"))


class PasswordForm(FlaskForm):
    transaction_password = PasswordField(_l("Transaction password"))


class NoteForm(FlaskForm):
    status = SelectField(_l("Collection status"), choices=list(COLLECTION_LABELS.items()))
    note = TextAreaField(_l("Note"))


class OfferForm(FlaskForm):
    price = StringField(_l("Asking price"), render_kw={"inputmode": "decimal"})


class AutoBidForm(FlaskForm):
    grades = MultiCheckboxField(_l("Grades"), choices=[(g_, g_) for g_ in GRADES])
    terms = StringField(_l("Terms in months (comma separated; empty: any)"))
    max_per_loan = StringField(_l("At most per loan"), render_kw={"inputmode": "decimal"})
    min_rate = StringField(_l("Lowest annual rate (%)"), render_kw={"inputmode": "decimal"})
    keep_available = StringField(_l("Always keep available"), render_kw={"inputmode": "decimal"})
    # auto-bidding invests without asking each time: an investor switches it on, never a default
    active = BooleanField(_l("Active"), default=False)


def _flash_refusal(exc, form=None) -> None:
    db.session.rollback()
    field = getattr(exc, "field", None)
    if form is not None and field and field in form:
        form[field].errors = list(form[field].errors or []) + [str(exc.message)]
    flash(str(exc.message), "error")


def _loan_or_404(loan_id: int) -> Loan:
    try:
        loan = get_loan(loan_id)
    except LendingError:
        abort(404)
    if not access.may_view(loan, current_principal()):
        abort(404)
    return loan


# ------------------------------------------------------------------ public listings


@pages.route("/loans")
@public
def listings():
    status = request.args.get("status", "listed")
    if status not in access.PUBLIC_STATUSES:
        status = "listed"
    loans = db.session.scalars(select(Loan).where(Loan.status == status).order_by(Loan.id.desc()).limit(100)).all()
    return render_template("lending/listings.html", loans=loans, status=status, now=utcnow(),
                           statuses=access.PUBLIC_STATUSES)


@pages.route("/loans/<int:loan_id>")
@public
def listing(loan_id):
    loan = _loan_or_404(loan_id)
    user = current_principal()
    party = access.is_party(loan, user)
    staff = user is not None and access._staff(user)
    installments = []
    if party or staff:
        installments = db.session.scalars(select(Installment).where(Installment.loan_id == loan.id)
                                          .order_by(Installment.number)).all()
    context = dict(
        loan=loan, now=utcnow(), party=party, staff=staff, installments=installments,
        bid_form=BidForm(amount=(request.args.get("amount") or "")[:20] or None), review_form=ReviewForm(), password_form=PasswordForm(), note_form=NoteForm(),
        my_bids=db.session.scalars(select(Bid).where(Bid.loan_id == loan.id, Bid.investor_id == user.id)
                                   .order_by(Bid.id)).all() if user is not None else [],
        bidders=db.session.scalar(select(func.count(func.distinct(Bid.investor_id)))
                                  .where(Bid.loan_id == loan.id, Bid.state.in_(("pending", "frozen", "settled"))))
        or 0,
        contracts=db.session.scalars(select(LoanContract.locale).where(LoanContract.loan_id == loan.id)).all()
        if party else [],
        reviews=db.session.scalars(select(LoanReview).where(LoanReview.loan_id == loan.id)
                                   .order_by(LoanReview.id)).all() if staff else [],
        events=db.session.scalars(select(LoanEvent).where(LoanEvent.loan_id == loan.id).order_by(LoanEvent.id)).all()
        if (staff or (user is not None and loan.borrower_id == user.id)) else [],
        notes=db.session.scalars(select(CollectionNote).where(CollectionNote.loan_id == loan.id)
                                 .order_by(CollectionNote.id)).all() if staff else [],
        quote=None,
        next_due=None,
    )
    if user is not None and loan.borrower_id == user.id and loan.status in ("repaying", "overdue", "defaulted"):
        from core.lending.repayment import amount_to_repay, next_installment

        due = next_installment(loan.id)  # what "Repay now" pays
        context["next_due"] = (due, amount_to_repay(due)) if due is not None else None
    if user is not None and loan.borrower_id == user.id and loan.status == "repaying":
        from core.lending.repayment import prepayment_quote

        context["quote"] = prepayment_quote(loan)
    return render_template("lending/listing.html", **context)


# ------------------------------------------------------------------ borrowers


def _apply_choices(form: ApplyForm) -> list[dict]:
    products = products_of(g.tenant)
    form.product_code.choices = [(p["code"], p["name"].get(str(_current_locale()), next(iter(p["name"].values()))))
                                 for p in products]
    terms = sorted({m for p in products for m in p["terms_months"]})
    form.months.choices = [(m, str(m)) for m in terms]
    return products


def _current_locale():
    from core.i18n import current_locale

    return current_locale()


@pages.route("/loans/apply", methods=["GET", "POST"])
@requires("borrow")
def apply():
    from core.lending.applications import create_application

    form = ApplyForm()
    products = _apply_choices(form)
    if request.method == "POST":
        try:
            loan = create_application(
                current_user, product_code=form.product_code.data,
                amount=_major_to_minor(form.amount.data, "amount"), months=form.months.data,
                method=form.method.data, purpose=form.purpose.data, repayment_source=form.repayment_source.data,
                industry=form.industry.data,
                monthly_income=_major_to_minor(form.monthly_income.data, "monthly_income") if form.monthly_income.data else 0,
                safeguards=form.safeguards.data,
            )
            flash(_("Your application %(number)s was submitted for review.", number=loan.number), "success")
            return redirect(url_for(".listing", loan_id=loan.id))
        except (LendingError, AccountRefused) as exc:
            _flash_refusal(exc, form)
    return render_template("lending/apply.html", form=form, products=products)


@pages.route("/loans/mine")
@requires("borrow")
def my_loans():
    loans = db.session.scalars(select(Loan).where(Loan.borrower_id == current_user.id).order_by(Loan.id.desc())).all()
    due = {}
    for loan in loans:
        from core.lending.repayment import next_installment

        if loan.status in ("repaying", "overdue", "defaulted"):
            due[loan.id] = next_installment(loan.id)
    return render_template("lending/my_loans.html", loans=loans, due=due, password_form=PasswordForm())


def _borrower_pays(loan_id: int, pay, paid_message):
    """The borrower of ``loan_id`` pays with ``pay(loan_id)`` after their transaction password;
    ``paid_message(repayment)`` is flashed once the bank confirmed it."""
    from core.lending.bidding import _check_transaction_password

    loan = _loan_or_404(loan_id)
    if loan.borrower_id != current_user.id:
        abort(403)
    form = PasswordForm()
    try:
        _check_transaction_password(current_user, form.transaction_password.data)
        rep = pay(loan.id)
        if rep.state == "done":
            flash(paid_message(rep), "success")
        else:
            flash(_("The bank has not confirmed the repayment yet; we will update it shortly."), "warning")
    except (LendingError, AccountRefused) as exc:
        _flash_refusal(exc)
        # the amount typed stays in the field (never the password)
        return redirect(url_for(".listing", loan_id=loan.id, amount=(form.amount.data or "")[:20] or None))
    return redirect(url_for(".listing", loan_id=loan.id))


@pages.route("/loans/<int:loan_id>/repay", methods=["POST"])
@requires("borrow")
def repay(loan_id):
    from core.lending.repayment import repay_installment

    return _borrower_pays(loan_id, repay_installment,
                          lambda rep: _("Thank you: %(amount)s was repaid.", amount=_money(rep.amount)))


@pages.route("/loans/<int:loan_id>/prepay", methods=["POST"])
@requires("borrow")
def prepay(loan_id):
    from core.lending.repayment import prepay as prepay_loan

    return _borrower_pays(loan_id, prepay_loan,
                          lambda rep: _("The loan is paid off: %(amount)s was repaid.", amount=_money(rep.amount)))


def _money(amount: int) -> str:
    from core.i18n import money

    return money(amount, g.tenant.currency)


@pages.route("/loans/<int:loan_id>/contract.<fmt>")
@requires()
def contract(loan_id, fmt):
    from core.lending.contracts import contract_for
    from core.lending.resources import contract_response

    loan = _loan_or_404(loan_id)
    if fmt not in ("pdf", "html") or not access.is_party(loan, current_user):
        abort(403 if fmt in ("pdf", "html") else 404)
    found = contract_for(loan, request.args.get("locale") or _current_locale())
    if found is None:
        abort(404)
    return contract_response(found, fmt, loan)


# ------------------------------------------------------------------ investors


@pages.route("/loans/<int:loan_id>/bid", methods=["POST"])
@requires("invest")
def bid(loan_id):
    from core.lending.bidding import place_bid

    loan = _loan_or_404(loan_id)
    form = BidForm()
    try:
        placed = place_bid(current_user, loan.id, _major_to_minor(form.amount.data, "amount"),
                           request_key=f"web:{current_user.id}:{loan.id}:{request.form.get('nonce') or utcnow().timestamp()}",
                           transaction_password=form.transaction_password.data)
        if placed.state == "void":
            from core.custody.service import refusal_text

            flash(_("Your bid could not be placed: %(reason)s", reason=refusal_text(placed.reason)), "error")
        elif placed.amount < placed.requested:
            flash(_("Only %(amount)s was left, so your bid was trimmed to it.", amount=_money(placed.amount)), "success")
        else:
            flash(_("You bid %(amount)s; it is frozen in your custody account.", amount=_money(placed.amount)), "success")
    except (LendingError, AccountRefused) as exc:
        _flash_refusal(exc)
        # the amount typed stays in the field (never the password)
        return redirect(url_for(".listing", loan_id=loan.id, amount=(form.amount.data or "")[:20] or None))
    return redirect(url_for(".listing", loan_id=loan.id))


@pages.route("/invest")
@requires("invest")
def portfolio():
    from core.lending.bidding import spendable

    user = current_user
    rule = db.session.scalars(select(AutoBidRule).where(AutoBidRule.investor_id == user.id)).first()
    form = AutoBidForm(obj=None)
    if rule is not None and request.method == "GET":
        form.grades.data = rule.grades
        form.terms.data = ", ".join(str(t) for t in rule.terms or [])
        form.max_per_loan.data = str(rule.max_per_loan / 10 ** minor_units(g.tenant.currency))
        form.min_rate.data = str(rule.min_rate * 100)
        form.active.data = rule.active
    claims = db.session.execute(
        select(Claim, Loan).join(Loan, Loan.id == Claim.loan_id).where(Claim.holder_id == user.id).order_by(Claim.id.desc())
    ).all()
    market = db.session.execute(
        select(Claim, Loan).join(Loan, Loan.id == Claim.loan_id)
        .where(Claim.status == "active", Claim.asking_price.is_not(None), Claim.holder_id != user.id).order_by(Claim.id)
    ).all()
    bids = db.session.execute(
        select(Bid, Loan).join(Loan, Loan.id == Bid.loan_id).where(Bid.investor_id == user.id).order_by(Bid.id.desc()).limit(50)
    ).all()
    return render_template("lending/portfolio.html", claims=claims, market=market, bids=bids, rule=rule, form=form,
                           offer_form=OfferForm(), password_form=PasswordForm(), available=spendable(user.id))


@pages.route("/invest/auto-bid", methods=["POST"])
@requires("invest")
def auto_bid():
    from core.lending.bidding import set_auto_bid_rule

    form = AutoBidForm()
    try:
        terms = [int(t) for t in (form.terms.data or "").replace("，", ",").split(",") if t.strip()]
        rate = Decimal((form.min_rate.data or "0").strip() or "0") / 100
        set_auto_bid_rule(current_user.id, grades=form.grades.data, terms=terms,
                          max_per_loan=_major_to_minor(form.max_per_loan.data, "max_per_loan"), min_rate=rate,
                          keep_available=_major_to_minor(form.keep_available.data, "keep_available")
                          if (form.keep_available.data or "").strip() else 0, active=form.active.data)
        flash(_("Your auto-bid rule was saved."), "success")
    except (ValueError, InvalidOperation):
        flash(_("Enter the terms as whole numbers of months and the rate as a number."), "error")
    except LendingError as exc:
        _flash_refusal(exc)
    return redirect(url_for(".portfolio"))


@pages.route("/invest/claims/<int:claim_id>/offer", methods=["POST"])
@requires("invest")
def offer(claim_id):
    from core.lending.claims import offer_claim

    form = OfferForm()
    try:
        price = _major_to_minor(form.price.data, "price") if (form.price.data or "").strip() else None
        offer_claim(current_user, claim_id, price)
        flash(_("Your claim is offered for sale.") if price else _("Your offer was withdrawn."), "success")
    except LendingError as exc:
        _flash_refusal(exc)
    return redirect(url_for(".portfolio"))


@pages.route("/invest/claims/<int:claim_id>/buy", methods=["POST"])
@requires("invest")
def buy(claim_id):
    from core.lending.claims import buy_claim

    form = PasswordForm()
    try:
        buy_claim(current_user, claim_id, transaction_password=form.transaction_password.data)
        flash(_("You bought the claim; its repayments now come to you."), "success")
    except (LendingError, AccountRefused) as exc:
        _flash_refusal(exc)
    return redirect(url_for(".portfolio"))


# ------------------------------------------------------------------ staff


@pages.route("/staff/loans")
@requires("loans.staff_view")
def staff_loans():
    from core.accounts.today import day_bounds
    from core.lending.lifecycle import tenant_today, tenant_zone

    start, end = day_bounds(tenant_today(g.tenant), tenant_zone(g.tenant))
    queue = db.session.scalars(select(Loan).where(Loan.status == "submitted").order_by(Loan.submitted_at)).all()
    closing = db.session.scalars(select(Loan).where(Loan.status == "listed", Loan.deadline >= start, Loan.deadline < end)
                                 .order_by(Loan.deadline)).all()
    failed = db.session.scalars(select(Loan).where(Loan.status == "failed", Loan.status_changed_at >= start,
                                                   Loan.status_changed_at < end).order_by(Loan.id)).all()
    overdue = db.session.scalars(select(Loan).where(Loan.status.in_(("overdue", "defaulted"))).order_by(Loan.id)).all()
    recent = db.session.scalars(select(Loan).order_by(Loan.id.desc()).limit(50)).all()
    return render_template("lending/staff_loans.html", queue=queue, closing=closing, failed=failed, overdue=overdue,
                           recent=recent)


def collection_rows(collection: str | None = None) -> list[dict]:
    """The bound tenant's overdue and defaulted loans for collection staff, longest overdue first.

    Each row: the loan, days overdue (its oldest overdue installment, as of today or the last day the
    daily run accrued penalty for, whichever is later), the amount overdue (every overdue installment
    with penalty and late fee), and the newest collection note.
    """
    from core.lending.lifecycle import tenant_today
    from core.lending.overdue import days_overdue

    where = [Loan.status.in_(("overdue", "defaulted"))]
    if collection:
        where.append(Loan.collection_status == collection)
    loans = db.session.scalars(select(Loan).where(*where).order_by(Loan.id)).all()
    if not loans:
        return []
    ids = [loan.id for loan in loans]
    late = {}
    for inst in db.session.scalars(select(Installment).where(Installment.loan_id.in_(ids),
                                                             Installment.status == "overdue")
                                   .order_by(Installment.loan_id, Installment.number)):
        late.setdefault(inst.loan_id, []).append(inst)
    newest = select(func.max(CollectionNote.id)).where(CollectionNote.loan_id.in_(ids)).group_by(CollectionNote.loan_id)
    notes = {n.loan_id: n for n in db.session.scalars(select(CollectionNote).where(CollectionNote.id.in_(newest)))}
    today = tenant_today(g.tenant)
    rows = []
    for loan in loans:
        installments = late.get(loan.id, [])
        oldest = installments[0] if installments else None
        as_of = max([today] + [i.penalty_through for i in installments if i.penalty_through])
        rows.append({
            "loan": loan,
            "days": days_overdue(oldest, as_of) if oldest is not None else 0,
            "installments": len(installments),
            "amount": sum(i.total_due for i in installments),
            "note": notes.get(loan.id),
        })
    rows.sort(key=lambda r: (-r["days"], r["loan"].id))
    return rows


@pages.route("/staff/collection")
@requires("loans.collect")
def staff_collection():
    collection = request.args.get("collection") or None
    if collection not in COLLECTION_LABELS:
        collection = None
    return render_template("lending/staff_collection.html", rows=collection_rows(collection), collection=collection,
                           statuses=list(COLLECTION_LABELS))


@pages.route("/staff/loans/<int:loan_id>/review", methods=["POST"])
@requires("loans.review")
def staff_review(loan_id):
    from core.lending.applications import review

    _loan_or_404(loan_id)
    form = ReviewForm()
    try:
        loan = review(current_user, loan_id, form.decision.data, form.reason.data)
        flash(_("Recorded. The loan is now: %(status)s.", status=loan_status_label(loan.status)), "success")
    except LendingError as exc:
        _flash_refusal(exc)
    return redirect(url_for(".listing", loan_id=loan_id))


@pages.route("/staff/loans/<int:loan_id>/notes", methods=["POST"])
@requires("loans.collect")
def staff_note(loan_id):
    from core.lending.overdue import add_collection_note

    _loan_or_404(loan_id)
    form = NoteForm()
    try:
        add_collection_note(loan_id, current_user, status=form.status.data, note=form.note.data)
        flash(_("The note was saved."), "success")
    except LendingError as exc:
        _flash_refusal(exc)
    return redirect(url_for(".listing", loan_id=loan_id))

