"""The daily run's collection: installments due by a day, collected in batches.

A borrower who pays on the site (:func:`core.lending.repayment.repay_installment`)
moves one installment's money in its own custody instruction. The daily run
collects thousands at once, so it groups them: up to :data:`BATCH_SIZE`
installments, at most one per loan, share ONE custody batch instruction and ONE
ledger entry, netted per pair of sub-accounts at the bank (each borrower → each
holder) and per account in the books. Everything else stays per installment:
each has its own :class:`~core.lending.models.Repayment` (its own key, parts,
distributions and notices), split exactly as a single payment would be.

A batch goes through the same three steps as a single repayment:

1. **Prepare** (one transaction, the batch's loans locked in id order): each
   installment's repayment is stored ``pending`` with its distributions and the
   batch's key in ``batch_key``.
2. **Move**: the batch's legs are computed from what was stored, in a fixed
   order, and sent as one ``batch_transfer`` under ``batch_key``. Computed again
   after a crash they are the same, so the instruction is found again, never
   made twice (:func:`resume_batch`; :func:`core.lending.repayment.resume` of
   any repayment of the batch does the same).
3. **Settle** (one transaction): confirmed → every repayment ``done``, the
   claims lowered in one statement, the installments paid, the loans moved on,
   the borrowers texted; refused (by the bank, or by the books before it was
   sent) → every repayment ``failed``, and the daily run then collects those
   installments one by one, so one borrower's shortfall holds up nobody else.

A loan with several installments due is collected oldest first, one per round.
"""
from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import func, select, update

from core.extensions import db
from core.ledger.errors import InsufficientFunds, LedgerError
from core.ledger.journal import writing
from core.lending.models import Claim, Distribution, Installment, Loan, Repayment

log = logging.getLogger("lendkit.lending")

#: Installments per custody batch (and per ledger entry) in the daily run.
BATCH_SIZE = 100
#: How a collection batch's custody key (``collect:<day>:<first repayment's key>``) begins.
KEY_PREFIX = "collect:"

__all__ = ["BATCH_SIZE", "KEY_PREFIX", "collect_due", "resume_batch", "instruction_key"]

_OPEN = ("due", "overdue")


def collect_due(day: date, loan_ids, *, batch_size: int | None = None) -> dict:
    """Collect every installment due by ``day`` on these loans while each borrower's funds cover it.

    Returns counts: ``repaid`` installments, ``short`` loans whose borrower
    could not cover the next one, ``failed`` installments whose money did not
    move (refused, or the bank has not answered yet).
    """
    size = batch_size or BATCH_SIZE
    counts = {"repaid": 0, "short": 0, "failed": 0}
    todo = _resume_open(sorted({int(i) for i in loan_ids}), counts)
    singly: list[int] = []
    while todo:
        again = []
        for start in range(0, len(todo), size):
            chunk = todo[start:start + size]
            batch_key, planned = _prepare(day, chunk, counts)
            if batch_key is None:
                continue
            state = resume_batch(batch_key)
            if state == "done":
                counts["repaid"] += len(planned)
                again += _with_more_due(day, planned)
            elif state == "failed":
                singly += planned
            else:  # the bank has not answered: settled by a later run's `settle` step
                counts["failed"] += len(planned)
        todo = again
    if singly:
        _collect_singly(day, sorted(singly), counts)
    return counts


def _resume_open(loan_ids: list[int], counts: dict) -> list[int]:
    """Resume the loans' pending installment repayments (a crash, a bank that had not answered);
    returns the loans left to collect (those still waiting for the bank are not)."""
    from core.lending.repayment import resume

    if not loan_ids:
        return []
    pending = db.session.execute(
        select(Repayment.id, Repayment.loan_id, Repayment.batch_key)
        .where(Repayment.loan_id.in_(loan_ids), Repayment.state == "pending", Repayment.kind == "installment")
        .order_by(Repayment.id)
    ).all()
    waiting = set()
    seen_batches = set()
    for rep_id, loan_id, batch_key in pending:
        if batch_key is not None:
            if batch_key not in seen_batches:
                seen_batches.add(batch_key)
                resume_batch(batch_key)
            state = db.session.scalar(select(Repayment.state).where(Repayment.id == rep_id))
        else:
            state = resume(rep_id).state
        if state == "done":
            counts["repaid"] += 1
        elif state == "pending":
            counts["failed"] += 1
            waiting.add(loan_id)
    return [i for i in loan_ids if i not in waiting]


def _first_due(day: date, loan_ids) -> dict[int, Installment]:
    """Each loan's oldest installment due by ``day`` and unpaid, read afresh."""
    rows = db.session.scalars(
        select(Installment).where(Installment.loan_id.in_(list(loan_ids)), Installment.due_date <= day,
                                  Installment.status.in_(_OPEN))
        .order_by(Installment.loan_id, Installment.number).execution_options(populate_existing=True)
    ).all()
    first: dict[int, Installment] = {}
    for inst in rows:
        first.setdefault(inst.loan_id, inst)
    return first


