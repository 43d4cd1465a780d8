"""Loans live their whole lives under each repayment method with many investors, and the books hold:
every entry balanced, cached balances equal to the lines, the ledger reconciled with the bank every day."""
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.lending.daily import run_day
from core.lending.lifecycle import get_loan
from core.lending.models import Claim, Distribution, Installment, LoanContract, Repayment
from core.lending.schedule import METHODS
from lending_support import books_are_clean, reconcile_all_days


def _investor_amounts(rng, amount, count, step, minimum=10_000):
    """``count`` random bids summing to ``amount``, each at least ``minimum`` and a multiple of ``step``."""
    spare = (amount - count * minimum) // step
    cuts = sorted(rng.randrange(0, spare + 1) for _ in range(count - 1))
    parts = [minimum + (b - a) * step for a, b in zip([0] + cuts, cuts + [spare])]
    parts[-1] += amount - sum(parts)
    return parts


@pytest.mark.parametrize("method", METHODS)
def test_a_loan_lives_from_application_to_paid_off(world, method):
    rng = random.Random(METHODS.index(method))
    borrower = world.user("borrower")
    reviewer, risk = world.staff("reviewer"), world.staff("risk_officer")
    investors = [world.user("investor", funds=2_000_000) for _ in range(12)]
    amount = 1_234_500
    loan = world.listed_loan(borrower, reviewer, risk, amount=amount, months=6, method=method)
    assert loan.status == "listed" and loan.disclosure["grade"] == "AAA"
    amounts = _investor_amounts(rng, amount, len(investors), loan.terms["bid_step"])
    world.fund(loan, investors, amounts)
    loan = get_loan(loan.id)
    assert loan.status == "repaying"
    assert loan.service_fee == 24_690 and loan.reserve_contribution == 12_345
    assert db.session.scalar(select(func.count(LoanContract.id)).where(LoanContract.loan_id == loan.id)) == 2
    claims = {c.holder_id: c.share for c in db.session.scalars(select(Claim).where(Claim.loan_id == loan.id))}
    assert claims == {inv.id: a for inv, a in zip(investors, amounts)}
    installments = db.session.scalars(select(Installment).where(Installment.loan_id == loan.id)
                                      .order_by(Installment.number)).all()
    assert sum(i.principal for i in installments) == amount
    world.deposit(borrower, sum(i.total_due for i in installments))
    day = loan.disbursed_on
    for inst in installments:
        run_day(inst.due_date)
    loan = get_loan(loan.id)
    assert loan.status == "paid_off" and loan.principal_outstanding == 0
    done = db.session.scalars(select(Repayment).where(Repayment.loan_id == loan.id, Repayment.state == "done")).all()
    assert len(done) == len(installments)
    received = dict(db.session.execute(
        select(Distribution.holder_id, func.sum(Distribution.principal))
        .join(Repayment, Repayment.id == Distribution.repayment_id).where(Repayment.state == "done")
        .group_by(Distribution.holder_id)).all())
    assert received == claims  # every investor got exactly their principal back
    assert books_are_clean() == []
    assert reconcile_all_days() == []
    assert day <= installments[-1].due_date


def test_several_loans_of_different_methods_run_side_by_side(world):
    rng = random.Random(7)
    reviewer, risk = world.staff("reviewer"), world.staff("risk_officer")
    investors = [world.user("investor", funds=10_000_000) for _ in range(20)]
    loans = []
    for n, method in enumerate(METHODS * 2):
        borrower = world.user("borrower", profile=rng.choice(["901", "902", "903"]))
        amount = rng.randrange(1_200, 30_000) * 100
        loan = world.listed_loan(borrower, reviewer, risk, amount=amount, months=rng.choice([1, 3, 6]), method=method)
        chosen = rng.sample(investors, rng.randrange(3, 12))
        world.fund(loan, chosen, _investor_amounts(rng, amount, len(chosen), 100))
        world.deposit(borrower, amount * 2)
        loans.append(loan.id)
    start = get_loan(loans[0]).disbursed_on
    for offset in range(0, 200, 10):
        run_day(start + timedelta(days=offset))
    assert {get_loan(i).status for i in loans} == {"paid_off"}
    assert books_are_clean() == []
    assert reconcile_all_days() == []
