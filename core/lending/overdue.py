"""Late installments: overdue marking, penalty interest, the reserve's advance (垫付), default, write-off.

For the day ``D`` (each function is idempotent for its day):

* :func:`mark_overdue` — an unpaid installment whose due date plus the
  product's ``grace_days`` is before ``D`` is ``overdue`` from the day after
  the grace; the product's ``late_fee`` is charged once; the loan goes
  ``repaying → overdue``.
* :func:`accrue_penalties` — penalty interest of ``penalty_daily_rate`` a day
  on the installment's principal and interest, for every overdue day up to
  and including ``D`` (``penalty_through`` remembers the last day counted).
* :func:`advance_overdue` — where the tenant's ``risk.reserve_pays_investors``
  is on *and* its compliance pack allows it (cn-2016 forbids it), an
  installment overdue ``reserve_pays_after_days`` or more is paid to its
  holders by the risk reserve if the reserve can afford it; the borrower then
  owes the reserve (:mod:`core.lending.repayment`).
* :func:`default_and_write_off` — ``default_after_days`` overdue: the loan is
  ``defaulted``; ``write_off_after_days``: ``written_off``, its claims closed.

Collection notes (:func:`add_collection_note`) are staff's record of chasing a loan.
"""
from __future__ import annotations

import logging
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from core.extensions import db
from core.ledger.journal import writing
from core.lending.errors import LendingError, not_now
from core.lending.lifecycle import bound_tenant, get_loan, lock_loan, move
from core.lending.models import Claim, CollectionNote, Installment, Loan
from core.lending.notices import notify
from core.money import apply_rate

log = logging.getLogger("lendkit.lending")

COLLECTION_STATUSES = ("none", "contacted", "promised", "negotiating", "legal")

__all__ = ["mark_overdue", "accrue_penalties", "advance_overdue", "default_and_write_off", "reserve_may_pay",
           "add_collection_note", "COLLECTION_STATUSES", "days_overdue"]


def days_overdue(installment: Installment, day: date) -> int:
    """Days the installment has been overdue on ``day`` (0 when it is not)."""
    if installment.overdue_since is None:
        return 0
    return max((day - installment.overdue_since).days + 1, 0)


def mark_overdue(day: date) -> dict:
    counts = {"installments": 0, "loans": 0}
    candidates = db.session.execute(
        select(Installment.id, Installment.loan_id, Installment.due_date)
        .where(Installment.status == "due", Installment.due_date < day).order_by(Installment.loan_id, Installment.number)
    ).all()
    by_loan: dict[int, list] = {}
    for inst_id, loan_id, due_date in candidates:
        by_loan.setdefault(loan_id, []).append((inst_id, due_date))
    for loan_id, rows in by_loan.items():
        with writing():
            loan = lock_loan(loan_id)
            grace = int(loan.terms.get("grace_days", 0))
            late = [inst_id for inst_id, due_date in rows if due_date + timedelta(days=grace) < day]
            if not late:
                continue
            for inst in db.session.scalars(select(Installment).where(Installment.id.in_(late))
                                           .execution_options(populate_existing=True)):
                if inst.status != "due":
                    continue
                inst.status = "overdue"
                inst.overdue_since = inst.due_date + timedelta(days=grace + 1)
                inst.late_fee = int(loan.terms.get("late_fee", 0))
                counts["installments"] += 1
                notify(loan.borrower_id, "overdue", f"overdue:{inst.id}", loan=loan, installment=inst.number,
                       amount=inst.total_due)
            if loan.status == "repaying":
                move(loan, "overdue", actor="daily")
                counts["loans"] += 1
    return counts


def accrue_penalties(day: date) -> dict:
    """Penalty interest for every overdue day up to ``day``; a second run for the same day adds nothing."""
    counts = {"installments": 0, "days": 0}
    rows = db.session.execute(
        select(Installment.id, Installment.loan_id).where(Installment.status == "overdue").order_by(Installment.id)
    ).all()
    rates: dict[int, str] = {}
    with writing():
        for inst_id, loan_id in rows:
            if loan_id not in rates:
                rates[loan_id] = db.session.get(Loan, loan_id).terms.get("penalty_daily_rate", "0")
            inst = db.session.get(Installment, inst_id)
            start = (inst.penalty_through + timedelta(days=1)) if inst.penalty_through else inst.overdue_since
            days = (day - start).days + 1
            if days <= 0:
                continue
            daily = apply_rate(inst.principal + inst.interest, rates[loan_id])
            inst.penalty += daily * days
            inst.penalty_through = day
            counts["installments"] += 1
            counts["days"] += days
    return counts