def _with_more_due(day: date, loan_ids) -> list[int]:
    return sorted(_first_due(day, loan_ids))


def _prepare(day: date, loan_ids: list[int], counts: dict) -> tuple[str | None, list[int]]:
    """Step 1 for a chunk of loans: store each collectable installment's pending repayment under one new
    batch key. Returns ``(batch key, the loans in it)``; ``(None, [])`` when none is collectable."""
    from core.lending.bidding import spendable
    from core.lending.repayment import _insert_distributions, _new_repayment, active_claims_of, installment_payment

    with writing():
        loans = db.session.scalars(
            select(Loan).where(Loan.id.in_(loan_ids), Loan.status.in_(("repaying", "overdue", "defaulted")))
            .order_by(Loan.id).with_for_update().execution_options(populate_existing=True)
        ).all()
        busy = set(db.session.scalars(select(Repayment.loan_id).where(
            Repayment.loan_id.in_([loan.id for loan in loans]), Repayment.state == "pending")))
        loans = [loan for loan in loans if loan.id not in busy]  # a prepayment or an advance under way
        first = _first_due(day, [loan.id for loan in loans])
        funds: dict[int, int] = {}
        chosen = []
        for loan in loans:
            inst = first.get(loan.id)
            if inst is None:
                continue
            if loan.borrower_id not in funds:
                funds[loan.borrower_id] = spendable(loan.borrower_id) or 0
            if funds[loan.borrower_id] < inst.total_due:
                counts["short"] += 1
                continue
            funds[loan.borrower_id] -= inst.total_due
            chosen.append((loan, inst))
        if not chosen:
            return None, []
        ids = [loan.id for loan, _ in chosen]
        claims = active_claims_of(ids)
        tried = dict(db.session.execute(
            select(Repayment.installment_id, func.count(Repayment.id))
            .where(Repayment.loan_id.in_(ids), Repayment.kind == "installment")
            .group_by(Repayment.installment_id)
        ).all())
        reps, parts_of = [], []
        batch_key = None
        for loan, inst in chosen:
            key = f"repay:{inst.id}:{tried.get(inst.id, 0) + 1}"
            batch_key = batch_key or f"{KEY_PREFIX}{day.isoformat()}:{key}"
            payment = installment_payment(loan, inst, claims.get(loan.id, []))
            reps.append(_new_repayment(loan.id, inst.id, kind="installment", key=key, day=day, batch_key=batch_key,
                                       **payment))
            parts_of.append(payment["parts"])
        db.session.add_all(reps)
        db.session.flush()
        _insert_distributions([(rep.id, parts) for rep, parts in zip(reps, parts_of)])
    return batch_key, ids


# --------------------------------------------------------------------- move and settle


def instruction_key(entry) -> str | None:
    """The idempotency key of the custody instruction a ledger entry mirrors (found by its request
    number), or None for an entry without one."""
    from core.custody.models import CustodyInstruction

    request_no = getattr(entry, "request_no", None)
    if not request_no:
        return None
    return db.session.scalar(select(CustodyInstruction.idempotency_key)
                             .where(CustodyInstruction.request_no == request_no))


def batch_legs(batch_key: str) -> list:
    """The batch's custody legs from what was stored, in a fixed order: each payer → each holder (their net
    parts summed), then each payer → fee income and → the risk reserve."""
    from core.custody.service import Leg

    net = Distribution.principal + Distribution.interest + Distribution.penalty - Distribution.fee
    to_holders = db.session.execute(
        select(Repayment.payer_id, Distribution.holder_id, func.sum(net))
        .join(Repayment, Repayment.id == Distribution.repayment_id)
        .where(Repayment.batch_key == batch_key)
        .group_by(Repayment.payer_id, Distribution.holder_id).order_by(Repayment.payer_id, Distribution.holder_id)
    ).all()
    to_platform = db.session.execute(
        select(Repayment.payer_id, func.sum(Repayment.platform_fee), func.sum(Repayment.to_reserve))
        .where(Repayment.batch_key == batch_key).group_by(Repayment.payer_id).order_by(Repayment.payer_id)
    ).all()
    legs = [Leg(payer, holder, int(amount)) for payer, holder, amount in to_holders if amount > 0]
    for payer, fee, reserve in to_platform:
        if fee:
            legs.append(Leg(payer, "fee_income", int(fee)))
        if reserve:
            legs.append(Leg(payer, "risk_reserve", int(reserve)))
    return legs


