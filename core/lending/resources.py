"""``/api/v1/loans``: listings, applications, review, bids, schedules, repayments, contracts, claims, auto-bids.

Refusals answer with the API error body; a step not allowed in the loan's
current state is 409. A loan of another tenant does not exist here (404).
"""
from __future__ import annotations

from http import HTTPStatus

from flask import Response
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import abort
from sqlalchemy import select

from core.accounts.access import api_user, public, requires
from core.accounts.policy import AccountRefused
from core.api import Blueprint
from core.extensions import db
from core.lending import access
from core.lending.errors import LendingError
from core.lending.lifecycle import get_loan
from core.lending.models import AutoBidRule, Bid, Claim, CollectionNote, Installment, Loan
from core.lending.schemas import (
    ApplicationSchema,
    AutoBidSchema,
    BidRequestSchema,
    BidSchema,
    BuySchema,
    ClaimSchema,
    ContractQuerySchema,
    LoanInstallmentSchema,
    LoanQuerySchema,
    LoanSchema,
    NoteRequestSchema,
    NoteSchema,
    OfferSchema,
    QuoteSchema,
    RepaymentSchema,
    RepayRequestSchema,
    ReviewSchema,
)

blp = Blueprint("loans", __name__, description="Loans: listings, applications, review, bids, repayments, claims")


def refuse(exc):
    """A service's refusal as the API error body."""
    db.session.rollback()
    kwargs = {"message": str(exc.message)}
    if getattr(exc, "field", None):
        kwargs["errors"] = {exc.field: [str(exc.message)]}
    kwargs["headers"] = {"X-Lendkit-Reason": str(getattr(exc, "code", "refused"))}
    abort(exc.status, **kwargs)


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (LendingError, AccountRefused) as exc:
        refuse(exc)


def _loan(loan_id: int) -> Loan:
    """The loan if the caller may see it; 404 otherwise (another tenant's loan does not exist here)."""
    try:
        loan = get_loan(loan_id)
    except LendingError as exc:
        refuse(exc)
    if not access.may_view(loan, api_user()):
        abort(404, message=_("No loan %(id)s.", id=loan_id))
    return loan


def _borrowers_loan(loan_id: int) -> Loan:
    """The loan if the caller is its borrower; 404 when they may not see it, 403 when they only may see it."""
    loan = _loan(loan_id)
    if loan.borrower_id != api_user().id:
        abort(403, message=_("Only the borrower repays the loan."))
    return loan


def _party_or_staff(loan: Loan) -> None:
    user = api_user()
    if user is None:
        abort(401, message=_("Sign in first: send the token from POST /api/v1/auth/tokens as a bearer token."))
    if not (access.is_party(loan, user) or access._staff(user)):
        abort(403, message=_("Only the loan's borrower and investors may see this."))


# ------------------------------------------------------------------ listings and applications