def reserve_may_pay(tenant) -> bool:
    """True when the tenant switched the reserve's advances on and its compliance pack allows them."""
    from core.credit.compliance import tenant_pack

    if not ((tenant.config or {}).get("risk") or {}).get("reserve_pays_investors"):
        return False
    return "risk.reserve_pays_investors" not in tenant_pack(tenant).check_config(tenant.config)


def advance_overdue(day: date) -> dict:
    """The risk reserve pays holders of installments overdue long enough, while it can (see the module)."""
    from core.ledger.chart import account
    from core.ledger.models import platform_account_code
    from core.lending.repayment import active_claims, advance_from_reserve, split

    counts = {"advanced": 0, "short": 0, "forbidden": 0}
    tenant = bound_tenant()
    rows = db.session.execute(
        select(Installment.id, Installment.loan_id).where(Installment.status == "overdue",
                                                          Installment.advanced_on.is_(None)).order_by(Installment.id)
    ).all()
    if not rows:
        return counts
    if not reserve_may_pay(tenant):
        counts["forbidden"] = len(rows)
        return counts
    for inst_id, loan_id in rows:
        loan = db.session.get(Loan, loan_id)
        inst = db.session.get(Installment, inst_id)
        if loan.status not in ("overdue", "repaying") or days_overdue(inst, day) < int(loan.terms.get("reserve_pays_after_days", 30)):
            continue
        parts = split(inst.principal, inst.interest, 0, loan.terms.get("investor_fee_rate", "0"), active_claims(loan_id))
        needed = sum(p.net for p in parts)
        reserve = account(platform_account_code("risk_reserve"))
        if reserve is None or reserve.spendable < needed:
            counts["short"] += 1
            continue
        rep = advance_from_reserve(loan_id, inst_id, day)
        if rep is not None and rep.state == "done":
            counts["advanced"] += 1
    return counts


def default_and_write_off(day: date) -> dict:
    counts = {"defaulted": 0, "written_off": 0}
    loans = db.session.scalars(select(Loan.id).where(Loan.status.in_(("overdue", "defaulted"))).order_by(Loan.id)).all()
    for loan_id in loans:
        with writing():
            loan = lock_loan(loan_id)
            oldest = db.session.scalars(
                select(Installment).where(Installment.loan_id == loan.id, Installment.status == "overdue")
                .order_by(Installment.number)
            ).first()
            if oldest is None:
                continue
            late = days_overdue(oldest, day)
            terms = loan.terms
            if loan.status == "overdue" and late >= int(terms.get("default_after_days", 90)):
                move(loan, "defaulted", actor="daily", reason=f"{late} days overdue")
                counts["defaulted"] += 1
                notify(loan.borrower_id, "defaulted", f"defaulted:{loan.id}", loan=loan)
            if loan.status == "defaulted" and late >= int(terms.get("write_off_after_days", 180)):
                move(loan, "written_off", actor="daily", reason=f"{late} days overdue")
                db.session.execute(update(Installment).where(Installment.loan_id == loan.id,
                                                             Installment.status.in_(("due", "overdue")))
                                   .values(status="written_off").execution_options(synchronize_session=False))
                db.session.execute(update(Claim).where(Claim.loan_id == loan.id, Claim.status == "active")
                                   .values(status="closed").execution_options(synchronize_session=False))
                counts["written_off"] += 1
    return counts


def add_collection_note(loan_id: int, author, *, status: str, note: str) -> CollectionNote:
    """Staff record a collection step on an overdue or defaulted loan; audited. Commits."""
    from core.audit import audit

    loan = get_loan(loan_id)
    if loan.status not in ("overdue", "defaulted"):
        raise not_now(loan, _l("collection"))
    if status not in COLLECTION_STATUSES:
        raise LendingError(_l("Choose a collection status."), code="status", field="status")
    note = (note or "").strip()
    if not 2 <= len(note) <= 2000:
        raise LendingError(_l("Write a note of up to 2000 characters."), code="note", field="note")
    record = CollectionNote(loan_id=loan.id, author_id=author.id, status=status, note=note)
    loan.collection_status = status
    db.session.add(record)
    audit("loan.collection_note", actor=author, target=loan, details={"status": status})
    db.session.commit()
    return record