def resume_batch(batch_key: str) -> str:
    """Steps 2 and 3 for a batch: move its money under its key (again: the same instruction), then settle.

    Returns the batch's state: ``done``, ``failed`` or ``pending`` (the bank has not answered yet).
    """
    from core.custody import service as custody

    states = db.session.scalars(select(Repayment.state).where(Repayment.batch_key == batch_key)).all()
    if "pending" not in states:
        return "done" if "done" in states else "failed"
    try:
        instruction = custody.batch_transfer(batch_legs(batch_key), key=batch_key,
                                             memo=f"collection of {len(states)} installments")
    except InsufficientFunds:
        return _settle(batch_key, "refused", "insufficient_funds")
    except LedgerError as exc:
        return _settle(batch_key, "refused", exc.reason)
    if instruction.state not in ("confirmed", "refused"):
        return "pending"
    return _settle(batch_key, instruction.state, instruction.reason)


def _settle(batch_key: str, outcome: str, reason: str | None) -> str:
    from core.lending import notices
    from core.lending.repayment import _installment_paid

    with writing():
        loan_ids = sorted(set(db.session.scalars(
            select(Repayment.loan_id).where(Repayment.batch_key == batch_key))))
        loans = {loan.id: loan for loan in db.session.scalars(
            select(Loan).where(Loan.id.in_(loan_ids)).order_by(Loan.id).with_for_update()
            .execution_options(populate_existing=True))}
        reps = db.session.scalars(
            select(Repayment).where(Repayment.batch_key == batch_key, Repayment.state == "pending")
            .order_by(Repayment.id).execution_options(populate_existing=True)
        ).all()
        if not reps:  # settled meanwhile by another worker
            done = db.session.scalar(select(func.count(Repayment.id)).where(
                Repayment.batch_key == batch_key, Repayment.state == "done"))
            return "done" if done else "failed"
        if outcome == "refused":
            for rep in reps:
                rep.state = "failed"
                rep.reason = (reason or "refused")[:200]
            return "failed"
        _repay_claims([rep.id for rep in reps])
        # read up front, then written in one flush at the end (no query in the loop flushes row by row);
        # the objects are held while settling (the session keeps them only weakly)
        paying = {rep.installment_id for rep in reps}
        unpaid = db.session.scalars(
            select(Installment).where(Installment.loan_id.in_(loan_ids), Installment.status.in_(_OPEN))
            .execution_options(populate_existing=True)
        ).all()
        still_open: dict[int, list[str]] = {loan_id: [] for loan_id in loan_ids}
        for inst in unpaid:
            if inst.id not in paying:
                still_open[inst.loan_id].append(inst.status)
        texts = [f"repaid:{rep.key}" for rep in reps] + [f"paid_off:{loan_id}" for loan_id in loan_ids]
        with db.session.no_autoflush, notices.many((loan.borrower_id for loan in loans.values()), texts):
            for rep in reps:
                rep.state = "done"
                _installment_paid(loans[rep.loan_id], rep, still_open=still_open[rep.loan_id])
        db.session.flush()
    return "done"


def _repay_claims(repayment_ids: list[int]) -> None:
    """Lower every claim's outstanding principal by its parts of these repayments: ONE statement."""
    parts = (
        select(Distribution.claim_id.label("claim_id"), func.sum(Distribution.principal).label("principal"))
        .where(Distribution.repayment_id.in_(repayment_ids), Distribution.principal != 0)
        .group_by(Distribution.claim_id).subquery("parts")
    )
    db.session.execute(
        update(Claim).where(Claim.id == parts.c.claim_id)
        .values(principal_outstanding=Claim.principal_outstanding - parts.c.principal)
        .execution_options(synchronize_session=False)
    )


# --------------------------------------------------------------------- one by one


def _collect_singly(day: date, loan_ids: list[int], counts: dict) -> None:
    """Each installment in its own custody instruction (the loans of a refused batch)."""
    from core.lending.bidding import spendable
    from core.lending.repayment import _pending_for, _prepare_installment, resume

    for loan_id in loan_ids:
        rows = db.session.execute(
            select(Installment.id).where(Installment.loan_id == loan_id, Installment.due_date <= day,
                                         Installment.status.in_(_OPEN)).order_by(Installment.number)
        ).scalars().all()
        borrower_id = db.session.scalar(select(Loan.borrower_id).where(Loan.id == loan_id))
        for inst_id in rows:
            inst = db.session.get(Installment, inst_id)
            if _pending_for(inst_id, loan_id, "installment") is None and (spendable(borrower_id) or 0) < inst.total_due:
                counts["short"] += 1
                break
            rep_id = _prepare_installment(loan_id, inst_id, day, by_reserve=False)
            if rep_id is None:
                continue
            state = resume(rep_id).state
            if state == "done":
                counts["repaid"] += 1
            else:
                counts["failed"] += 1
                break
