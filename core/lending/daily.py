"""The day's work (``lendkit daily --tenant SLUG --date D``), step by step, each idempotent.

Steps, in order (:data:`STEPS`):

``settle``    answers the bank owes (open custody instructions), bids and repayments left pending
``expire``    listings past their deadline by the end of ``D`` fail; frozen bids are unfrozen
``disburse``  funded loans not yet disbursed; disbursed loans whose contract is missing
``overdue``   installments past their grace days become overdue (late fee charged once)
``penalty``   penalty interest for every overdue day up to ``D``
``collect``   installments due by ``D`` are collected from borrowers whose available funds cover them
``reserve``   the risk reserve pays holders of long-overdue installments, where allowed (垫付)
``default``   default and write-off past the product's limits
``notices``   due-in-3-days reminders; each investor's repayments of the day in one text
``credit``    the credit module hears of every borrower who paid or fell late on ``D``
``regrade``   grades older than ``credit.regrade_every_days`` are recomputed, stale bureau reports refreshed

Each step is recorded in :class:`DailyRun` (``running`` → ``done``). A step
already done for ``D`` is skipped, so running the same day twice changes
nothing. Inside a step every item has its own key (the repayment's, the
bid's, ``penalty_through``…), so a run killed halfway and started again
finishes the work without doing any of it twice. Steps are Celery tasks
(:mod:`core.jobs`): in-process by default, on workers when a broker is set —
then ``collect`` is spread over the workers in chunks of loans, one custody batch each.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from core.extensions import db
from core.lending.lifecycle import bound_tenant, tenant_zone
from core.lending.models import DailyRun, Distribution, Installment, Loan, Repayment
from core.tenancy.models import utcnow

log = logging.getLogger("lendkit.lending")

STEPS = ("settle", "expire", "disburse", "overdue", "penalty", "collect", "reserve", "default", "notices", "credit", "regrade")
#: Days before the due date the reminder goes out.
REMIND_DAYS = 3
#: Loans per collect task when running on workers: one custody batch each (see core.lending.collection).
COLLECT_CHUNK = 100

__all__ = ["STEPS", "run_day", "run_step", "collect", "collect_ids"]


def _end_of(day: date) -> datetime:
    zone = tenant_zone(bound_tenant())
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


# --------------------------------------------------------------------- the steps


def step_settle(day: date) -> dict:
    from core.custody.instructions import resolve_unknown
    from core.lending import bidding, repayment

    counts = {"instructions": resolve_unknown().get("checked", 0)}
    counts["bids"] = bidding.settle_pending().get("checked", 0)
    counts["repayments"] = repayment.settle_pending().get("checked", 0)
    return counts


def step_expire(day: date) -> dict:
    from core.lending.bidding import expire_listings

    from core.lending.lifecycle import tenant_today

    # today: what has closed by now; any other day (a catch-up run, a simulation): by the end of that day
    return expire_listings(utcnow() if day == tenant_today() else _end_of(day))


def step_disburse(day: date) -> dict:
    from core.lending.contracts import ensure_contracts
    from core.lending.disbursement import disburse
    from core.lending.lifecycle import get_loan
    from core.lending.models import LoanContract

    counts = {"disbursed": 0, "contracts": 0}
    for loan_id in db.session.scalars(select(Loan.id).where(Loan.status == "funded").order_by(Loan.id)).all():
        counts["disbursed"] += disburse(loan_id, day=day).status != "funded"
    missing = db.session.scalars(
        select(Loan.id).where(Loan.disbursed_on.is_not(None),
                              ~select(LoanContract.id).where(LoanContract.loan_id == Loan.id).exists())
        .order_by(Loan.id)
    ).all()
    for loan_id in missing:
        try:
            counts["contracts"] += len(ensure_contracts(get_loan(loan_id)))
        except Exception:  # noqa: BLE001 - logged; the next run tries again
            db.session.rollback()
            log.exception("contract of loan %s not rendered", loan_id)
    return counts


def step_overdue(day: date) -> dict:
    from core.lending.overdue import mark_overdue

    return mark_overdue(day)


def step_penalty(day: date) -> dict:
    from core.lending.overdue import accrue_penalties

    return accrue_penalties(day)


def collect_ids(day: date) -> list[int]:
    """Loans with an installment due by ``day`` and unpaid, in id order."""
    return list(db.session.scalars(
        select(Installment.loan_id).join(Loan, Loan.id == Installment.loan_id)
        .where(Installment.due_date <= day, Installment.status.in_(("due", "overdue")),
               Loan.status.in_(("repaying", "overdue", "defaulted")))
        .group_by(Installment.loan_id).order_by(Installment.loan_id)
    ).all())


def collect(day: date, loan_ids) -> dict:
    """Collect every installment due by ``day`` on these loans, oldest first, while the borrower's funds cover
    it: in custody batches of many installments (:mod:`core.lending.collection`)."""
    from core.lending.collection import collect_due

    return collect_due(day, loan_ids)


def step_collect(day: date) -> dict:
    return collect(day, collect_ids(day))


def step_reserve(day: date) -> dict:
    from core.lending.overdue import advance_overdue

    return advance_overdue(day)


def step_default(day: date) -> dict:
    from core.lending.overdue import default_and_write_off

    return default_and_write_off(day)


def step_notices(day: date) -> dict:
    from core.lending import notices

    counts = {"reminders": 0, "received": 0}
    soon = day + timedelta(days=REMIND_DAYS)
    rows = db.session.execute(
        select(Installment.id, Installment.number, Installment.due_date, Loan.id, Loan.borrower_id)
        .join(Loan, Loan.id == Installment.loan_id)
        .where(Installment.status == "due", Installment.due_date > day, Installment.due_date <= soon)
        .order_by(Installment.id)
    ).all()
    with notices.many((row[4] for row in rows), (f"due_soon:{row[0]}" for row in rows)):
        for inst_id, number, due_date, loan_id, borrower_id in rows:
            inst = db.session.get(Installment, inst_id)
            loan = db.session.get(Loan, loan_id)
            counts["reminders"] += notices.notify(borrower_id, "due_soon", f"due_soon:{inst_id}", loan=loan,
                                                  installment=number, amount=inst.total_due,
                                                  date=due_date) is not None
    received = db.session.execute(
        select(Distribution.holder_id,
               func.sum(Distribution.principal + Distribution.interest + Distribution.penalty - Distribution.fee))
        .join(Repayment, Repayment.id == Distribution.repayment_id)
        .where(Repayment.state == "done", Repayment.day == day)
        .group_by(Distribution.holder_id).order_by(Distribution.holder_id)
    ).all()
    key = f"received:{day.isoformat()}:{{}}".format
    with notices.many((holder for holder, _ in received), (key(holder) for holder, _ in received)):
        for holder_id, amount in received:
            counts["received"] += notices.notify(holder_id, "received", key(holder_id), amount=int(amount)) is not None
    db.session.commit()
    return counts


def step_credit(day: date) -> dict:
    from core.lending.applications import report_repayment

    paid = select(Loan.borrower_id).join(Repayment, Repayment.loan_id == Loan.id).where(
        Repayment.state == "done", Repayment.day == day, Repayment.payer_id.is_not(None))
    late = select(Loan.borrower_id).join(Installment, Installment.loan_id == Loan.id).where(
        Installment.overdue_since == day)
    borrowers = set(db.session.scalars(paid)) | set(db.session.scalars(late))
    return {"borrowers": report_repayment(borrowers)}


def step_regrade(day: date) -> dict:
    from core.accounts.kyc import subject_of
    from core.credit.grades import regrade_all
    from core.credit.settings import credit_settings

    tenant = bound_tenant()
    now = _end_of(day)
    every = credit_settings(tenant)["regrade_every_days"]
    summary = regrade_all(tenant, resolve_subject=subject_of, now=now, computed_before=now - timedelta(days=every))
    return asdict(summary)


STEP_FUNCTIONS = {name: globals()[f"step_{name}"] for name in STEPS}


# --------------------------------------------------------------------- bookkeeping


def _begin(day: date, step: str) -> DailyRun | None:
    """The step's run record, marked running; None when the step is already done for ``day``."""
    run = db.session.scalars(select(DailyRun).where(DailyRun.day == day, DailyRun.step == step)).first()
    if run is not None and run.state == "done":
        return None
    if run is None:
        run = DailyRun(day=day, step=step, state="running", counts={}, attempts=0)
        db.session.add(run)
    run.state = "running"
    run.attempts += 1
    run.started_at = utcnow()
    db.session.commit()
    return run


