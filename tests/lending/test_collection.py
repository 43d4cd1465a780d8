"""The daily run collects installments in custody batches: one instruction and one entry per batch, the same
money per person as one by one, nothing moved twice, and a refused batch never holds up the others."""
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from core.custody import instructions
from core.custody.models import CustodyInstruction
from core.custody.provider import BankResult
from core.extensions import db
from core.ledger.models import JournalEntry, JournalLine
from core.lending import collection, repayment
from core.lending.daily import collect, collect_ids, run_step
from core.lending.lifecycle import get_loan
from core.lending.models import Claim, Distribution, Installment, Repayment
from lending_support import books_are_clean, reconcile_all_days, texts_sent


def _loans(world, count=3, *, investors=None, borrower=None, funds=600_000, months=3):
    reviewer, risk = world.staff("reviewer"), world.staff("risk_officer")
    investors = investors or [world.user("investor", funds=3_000_000) for _ in range(5)]
    loans = []
    for _ in range(count):
        who = borrower or world.user("borrower")
        loan = world.listed_loan(who, reviewer, risk, amount=500_000, months=months)
        world.fund(loan, investors)
        if funds:
            world.deposit(who, funds)
        loans.append(get_loan(loan.id))
    return loans, investors


def _first_due():
    return db.session.scalar(select(func.min(Installment.due_date)))


def _batches():
    return db.session.scalars(select(CustodyInstruction).where(CustodyInstruction.idempotency_key.like("collect:%"))
                              .order_by(CustodyInstruction.id)).all()


def test_installments_share_one_instruction_and_one_entry_per_batch(world, monkeypatch):
    monkeypatch.setattr(collection, "BATCH_SIZE", 2)
    loans, investors = _loans(world)
    day = _first_due()
    counts = collect(day, collect_ids(day))
    assert counts == {"repaid": 3, "short": 0, "failed": 0}
    batches = _batches()
    assert [b.state for b in batches] == ["confirmed", "confirmed"]
    reps = db.session.scalars(select(Repayment).order_by(Repayment.id)).all()
    assert [r.batch_key for r in reps] == [batches[0].idempotency_key] * 2 + [batches[1].idempotency_key]
    assert all(r.state == "done" for r in reps)
    # one entry per batch, one line per account: 2 borrowers + 5 investors + fee income
    lines = db.session.scalar(select(func.count(JournalLine.id)).where(JournalLine.entry_id == batches[0].entry_id))
    assert lines <= 2 + len(investors) + 1
    entry = db.session.get(JournalEntry, batches[0].entry_id)
    assert entry.state == "posted"
    # every investor's line is exactly what their distributions of that batch add up to
    for investor in investors:
        expected = db.session.scalar(
            select(func.sum(Distribution.principal + Distribution.interest + Distribution.penalty - Distribution.fee))
            .join(Repayment, Repayment.id == Distribution.repayment_id)
            .where(Repayment.batch_key == batches[0].idempotency_key, Distribution.holder_id == investor.id))
        credited = -db.session.scalar(
            select(JournalLine.amount).join(JournalLine.account)
            .where(JournalLine.entry_id == entry.id, JournalLine.account.has(code=f"user:{investor.id}:available")))
        assert credited == expected
    # the claims went down by exactly the principal repaid
    for loan in loans:
        inst = db.session.scalars(select(Installment).where(Installment.loan_id == loan.id, Installment.number == 1)).one()
        assert inst.status == "paid"
        outstanding = db.session.scalar(select(func.sum(Claim.principal_outstanding)).where(Claim.loan_id == loan.id))
        assert outstanding == loan.amount - inst.principal
    assert books_are_clean() == [] and reconcile_all_days() == []


def test_batches_move_the_same_money_as_paying_one_by_one(world, monkeypatch):
    loans, investors = _loans(world, count=2)
    day = _first_due()
    # loan 1 paid on its own, loan 2 collected in a batch: each investor's parts are computed the same way
    single = repayment.repay_installment(loans[0].id, day=day)
    assert single.batch_key is None and single.state == "done"
    counts = collect(day, collect_ids(day))
    assert counts["repaid"] == 1
    batched = db.session.scalars(select(Repayment).where(Repayment.loan_id == loans[1].id)).one()
    parts = lambda rep: [(p, i, pen, fee) for _c, _h, p, i, pen, fee in repayment._parts_for(rep)]  # noqa: E731
    assert parts(batched) == parts(single)
    assert (batched.amount, batched.platform_fee) == (single.amount, single.platform_fee)
    assert books_are_clean() == [] and reconcile_all_days() == []


