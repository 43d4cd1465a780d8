"""Claim transfers (债权转让): a holder offers a claim at a price, another investor buys it.

The buyer pays the seller through the custody bank (one transfer, key
``claim-sale:<claim id>``); when the bank confirms, the seller's claim is
``transferred`` and the buyer holds a new claim with the same share, so every
later repayment goes to the buyer. A claim of an overdue loan, or of a loan
with a repayment in flight, cannot change hands.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.audit import audit
from core.extensions import db
from core.ledger.errors import InsufficientFunds, LedgerError
from core.ledger.journal import writing
from core.lending.errors import Conflict, Forbidden, LendingError, NotFound, not_now
from core.lending.lifecycle import get_loan, lock_loan
from core.lending.models import Claim, Repayment
from core.lending.notices import notify
from core.tenancy.models import utcnow

__all__ = ["offer_claim", "buy_claim", "get_claim"]


def get_claim(claim_id: int) -> Claim:
    claim = db.session.scalars(select(Claim).where(Claim.id == claim_id).execution_options(populate_existing=True)).first()
    if claim is None:
        raise NotFound(_l("No claim %(id)s.", id=claim_id))
    return claim


def offer_claim(holder, claim_id: int, price: int | None) -> Claim:
    """The holder offers the claim for ``price`` (minor units), or withdraws the offer with None. Commits."""
    claim = get_claim(claim_id)
    if claim.holder_id != holder.id or claim.status != "active":
        raise Forbidden(_l("This claim is not yours to sell."), code="not_yours")
    loan = get_loan(claim.loan_id)
    if price is not None:
        if loan.status != "repaying":
            raise not_now(loan, _l("a claim transfer"))
        if isinstance(price, bool) or not isinstance(price, int) or price <= 0:
            raise LendingError(_l("Enter the price."), code="price", field="price")
    claim.asking_price = price
    audit("claim.offered" if price is not None else "claim.offer_withdrawn", actor=holder, target=f"claim:{claim.id}",
          details={"price": price, "loan": loan.number})
    db.session.commit()
    return claim


def buy_claim(buyer, claim_id: int, *, transaction_password: str | None = None, expected_price: int | None = None) -> Claim:
    """The buyer pays the asking price and becomes the holder; returns the buyer's new claim."""
    from core.custody import service as custody
    from core.lending.bidding import _check_transaction_password, spendable

    _check_transaction_password(buyer, transaction_password)
    claim = get_claim(claim_id)
    loan = get_loan(claim.loan_id)
    if claim.status != "active" or claim.asking_price is None:
        raise Conflict(_l("This claim is not for sale."), code="not_for_sale")
    if expected_price is not None and expected_price != claim.asking_price:
        raise Conflict(_l("The price changed; please look again."), code="price_changed")
    if buyer.id in (claim.holder_id, loan.borrower_id):
        raise Forbidden(_l("You cannot buy this claim."), code="own_claim")
    if loan.status != "repaying":
        raise not_now(loan, _l("a claim transfer"))
    if db.session.scalar(select(Repayment.id).where(Repayment.loan_id == loan.id, Repayment.state == "pending").limit(1)):
        raise Conflict(_l("A repayment of this loan is being processed; try again in a moment."), code="repayment_pending")
    price, seller = claim.asking_price, claim.holder_id
    if (spendable(buyer.id) or 0) < price:
        raise LendingError(_l("Your available funds do not cover the price."), code="insufficient_funds")
    try:
        instruction = custody.transfer(buyer.id, seller, price, key=f"claim-sale:{claim.id}",
                                       memo=f"claim {claim.id} of {loan.number}")
    except InsufficientFunds:
        raise LendingError(_l("Your available funds do not cover the price."), code="insufficient_funds") from None
    except LedgerError as exc:
        raise Conflict(exc.message, code=exc.reason) from None
    if instruction.state != "confirmed":
        raise Conflict(_l("The bank has not confirmed the payment yet."), code=f"bank_{instruction.state}")
    with writing():
        lock_loan(loan.id)
        claim = get_claim(claim_id)
        successor = db.session.scalars(select(Claim).where(Claim.previous_id == claim.id)).first()
        if successor is not None:
            return successor
        claim.status = "transferred"
        claim.asking_price = None
        successor = Claim(loan_id=claim.loan_id, holder_id=buyer.id, share=claim.share,
                          principal_outstanding=claim.principal_outstanding, status="active",
                          previous_id=claim.id, price=price, acquired_at=utcnow())
        db.session.add(successor)
        db.session.flush()
        audit("claim.transferred", actor=buyer, target=f"claim:{claim.id}",
              details={"loan": loan.number, "price": price, "seller": seller, "new_claim": successor.id})
        notify(seller, "claim_sold", f"claim_sold:{claim.id}", loan=loan, amount=price)
        notify(buyer.id, "claim_bought", f"claim_bought:{claim.id}", loan=loan, amount=price)
    return successor