@blp.route("")
class Loans(MethodView):
    @public
    @blp.arguments(LoanQuerySchema, location="query")
    @blp.response(200, LoanSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """Loans by status (default: open listings), newest first"""
        if args["status"] not in access.PUBLIC_STATUSES:
            abort(422, message=_("Only public statuses can be listed."), errors={"status": [_("not a public status")]})
        query = select(Loan).where(Loan.status == args["status"]).order_by(Loan.id.desc())
        page = db.paginate(query, page=pagination_parameters.page, per_page=pagination_parameters.page_size,
                           error_out=False)
        pagination_parameters.item_count = page.total
        return page.items

    @requires("borrow")
    @blp.arguments(ApplicationSchema)
    @blp.response(201, LoanSchema)
    def post(self, args):
        """Apply for a loan (submitted at once unless ``submit`` is false)"""
        from core.lending.applications import create_application

        return _call(create_application, api_user(), **args)


@blp.route("/mine")
class MyLoans(MethodView):
    @requires("borrow")
    @blp.response(200, LoanSchema(many=True))
    def get(self):
        """The caller's loans as a borrower"""
        return db.session.scalars(select(Loan).where(Loan.borrower_id == api_user().id).order_by(Loan.id.desc())).all()


@blp.route("/<int:loan_id>")
class LoanById(MethodView):
    @public
    @blp.response(200, LoanSchema)
    def get(self, loan_id):
        """One loan with its disclosure"""
        return _loan(loan_id)


@blp.route("/<int:loan_id>/submit")
class Submit(MethodView):
    @requires("borrow")
    @blp.response(200, LoanSchema)
    def post(self, loan_id):
        """Submit a draft application"""
        from core.lending.applications import submit_application

        _loan(loan_id)
        return _call(submit_application, api_user(), loan_id)


# ------------------------------------------------------------------ review


@blp.route("/review-queue")
class ReviewQueue(MethodView):
    @requires("loans.review")
    @blp.response(200, LoanSchema(many=True))
    def get(self):
        """Applications waiting for review, oldest first"""
        return db.session.scalars(select(Loan).where(Loan.status == "submitted").order_by(Loan.submitted_at)).all()


@blp.route("/<int:loan_id>/reviews")
class Reviews(MethodView):
    @requires("loans.review")
    @blp.arguments(ReviewSchema)
    @blp.response(200, LoanSchema)
    def post(self, args, loan_id):
        """Approve or reject the current review step, with a reason"""
        from core.lending.applications import review

        _loan(loan_id)
        return _call(review, api_user(), loan_id, args["decision"], args["reason"])


# ------------------------------------------------------------------ bidding


@blp.route("/<int:loan_id>/bids")
class Bids(MethodView):
    @requires("invest")
    @blp.arguments(BidRequestSchema)
    @blp.response(201, BidSchema)
    def post(self, args, loan_id):
        """Bid on a listed loan: the amount is frozen in the caller's custody account"""
        from core.lending.bidding import place_bid

        loan = _loan(loan_id)  # held while bidding: place_bid finds it in the session instead of reading it again
        investor = api_user()
        return _call(place_bid, investor, loan.id, args["amount"],
                     request_key=args["key"] and f"api:{investor.id}:{args['key']}",
                     transaction_password=args["transaction_password"])

    @requires("invest")
    @blp.response(200, BidSchema(many=True))
    def get(self, loan_id):
        """The caller's bids on this loan"""
        _loan(loan_id)
        return db.session.scalars(select(Bid).where(Bid.loan_id == loan_id, Bid.investor_id == api_user().id)
                                  .order_by(Bid.id)).all()


@blp.route("/bids")
class MyBids(MethodView):
    @requires("invest")
    @blp.response(200, BidSchema(many=True))
    def get(self):
        """Every bid of the caller, newest first"""
        return db.session.scalars(select(Bid).where(Bid.investor_id == api_user().id).order_by(Bid.id.desc())).all()


@blp.route("/auto-bid")
class AutoBid(MethodView):
    @requires("invest")
    @blp.response(200, AutoBidSchema)
    def get(self):
        """The caller's auto-bid rule"""
        rule = db.session.scalars(select(AutoBidRule).where(AutoBidRule.investor_id == api_user().id)).first()
        if rule is None:
            abort(404, message=_("No auto-bid rule yet."))
        return rule

    @requires("invest")
    @blp.arguments(AutoBidSchema)
    @blp.response(200, AutoBidSchema)
    def put(self, args):
        """Create or replace the caller's auto-bid rule"""
        from core.lending.bidding import set_auto_bid_rule

        return _call(set_auto_bid_rule, api_user().id, **args)


# ------------------------------------------------------------------ after disbursement


@blp.route("/<int:loan_id>/schedule")
class Schedule(MethodView):
    @requires()
    @blp.response(200, LoanInstallmentSchema(many=True))
    def get(self, loan_id):
        """The loan's installments (its borrower, investors and staff)"""
        loan = _loan(loan_id)
        _party_or_staff(loan)
        return db.session.scalars(select(Installment).where(Installment.loan_id == loan.id)
                                  .order_by(Installment.number)).all()


@blp.route("/<int:loan_id>/repayments")
class Repayments(MethodView):
    @requires("borrow")
    @blp.arguments(RepayRequestSchema)
    @blp.response(201, RepaymentSchema)
    def post(self, args, loan_id):
        """Repay the next installment (or the one named) from the caller's custody account"""
        from core.lending.bidding import _check_transaction_password
        from core.lending.repayment import repay_installment

        loan = _borrowers_loan(loan_id)
        _call(_check_transaction_password, api_user(), args["transaction_password"])
        return _call(repay_installment, loan_id, installment_id=args["installment_id"])


@blp.route("/<int:loan_id>/prepayment")
class Prepayment(MethodView):
    @requires("borrow")
    @blp.response(200, QuoteSchema)
    def get(self, loan_id):
        """What paying the whole loan off now costs"""
        from core.lending.repayment import prepayment_quote

        loan = _borrowers_loan(loan_id)
        quote = prepayment_quote(loan) if loan.status == "repaying" else None
        if quote is None:
            abort(409, message=_("The loan cannot be paid off early now."))
        return quote

    @requires("borrow")
    @blp.arguments(RepayRequestSchema)
    @blp.response(201, RepaymentSchema)
    def post(self, args, loan_id):
        """Pay the whole loan off now"""
        from core.lending.bidding import _check_transaction_password
        from core.lending.repayment import prepay

        loan = _borrowers_loan(loan_id)
        _call(_check_transaction_password, api_user(), args["transaction_password"])
        return _call(prepay, loan_id)


@blp.route("/<int:loan_id>/contract")
class Contract(MethodView):
    @requires()
    @blp.arguments(ContractQuerySchema, location="query")
    @blp.response(200)
    def get(self, args, loan_id):
        """The signed loan contract, PDF or HTML (the borrower and the loan's investors only)"""
        from core.lending.contracts import contract_for

        loan = _loan(loan_id)
        if not access.is_party(loan, api_user()):
            abort(403, message=_("Only the loan's borrower and investors may download its contract."))
        contract = contract_for(loan, args["locale"])
        if contract is None:
            abort(404, message=_("The contract is not ready yet."))
        return contract_response(contract, args["format"], loan)


def contract_response(contract, fmt: str, loan) -> Response:
    if fmt == "html":
        body, mimetype = contract.html.encode("utf-8"), "text/html"
    else:
        body, mimetype = contract.pdf, "application/pdf"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{loan.number}-{contract.locale}.{fmt}"'
    response.headers["X-Content-SHA256"] = contract.sha256
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.route("/<int:loan_id>/collection-notes")
class CollectionNotes(MethodView):
    @requires("loans.collect")
    @blp.response(200, NoteSchema(many=True))
    def get(self, loan_id):
        """Staff's collection notes on the loan"""
        _loan(loan_id)
        return db.session.scalars(select(CollectionNote).where(CollectionNote.loan_id == loan_id)
                                  .order_by(CollectionNote.id)).all()

    @requires("loans.collect")
    @blp.arguments(NoteRequestSchema)
    @blp.response(201, NoteSchema)
    def post(self, args, loan_id):
        """Record a collection step on an overdue loan"""
        from core.lending.overdue import add_collection_note

        _loan(loan_id)
        return _call(add_collection_note, loan_id, api_user(), status=args["status"], note=args["note"])


# ------------------------------------------------------------------ claims (债权转让)


@blp.route("/claims")
class MyClaims(MethodView):
    @requires("invest")
    @blp.response(200, ClaimSchema(many=True))
    def get(self):
        """The caller's claims"""
        return db.session.scalars(select(Claim).where(Claim.holder_id == api_user().id).order_by(Claim.id)).all()


@blp.route("/claims/market")
class ClaimMarket(MethodView):
    @requires("invest")
    @blp.response(200, ClaimSchema(many=True))
    def get(self):
        """Claims offered for sale"""
        return db.session.scalars(select(Claim).where(Claim.status == "active", Claim.asking_price.is_not(None))
                                  .order_by(Claim.id)).all()


@blp.route("/claims/<int:claim_id>/offer")
class ClaimOffer(MethodView):
    @requires("invest")
    @blp.arguments(OfferSchema)
    @blp.response(200, ClaimSchema)
    def post(self, args, claim_id):
        """Offer a claim for sale at a price (null withdraws the offer)"""
        from core.lending.claims import offer_claim

        return _call(offer_claim, api_user(), claim_id, args["price"])


@blp.route("/claims/<int:claim_id>/buy")
class ClaimBuy(MethodView):
    @requires("invest")
    @blp.arguments(BuySchema)
    @blp.response(201, ClaimSchema)
    def post(self, args, claim_id):
        """Buy a claim offered for sale: the caller pays the asking price and holds the claim"""
        from core.lending.claims import buy_claim

        return _call(buy_claim, api_user(), claim_id, transaction_password=args["transaction_password"],
                     expected_price=args["price"])


@blp.errorhandler(LendingError)
def _lending_error(exc):  # a refusal that escaped a view: the same error body
    db.session.rollback()
    body = {"code": exc.status, "status": HTTPStatus(exc.status).phrase, "message": str(exc)}
    if exc.field:
        body["errors"] = {exc.field: [str(exc)]}
    return body, exc.status, {"X-Lendkit-Reason": exc.code}

