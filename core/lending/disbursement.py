"""Disbursement: a funded loan's frozen bids go to the borrower in ONE custody batch instruction.

The batch (key ``disburse:<loan id>``) moves each frozen bid from its
investor's frozen funds to the borrower, then the service fee
(``service_fee_rate`` of the principal) to the platform's fee income and the
risk-reserve contribution (``reserve_rate``) to the reserve — the borrower
receives the principal less both, all in one ledger entry. When the bank
confirms: bids are ``settled``, each investor gets one claim (their bids on
the loan together), the schedule's installments are stored, and the loan goes
``funded → disbursed → repaying``. The contract is rendered after that
(:mod:`core.lending.contracts`); a failure there is retried by the daily job.

Calling :func:`disburse` again at any point finishes what is left and
changes nothing once done.
"""
from __future__ import annotations

import logging
from collections import OrderedDict

from sqlalchemy import select

from core.extensions import db
from core.ledger.errors import LedgerError
from core.ledger.journal import writing
from core.lending.lifecycle import get_loan, lock_loan, move, tenant_today
from core.lending.models import Bid, Claim, Installment, Loan
from core.lending.notices import notify
from core.lending.schedule import build_schedule
from core.money import apply_rate

log = logging.getLogger("lendkit.lending")

__all__ = ["disburse", "disbursement_legs", "fees_at_disbursement"]


def fees_at_disbursement(loan: Loan) -> tuple[int, int]:
    """(service fee, risk-reserve contribution) of ``loan``, minor units."""
    terms = loan.terms
    return apply_rate(loan.amount, terms.get("service_fee_rate", "0")), apply_rate(loan.amount, terms.get("reserve_rate", "0"))


def disbursement_legs(loan: Loan, bids) -> list:
    from core.custody.service import Leg

    legs = [Leg(bid.investor_id, loan.borrower_id, bid.amount, True) for bid in bids]
    service_fee, reserve = fees_at_disbursement(loan)
    if service_fee:
        legs.append(Leg(loan.borrower_id, "fee_income", service_fee))
    if reserve:
        legs.append(Leg(loan.borrower_id, "risk_reserve", reserve))
    return legs


def disburse(loan_id: int, *, day=None) -> Loan:
    """Disburse a funded loan (idempotent; see the module's docstring). Returns the loan."""
    from core.custody import service as custody

    loan = get_loan(loan_id)
    if loan.status != "funded":
        return loan
    bids = db.session.scalars(
        select(Bid).where(Bid.loan_id == loan.id, Bid.state.in_(("frozen", "settled"))).order_by(Bid.id)
    ).all()
    if sum(b.amount for b in bids) != loan.amount:
        log.error("loan %s is funded but its frozen bids sum to %s, not %s", loan.number,
                  sum(b.amount for b in bids), loan.amount)
        return loan
    try:
        instruction = custody.batch_transfer(disbursement_legs(loan, bids), key=f"disburse:{loan.id}",
                                             memo=f"disbursement of {loan.number}")
    except LedgerError as exc:
        log.error("disbursement of %s refused by the ledger: %s", loan.number, exc)
        return loan
    if instruction.state != "confirmed":
        log.warning("disbursement of %s is %s (%s); the daily job finishes it", loan.number, instruction.state,
                    instruction.reason)
        return loan
    day = day or tenant_today()
    with writing():
        loan = lock_loan(loan_id)
        if loan.status != "funded":
            return loan
        _record(loan, day)
    _after(loan_id)
    return get_loan(loan_id)


def _record(loan: Loan, day) -> None:
    bids = db.session.scalars(select(Bid).where(Bid.loan_id == loan.id, Bid.state == "frozen").order_by(Bid.id)).all()
    per_investor: OrderedDict[int, list] = OrderedDict()
    for bid in bids:
        per_investor.setdefault(bid.investor_id, []).append(bid)
        bid.state = "settled"
    for investor_id, own in per_investor.items():
        share = sum(b.amount for b in own)
        db.session.add(Claim(loan_id=loan.id, holder_id=investor_id, share=share, principal_outstanding=share,
                             status="active", bid_id=own[0].id, price=0))
    service_fee, reserve = fees_at_disbursement(loan)
    loan.service_fee, loan.reserve_contribution = service_fee, reserve
    loan.disbursed_on = day
    loan.principal_outstanding = loan.amount
    schedule = build_schedule(loan.amount, loan.annual_rate, loan.months, loan.method, day)
    management_fee = apply_rate(loan.amount, loan.terms.get("management_fee_rate", "0"))
    db.session.add_all(
        Installment(loan_id=loan.id, number=row.number, due_date=row.due_date, principal=row.principal,
                    interest=row.interest, management_fee=management_fee, status="due", penalty=0, late_fee=0)
        for row in schedule.installments
    )
    move(loan, "disbursed")
    move(loan, "repaying")
    first = schedule.installments[0]
    notify(loan.borrower_id, "disbursed_borrower", f"disbursed:{loan.id}:borrower", loan=loan,
           amount=loan.amount - service_fee - reserve, due=first.payment + management_fee, date=first.due_date)
    for investor_id, own in per_investor.items():
        notify(investor_id, "disbursed_investor", f"disbursed:{loan.id}:{investor_id}", loan=loan,
               amount=sum(b.amount for b in own))
    db.session.flush()


def _after(loan_id: int) -> None:
    """The contract, once the money has moved (a failure is logged; the daily job renders missing ones)."""
    from core.lending.contracts import ensure_contracts

    try:
        ensure_contracts(get_loan(loan_id))
    except Exception:  # noqa: BLE001 - the loan is disbursed either way
        db.session.rollback()
        log.exception("contract of loan %s not rendered; the daily job retries", loan_id)