def _finish(day: date, step: str, counts: dict) -> None:
    run = db.session.scalars(select(DailyRun).where(DailyRun.day == day, DailyRun.step == step)).one()
    run.state = "done"
    run.counts = counts
    run.finished_at = utcnow()
    db.session.commit()


def run_step(day: date, step: str) -> dict | None:
    """Run one step for ``day`` (None when it was already done). A failure leaves it ``running`` and raises."""
    if _begin(day, step) is None:
        return None
    try:
        counts = STEP_FUNCTIONS[step](day)
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    _finish(day, step, counts)
    return counts


def run_day(day: date, *, steps=STEPS, echo=None) -> dict[str, dict | None]:
    """Every step for ``day``, in order, as Celery tasks (inline when eager). Returns each step's counts."""
    from core.jobs import dispatch, is_eager

    results = {}
    for step in steps:
        if step == "collect" and not is_eager():
            results[step] = _collect_on_workers(day)
        else:
            results[step] = dispatch("lending.daily_step", day.isoformat(), step, wait=True)
        if echo is not None:
            echo(step, results[step])
    return results


def _collect_on_workers(day: date) -> dict | None:
    from celery import group

    from core.jobs import celery
    from core.tenancy.scoping import current_tenant_id

    if _begin(day, "collect") is None:
        return None
    ids = collect_ids(day)
    chunks = [ids[i:i + COLLECT_CHUNK] for i in range(0, len(ids), COLLECT_CHUNK)]
    task = celery.tasks["lending.collect"]
    results = group(task.s(current_tenant_id(), day.isoformat(), chunk) for chunk in chunks).apply_async()
    counts = {"repaid": 0, "short": 0, "failed": 0}
    for part in results.get(propagate=True, disable_sync_subtasks=False):
        for key, value in part.items():
            counts[key] = counts.get(key, 0) + value
    _finish(day, "collect", counts)
    return counts