def test_a_borrower_whose_funds_cover_one_installment_pays_one(world):
    borrower = world.user("borrower")
    loans, _ = _loans(world, count=2, borrower=borrower, funds=0)
    day = _first_due()
    due = db.session.scalar(select(Installment).where(Installment.loan_id == loans[0].id, Installment.number == 1))
    from core.custody import service
    from core.lending.bidding import spendable

    # the borrower spent the loans: what is left covers one installment
    assert service.withdraw(borrower.id, spendable(borrower.id) - due.total_due - 100, key="spent").state == "confirmed"
    counts = collect(day, collect_ids(day))
    assert counts == {"repaid": 1, "short": 1, "failed": 0}
    assert books_are_clean() == [] and reconcile_all_days() == []


def test_several_installments_due_on_one_loan_are_collected_oldest_first(world):
    loans, _ = _loans(world, count=1, funds=1_000_000)
    second = db.session.scalars(select(Installment.due_date).where(Installment.loan_id == loans[0].id,
                                                                   Installment.number == 2)).one()
    counts = collect(second, collect_ids(second))
    assert counts == {"repaid": 2, "short": 0, "failed": 0}
    reps = db.session.scalars(select(Repayment).order_by(Repayment.id)).all()
    numbers = [db.session.get(Installment, r.installment_id).number for r in reps]
    assert numbers == [1, 2] and len({r.batch_key for r in reps}) == 2
    outstanding = db.session.scalar(select(func.sum(Claim.principal_outstanding)).where(Claim.loan_id == loans[0].id))
    paid = db.session.scalar(select(func.sum(Installment.principal)).where(Installment.loan_id == loans[0].id,
                                                                            Installment.status == "paid"))
    assert outstanding == loans[0].amount - paid
    assert books_are_clean() == [] and reconcile_all_days() == []


class _Bank:
    """The tenant's sandbox bank, answering batch collections its own way."""

    def __init__(self, real, answer, times):
        self.real, self.answer, self.times = real, answer, times

    def __getattr__(self, name):
        return getattr(self.real, name)

    def submit(self, instruction):
        if instruction.kind == "batch_transfer" and self.answer is not None and self.times:
            self.times -= 1
            if self.answer == ("pending",):  # accepted: the bank applies it and answers later (a callback, a query)
                self.real.submit(instruction)
            return BankResult(instruction.request_no, *self.answer)
        return self.real.submit(instruction)


def _bank(monkeypatch, answer, times=1):
    """Make the tenant's bank, for this app, a :class:`_Bank`: it replaces the real one in the app's cache of
    providers, so every caller gets it however it imported ``provider_for`` (patching that function instead
    once left a module that first imported it during such a test holding the fake for the rest of the run)."""
    real = instructions.provider_for(instructions.current_tenant())
    bank = _Bank(real, answer, times)
    cache = current_app.extensions["lendkit_custody_providers"]
    monkeypatch.setitem(cache, next(key for key, provider in cache.items() if provider is real), bank)
    return bank


def test_a_refused_batch_is_collected_one_by_one(world, monkeypatch):
    loans, _ = _loans(world)
    day = _first_due()
    _bank(monkeypatch, ("refused", None, "account_frozen"))  # the batch only; the single ones go through
    counts = collect(day, collect_ids(day))
    assert counts == {"repaid": 3, "short": 0, "failed": 0}
    failed = db.session.scalars(select(Repayment).where(Repayment.state == "failed")).all()
    assert len(failed) == 3 and {r.reason for r in failed} == {"account_frozen"}
    done = db.session.scalars(select(Repayment).where(Repayment.state == "done")).all()
    assert len(done) == 3 and all(r.batch_key is None and r.key.endswith(":2") for r in done)
    assert [b.state for b in _batches()] == ["refused"]
    assert books_are_clean() == [] and reconcile_all_days() == []


