"""`lendkit daily`: the same day twice changes nothing; a run killed halfway finishes when started again."""
import pytest
from sqlalchemy import func, select

from core.custody.models import CustodyInstruction
from core.extensions import db
from core.ledger.models import JournalEntry
from core.lending import collection
from core.lending.daily import run_day
from core.lending.lifecycle import get_loan
from core.lending.models import DailyRun, Installment, LoanNotice, Repayment
from lending_support import books_are_clean, reconcile_all_days


def _snapshot():
    return (
        db.session.scalar(select(func.count(JournalEntry.id))),
        db.session.scalar(select(func.count(CustodyInstruction.id))),
        db.session.scalar(select(func.count(Repayment.id))),
        db.session.scalar(select(func.count(LoanNotice.id))),
        tuple(db.session.execute(select(Installment.id, Installment.status, Installment.penalty)
                                 .order_by(Installment.id)).all()),
    )


def _loans(world, count=3):
    reviewer, risk = world.staff("reviewer"), world.staff("risk_officer")
    investors = [world.user("investor", funds=3_000_000) for _ in range(5)]
    loans = []
    for n in range(count):
        borrower = world.user("borrower")
        loan = world.listed_loan(borrower, reviewer, risk, amount=500_000, months=3)
        world.fund(loan, investors)
        world.deposit(borrower, 600_000)
        loans.append(get_loan(loan.id))
    return loans


def test_running_the_same_day_twice_changes_nothing(world):
    loans = _loans(world)
    day = db.session.scalar(select(func.min(Installment.due_date)))
    first = run_day(day)
    assert first["collect"]["repaid"] == 3
    before = _snapshot()
    second = run_day(day)
    assert set(second.values()) == {None}  # every step already done for that day
    db.session.query(DailyRun).delete()  # even with the run records gone, the work is not done twice
    db.session.commit()
    third = run_day(day)
    assert third["collect"] == {"repaid": 0, "short": 0, "failed": 0}
    assert _snapshot() == before
    assert books_are_clean() == [] and reconcile_all_days() == []
    assert loans


def test_a_run_killed_halfway_finishes_when_started_again(world, monkeypatch):
    _loans(world)
    day = db.session.scalar(select(func.min(Installment.due_date)))
    monkeypatch.setattr(collection, "BATCH_SIZE", 2)  # two batches: 2 loans, then 1
    real = collection._settle

    def crash(batch_key, outcome, reason):
        raise RuntimeError("killed")  # the bank has moved the money; our books have not heard yet

    monkeypatch.setattr(collection, "_settle", crash)
    with pytest.raises(RuntimeError, match="killed"):
        run_day(day)
    db.session.rollback()
    assert db.session.scalar(select(DailyRun.state).where(DailyRun.step == "collect")) == "running"
    assert db.session.scalar(select(func.count()).select_from(Repayment).where(Repayment.state == "pending")) == 2
    monkeypatch.setattr(collection, "_settle", real)
    again = run_day(day)
    assert again["settle"] is None  # done before the crash
    assert again["collect"]["repaid"] == 3  # the first batch finished by resuming it, then the third loan
    paid = db.session.scalar(select(func.count()).select_from(Installment).where(Installment.status == "paid"))
    assert paid == 3
    assert db.session.scalar(select(func.count()).select_from(Repayment)) == 3  # nothing moved twice
    assert db.session.scalar(select(func.count()).select_from(CustodyInstruction)
                             .where(CustodyInstruction.idempotency_key.like("collect:%"))) == 2
    assert books_are_clean() == [] and reconcile_all_days() == []


def test_the_cli_runs_a_day_and_says_what_it_did(world, lendkit):
    _loans(world, count=1)
    day = db.session.scalar(select(func.min(Installment.due_date)))
    db.session.commit()
    result = lendkit("daily", "--tenant", "alpha", "--date", day.isoformat())
    assert result.exit_code == 0, result.output
    assert "collect   repaid 1" in result.output and "in-process" in result.output
    again = lendkit("daily", "--tenant", "alpha", "--date", day.isoformat())
    assert "collect   already done" in again.output
    assert lendkit("daily", "--tenant", "nope").exit_code == 1
