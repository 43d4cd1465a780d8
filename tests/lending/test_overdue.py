"""Late installments: grace days, late fee, daily penalty, the reserve's advance where allowed, default,
write-off, collection notes, and the credit module told."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.extensions import db
from core.ledger.chart import account
from core.lending.daily import run_day
from core.lending.errors import LendingError
from core.lending.lifecycle import get_loan
from core.lending.models import Installment, LoanNotice
from core.lending.overdue import add_collection_note, reserve_may_pay
from core.tenancy.models import Tenant
from lending_support import books_are_clean, reconcile_all_days


def _first(loan):
    return db.session.scalars(select(Installment).where(Installment.loan_id == loan.id).order_by(Installment.number)).first()


@pytest.fixture
def late_loan(world, people):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=1_000_000, months=3)
    world.fund(loan, people.investors)
    from core.custody import service

    spent = account(f"user:{people.borrower.id}:available").posted_balance
    service.withdraw(people.borrower.id, spent, key="borrower-spends-it")  # the borrower spent the loan
    return get_loan(loan.id)


def _set_risk(tenant_id, **risk):
    tenant = db.session.get(Tenant, tenant_id)
    tenant.config = {**tenant.config, "risk": risk}
    db.session.commit()


def test_an_installment_is_overdue_after_the_grace_days_and_penalty_accrues_daily(world, late_loan, monkeypatch):
    from core.credit import grades

    told = []
    monkeypatch.setattr(grades, "repayment_changed", lambda key, history, **kw: told.append(history))
    inst = _first(late_loan)
    run_day(inst.due_date + timedelta(days=3))  # last grace day
    assert _first(late_loan).status == "due" and get_loan(late_loan.id).status == "repaying"
    run_day(inst.due_date + timedelta(days=4))
    inst = _first(late_loan)
    assert inst.status == "overdue" and inst.late_fee == 5000 and inst.overdue_since == inst.due_date + timedelta(days=4)
    daily = round((inst.principal + inst.interest) * 5 / 10000)
    assert inst.penalty == daily
    assert get_loan(late_loan.id).status == "overdue"
    run_day(inst.due_date + timedelta(days=7))  # three more days at once (a missed run catches up)
    assert _first(late_loan).penalty == daily * 4
    run_day(inst.due_date + timedelta(days=7))
    assert _first(late_loan).penalty == daily * 4
    assert told and told[0].late == 1 and told[0].overdue_now > 0
    assert db.session.scalar(select(LoanNotice.id).where(LoanNotice.event == "overdue")) is not None


def test_paying_late_settles_penalty_and_fee_and_the_loan_repays_again(world, people, late_loan):
    from core.lending.repayment import repay_installment

    inst = _first(late_loan)
    run_day(inst.due_date + timedelta(days=6))
    inst = _first(late_loan)
    world.deposit(people.borrower, inst.total_due)
    rep = repay_installment(late_loan.id)
    assert rep.state == "done" and rep.penalty == inst.penalty and rep.platform_fee >= inst.late_fee
    assert get_loan(late_loan.id).status == "repaying"
    assert books_are_clean() == [] and reconcile_all_days() == []


def test_the_reserve_pays_investors_where_the_tenant_allows_it_and_the_borrower_then_owes_it(world, people, late_loan):
    from core.lending.repayment import repay_installment

    _set_risk(world.tenant.id, reserve_pays_investors=True)
    assert reserve_may_pay(db.session.get(Tenant, world.tenant.id))
    from core.custody import service

    service.deposit("risk_reserve", 5_000_000, key="reserve-top-up")
    before = [account(f"user:{i.id}:available").posted_balance for i in people.investors]
    inst = _first(late_loan)
    run_day(inst.due_date + timedelta(days=4 + 28))
    assert _first(late_loan).advanced_on is None  # 29 days overdue: 30 needed
    run_day(inst.due_date + timedelta(days=4 + 29))
    inst = _first(late_loan)
    assert inst.advanced_on is not None and inst.status == "overdue"
    after = [account(f"user:{i.id}:available").posted_balance for i in people.investors]
    assert sum(after) - sum(before) == inst.principal + inst.interest - round(inst.interest / 10)
    loan = get_loan(late_loan.id)
    assert loan.owed_to_reserve == sum(after) - sum(before)
    world.deposit(people.borrower, inst.total_due)
    rep = repay_installment(loan.id)
    assert rep.to_reserve > 0 and get_loan(loan.id).owed_to_reserve == 0
    assert [account(f"user:{i.id}:available").posted_balance for i in people.investors] == after
    assert books_are_clean() == [] and reconcile_all_days() == []


def test_under_cn_2016_the_reserve_never_pays_investors(world, late_loan):
    tenant = db.session.get(Tenant, world.tenant.id)
    tenant.config = {**tenant.config, "compliance": "cn-2016", "risk": {"reserve_pays_investors": True}}
    db.session.commit()
    assert not reserve_may_pay(tenant)
    inst = _first(late_loan)
    result = run_day(inst.due_date + timedelta(days=60))
    assert result["reserve"]["forbidden"] >= 1 and _first(late_loan).advanced_on is None


def test_default_then_write_off_after_the_products_limits(world, late_loan):
    inst = _first(late_loan)
    run_day(inst.due_date + timedelta(days=4 + 88))
    assert get_loan(late_loan.id).status == "overdue"
    run_day(inst.due_date + timedelta(days=4 + 89))
    assert get_loan(late_loan.id).status == "defaulted"
    run_day(inst.due_date + timedelta(days=4 + 179))
    loan = get_loan(late_loan.id)
    assert loan.status == "written_off"
    assert {i.status for i in loan.installments} == {"written_off"}


def test_staff_write_collection_notes_on_overdue_loans(world, people, late_loan):
    from core.audit.models import AuditRecord

    with pytest.raises(LendingError):
        add_collection_note(late_loan.id, people.risk, status="contacted", note="Called the borrower")
    run_day(_first(late_loan).due_date + timedelta(days=5))
    note = add_collection_note(late_loan.id, people.risk, status="promised", note="Promised to pay on Friday")
    assert note.id and get_loan(late_loan.id).collection_status == "promised"
    assert db.session.scalar(select(AuditRecord.event).where(AuditRecord.event == "loan.collection_note"))