def test_a_payment_after_a_refused_batch_gets_a_key_of_its_own_when_another_attempt_had_another_key(
        world, monkeypatch):
    """The batch and the one-by-one payment count earlier attempts alike (repayments of the kind, of the
    installment), so a failed attempt keyed otherwise (an imported one) cannot make them pick the same key."""
    loans, _ = _loans(world, count=1)
    day = _first_due()
    inst = db.session.scalars(select(Installment).where(Installment.loan_id == loans[0].id,
                                                        Installment.due_date == day)).one()
    db.session.add(Repayment(loan_id=loans[0].id, installment_id=inst.id, kind="installment",
                             key=f"import:{inst.id}", state="failed", reason="imported",
                             payer_id=loans[0].borrower_id, amount=1, principal=1, interest=0, penalty=0,
                             platform_fee=0, to_reserve=0, day=day))
    db.session.commit()
    _bank(monkeypatch, ("refused", None, "account_frozen"))  # the batch only; the single one goes through
    assert collect(day, collect_ids(day)) == {"repaid": 1, "short": 0, "failed": 0}
    keys = dict(db.session.execute(select(Repayment.key, Repayment.state)
                                   .where(Repayment.installment_id == inst.id)).all())
    assert keys == {f"import:{inst.id}": "failed", f"repay:{inst.id}:2": "failed", f"repay:{inst.id}:3": "done"}
    assert books_are_clean() == [] and reconcile_all_days() == []


def test_a_batch_the_bank_answers_later_is_settled_by_the_next_run(world, monkeypatch):
    loans, _ = _loans(world)
    day = _first_due()
    bank = _bank(monkeypatch, ("pending",), times=99)
    counts = collect(day, collect_ids(day))
    assert counts == {"repaid": 0, "short": 0, "failed": 3}
    assert db.session.scalar(select(func.count(Repayment.id)).where(Repayment.state == "pending")) == 3
    # nothing else is collected for those loans while the bank has not answered
    assert collect(day, collect_ids(day)) == {"repaid": 0, "short": 0, "failed": 3}
    assert db.session.scalar(select(func.count(Repayment.id))) == 3
    bank.answer = None  # the callback was lost: the next run's settle step asks the bank
    settled = run_step(day + timedelta(days=1), "settle")
    assert settled["repayments"] == 3
    assert db.session.scalar(select(func.count(Repayment.id)).where(Repayment.state == "done")) == 3
    assert [b.state for b in _batches()] == ["confirmed"]
    assert all(db.session.get(Installment, r.installment_id).status == "paid"
               for r in db.session.scalars(select(Repayment)))
    assert books_are_clean() == [] and reconcile_all_days() == []


def test_a_collection_texts_each_borrower_per_installment_and_each_holder_once_a_day(world, monkeypatch):
    sent = texts_sent(monkeypatch)
    loans, investors = _loans(world)
    day = _first_due()
    sent.clear()
    assert collect(day, collect_ids(day))["repaid"] == 3
    assert sum("we collected" in text for text in sent) == 3  # each borrower, per installment
    assert not any("loan settlement" in text for text in sent)  # no money_moved text per batch entry
    run_step(day, "notices")
    assert sum("in repayments today" in text for text in sent) == len(investors)
    # a borrower paying on the site still gets the money_moved text of that movement
    sent.clear()
    later = db.session.scalars(select(Installment.due_date).where(Installment.number == 2)).first()
    repayment.repay_installment(loans[0].id, day=later)
    assert any("loan settlement" in text for text in sent)


def test_money_already_on_its_way_is_never_paid_a_second_time(world, monkeypatch):
    """A batch the bank has not answered: a prepayment of its loan is refused; and a loan with a
    prepayment under way is left out of the collection."""
    from core.lending.errors import Conflict

    loans, _ = _loans(world, count=2, funds=2_000_000)
    day = _first_due()
    bank = _bank(monkeypatch, ("pending",), times=1)
    assert collect(day, [loans[0].id]) == {"repaid": 0, "short": 0, "failed": 1}
    try:
        repayment.prepay(loans[0].id, day=day)
        raise AssertionError("a prepayment while the installment's money is on its way")
    except Conflict as exc:
        assert exc.code == "payment_under_way"
    # the other loan: its prepayment is under way (the bank has not answered), then the daily run comes
    bank.times, bank.answer = 1, ("pending",)
    assert repayment.prepay(loans[1].id, day=day).state == "pending"
    assert collect(day, [loans[1].id])["repaid"] == 0
    assert db.session.scalar(select(func.count(Repayment.id)).where(Repayment.loan_id == loans[1].id)) == 1
    bank.answer = None
    run_step(day + timedelta(days=1), "settle")
    states = dict(db.session.execute(select(Repayment.kind, Repayment.state)).all())
    assert states == {"installment": "done", "prepayment": "done"}
    assert books_are_clean() == [] and reconcile_all_days() == []
